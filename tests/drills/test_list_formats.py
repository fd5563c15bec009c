"""The drill list and the action list download as CSV and XLSX; any other ?format= shows the
page with its pager, as a report page does, instead of failing."""

import pytest

from drills.models import Drill
from tests.conftest import post_form


@pytest.mark.parametrize("path", ["/drills", "/actions"])
@pytest.mark.parametrize("fmt", ["pdf", "doc", ""])
def test_a_format_the_list_does_not_serve_shows_the_page(make_unit, make_user, login, path, fmt):
    daye = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", daye)
    client = login("clerk1")
    post_form(
        client,
        "/drills/new",
        {
            "title": "防汛实战大练兵",
            "kind": "field_exercise",
            "held_on": "2022-08-10",
            "lead_unit": "DAYE",
            "finding-0": "救援绳使用不熟练",
            "owner-0": "clerk1",
            "due-0": "2022-09-30",
            "element-0": "training",
        },
    )
    r = client.get(f"{path}?format={fmt}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "防汛实战大练兵" in page or "救援绳使用不熟练" in page
    assert "共 1 " in page  # the pager's total, as on the plain page


def test_the_drill_list_still_downloads(make_unit, make_user, login, session):
    daye = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", daye)
    client = login("clerk1")
    post_form(
        client,
        "/drills/new",
        {"title": "防汛演练", "kind": "tabletop", "held_on": "2022-08-10", "lead_unit": "DAYE"},
    )
    assert session.query(Drill).count() == 1
    # buffered: a streamed download holds its transaction until read to the end and closed
    assert client.get("/drills?format=csv", buffered=True).mimetype == "text/csv"
    xlsx = client.get("/drills?format=xlsx", buffered=True)
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")

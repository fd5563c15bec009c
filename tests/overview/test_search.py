"""The header's search: a unit, item, person, drill or shelter site by name or code, only
within the searcher's reach; a label code opens its scan page."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from drills import records
from inventory.models import Position
from labels import services as lab
from readiness.permissions import SYSTEM
from shelters import sites

HEADER_BOX = 'class="header-search"'


@pytest.fixture
def bureaus(session, make_unit, make_user, make_item, stock):
    """Two bureaus side by side: Dengfeng (a station with a labelled stock position, a drill)
    and Wenling (a town with a shelter site, a drill, a labelled position)."""

    def position(unit):
        return session.scalar(select(Position).where(Position.unit_id == unit.id))

    df = make_unit("DF", name="登封市公安局", kind="bureau", parent=None)
    daye = make_unit("DF-DAYE", name="大冶派出所", parent=df)
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    st = make_unit("WL-ST", name="石塘镇", kind="town", parent=wl)
    jacket = make_item("LJ", name="救生衣")
    stock(daye, jacket, 5)
    stock(st, jacket, 3)
    users = {
        "df_cmd": make_user("dfcmd", "command", df, name="王敏"),
        "df_clerk": make_user("dfclerk", "clerk", daye, name="陈刚"),
        "wl_cmd": make_user("wlcmd", "command", wl, name="周敏"),
        "wl_clerk": make_user("wlclerk", "clerk", st, name="林洁"),
        "admin": make_user("root", "admin", df, name="系统管理员"),
    }
    for unit, clerk, title in (
        (daye, "df_clerk", "大冶防汛演练"),
        (st, "wl_clerk", "石塘防汛演练"),
    ):
        records.create_drill(
            session,
            title=title,
            kind="flood_drill",
            held_on=date(2025, 7, 1),
            lead_unit=unit,
            actor=users[clerk],
            today=date(2025, 8, 1),
        )
    sites.create_shelter(
        session,
        sites.ShelterInput(
            name="石塘文化礼堂", town=st, villages=[], level="village", capacity=100
        ),
        actor=SYSTEM,
    )
    labels = {
        key: lab.label_for_position(session, position(unit)).code
        for key, unit in (("df", daye), ("wl", st))
    }
    session.commit()
    return {**users, "labels": labels}


def found(client, q: str) -> str:
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_header_of_every_page_holds_the_search_box(client, login, bureaus):
    login("dfclerk")
    page = client.get("/").get_data(as_text=True)
    assert HEADER_BOX in page and 'action="/search"' in page


def test_a_unit_is_found_by_name_or_code_within_the_bureau_only(client, login, bureaus):
    login("dfcmd")
    assert "/units/DF-DAYE" in found(client, "大冶")
    assert "/units/DF-DAYE" in found(client, "df-daye")
    page = found(client, "WL")
    assert "温岭市应急管理局" not in page and "石塘镇" not in page
    assert "没有与“WL”相符" in page
    page = found(client, "石塘")
    assert "石塘镇" not in page and "石塘文化礼堂" not in page and "没有与“石塘”相符" in page


def test_another_bureaus_command_finds_nothing_of_dengfeng(client, login, bureaus):
    login("wlcmd")
    page = found(client, "大冶")
    assert "大冶派出所" not in page and "大冶防汛演练" not in page and "陈刚" not in page
    page = found(client, "石塘")
    assert "/units/WL-ST" in page and "石塘防汛演练" in page and "石塘文化礼堂" in page


def test_people_drills_sites_and_items_are_found(client, login, bureaus):
    login("wlcmd")
    assert "/users/" in found(client, "林洁")
    assert "/users/" in found(client, "wlclerk")
    assert "/drills/" in found(client, "防汛演练")
    assert "/shelters/sites/" in found(client, "文化礼堂")
    assert "救生衣" in found(client, "LJ")


def test_a_found_item_leads_to_the_catalog_searched_for_it(client, login, bureaus, make_item):
    """An item found opens the catalog searched for its code (the list reads ?q=), showing
    that item alone."""
    make_item("LB", name="救生圈")
    login("wlcmd")
    page = found(client, "救生")
    assert 'href="/items?q=LJ"' in page and 'href="/items?q=LB"' in page
    items = client.get("/items?q=LJ").get_data(as_text=True)
    assert "救生衣" in items and "救生圈" not in items


def test_a_clerk_finds_no_people_and_no_unit_above_their_own(client, login, bureaus):
    login("dfclerk")
    page = found(client, "DF")
    assert "/units/DF-DAYE" in page and '/units/DF"' not in page
    assert "/users/" not in found(client, "陈刚")


def test_a_label_code_opens_its_scan_page(client, login, bureaus):
    login("dfclerk")
    code = bureaus["labels"]["df"]
    response = client.get("/search", query_string={"q": code.lower()})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/l/{code}"
    # a scanned label's address, typed by a hand scanner into the box, too
    response = client.get("/search", query_string={"q": f"http://localhost/l/{code}"})
    assert response.headers["Location"] == f"/l/{code}"


def test_another_bureaus_label_is_not_found(client, login, bureaus):
    login("dfcmd")
    code = bureaus["labels"]["wl"]
    response = client.get("/search", query_string={"q": code})
    assert response.status_code == 200
    assert "没有与" in response.get_data(as_text=True)


def test_the_administrator_finds_units_and_people_but_no_stock_drills_or_sites(
    client, login, bureaus
):
    login("root")
    assert "/units/WL-ST" in found(client, "石塘")
    page = found(client, "石塘")
    assert "/drills/" not in page and "/shelters/sites/" not in page
    response = client.get("/search", query_string={"q": bureaus["labels"]["df"]})
    assert response.status_code == 200  # no scan page for the administrator


def test_an_empty_or_odd_search_answers_the_page(client, login, bureaus):
    login("dfcmd")
    assert "输入名称或代码的一部分" in found(client, "   ")
    found(client, "%_\\'\"<script>" + "x" * 500)

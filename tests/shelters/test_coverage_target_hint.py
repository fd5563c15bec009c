"""The coverage target's hint and its refusal say the same thing, in both boxes and both
languages (issue 22: the hint said "百分数，如 60" while the error asked for a fraction)."""

import re
from html import unescape

import pytest

from tests.conftest import post_form
from tests.shelters.test_coverage import sites  # noqa: F401  (fixture)


def _hints(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'<p class="hint">(.*?)</p>', html)]


def _errors(html: str) -> list[str]:
    return [unescape(e) for e in re.findall(r'<p class="error"[^>]*>(.*?)</p>', html)]


@pytest.mark.usefixtures("sites")
@pytest.mark.parametrize(
    "lang, hint",
    [
        ("zh", "百分数（如 60 或 60%），或 0 到 1 之间的小数（如 0.6）"),
        ("en", "a percentage (60 or 60%) or a fraction between 0 and 1 (0.6)"),
    ],
)
def test_the_hint_and_the_error_of_both_target_boxes_agree(login, client, lang, hint):
    login("cmd1")
    post_form(client, "/language", {"lang": lang, "next": "/"})
    # the box that only recomputes the page
    html = client.get("/shelters/?target=六十").get_data(as_text=True)
    assert len([h for h in _hints(html) if hint in h]) == 2  # the query box and the unit's
    [error] = _errors(html)
    assert hint in error and 'value="六十"' in html
    # the box that saves the unit's target: refused, the same words, the typed value kept
    response = post_form(client, "/shelters/target", {"target": "百分之六十"})
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 422)
    assert any(hint in h for h in _hints(html))
    [error] = _errors(html)
    assert hint in error and 'value="百分之六十"' in html
    # and both forms the hint names are taken
    for typed in ("60", "60%", "0.6"):
        html = client.get(f"/shelters/?target={typed}").get_data(as_text=True)
        assert not _errors(html) and ("60%" in html)

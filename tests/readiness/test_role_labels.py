"""A clerk is named by the kind of their unit: a station's duty officer is a police officer,
a town's clerk or a shelter site's manager is not."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from readiness.models import role_label


@pytest.mark.parametrize(
    ("role", "kind", "zh", "en"),
    [
        ("clerk", "station", "值班民警（本单位登记）", "Duty officer (records for own unit)"),
        (
            "clerk",
            "town",
            "乡镇应急办工作人员（本单位登记）",
            "Town emergency office staff (records for own unit)",
        ),
        (
            "clerk",
            "shelter",
            "安置场所管理员（本单位登记）",
            "Shelter site manager (records for own unit)",
        ),
        (
            "clerk",
            "warehouse",
            "仓库工作人员（本单位登记）",
            "Warehouse staff (records for own unit)",
        ),
        ("clerk", None, "本单位登记员", "Clerk (records for own unit)"),
        ("keeper", "town", "仓库保管员", None),  # only the clerk's name depends on the unit
    ],
)
def test_the_clerk_role_reads_by_the_kind_of_unit(app, role, kind, zh, en):
    with app.test_request_context():
        assert role_label(role, kind) == zh
        if en:
            with force_locale("en"):
                assert role_label(role, kind) == en


def test_a_town_clerk_is_not_labelled_a_police_officer_anywhere(make_unit, make_user, login):
    bureau = make_unit("DF", name="登封市应急管理局", kind="bureau")
    town = make_unit("SHITANG", name="石塘镇", kind="town", parent=bureau)
    station = make_unit("DAYE", name="大冶派出所", parent=bureau)
    shitang = make_user("shitang", "clerk", town)
    make_user("daye", "clerk", station)
    make_user("boss", "command", bureau)
    make_user("root", "admin", None)

    header = login("shitang").get("/").get_data(as_text=True)
    assert 'title="乡镇应急办工作人员（本单位登记）"' in header
    assert "值班民警" not in header

    users = login("root").get("/users").get_data(as_text=True)
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*shitang(?:(?!</tr>).)*</tr>", users, re.S).group(0)
    assert "乡镇应急办工作人员（本单位登记）" in row and "值班民警" not in row
    assert "值班民警（本单位登记）" in users  # the station's clerk

    handover = login("boss").get(f"/users/{shitang.id}/handover").get_data(as_text=True)
    assert "乡镇应急办工作人员（本单位登记）" in handover
    english = login("root").get(f"/users/{shitang.id}?lang=en").get_data(as_text=True)
    assert "Town emergency office staff (records for own unit)" in english

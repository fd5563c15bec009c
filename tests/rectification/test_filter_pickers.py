"""Lists of corrective actions are filtered by unit and by person chosen by name, not by
typing internal ids ("DAYE", "chen"), while old query strings keep working (issue 22)."""

import re

from tests.rectification.test_list import world  # noqa: F401  (fixture)


def _select(page: str, select_id: str) -> str:
    found = re.search(
        rf'<select id="{select_id}" name="[^"]+" data-picker>.*?</select>', page, re.S
    )
    assert found, f"no searchable select #{select_id}"
    return found.group(0)


def _options(select: str) -> list[tuple[str, str]]:
    return [
        (value, label.replace("\u00a0", " ").strip())
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    ]


def test_the_rectification_list_offers_the_units_in_reach_by_name(world, client, login):  # noqa: F811
    login("insp1")
    page = client.get("/rectification").get_data(as_text=True)
    units = _options(_select(page, "unit"))
    assert units == [
        ("", "全部"),
        ("DAYE", "大冶派出所 (DAYE)"),
        ("DF", "登封市公安局 (DF)"),
        ("LUDIAN", "卢店派出所 (LUDIAN)"),
    ]
    assert 'name="unit" value=' not in page  # no free-text box for a code
    # the old query value still filters, and is shown chosen by its name
    page = client.get("/rectification?unit=DAYE").get_data(as_text=True)
    assert '<option value="DAYE" selected>' in _select(page, "unit")
    assert "卢店冲锋舟未检修" not in page and "应急物资台账缺失" in page


def test_a_clerk_is_offered_only_their_own_unit(world, client, login):  # noqa: F811
    login("chen")
    page = client.get("/visits").get_data(as_text=True)
    assert _options(_select(page, "unit")) == [("", "全部"), ("DAYE", "大冶派出所 (DAYE)")]


def test_the_visits_list_shows_the_unit_filtered_by_chosen_by_name(world, client, login):  # noqa: F811
    login("insp1")
    page = client.get("/visits?unit=DAYE").get_data(as_text=True)
    assert '<option value="DAYE" selected>' in _select(page, "unit")


def test_a_closed_unit_asked_for_stays_shown_chosen(world, client, login, make_unit, session):  # noqa: F811
    closed = make_unit("OLD", name="原城关派出所", parent=world["df"])
    closed.is_active = False
    session.commit()
    login("insp1")
    page = client.get("/visits?unit=OLD").get_data(as_text=True)
    select = _select(page, "unit")
    assert '<option value="OLD" selected>OLD</option>' in select  # not silently dropped
    assert "原城关派出所" not in select  # a closed unit is not offered


def test_the_actions_list_filters_by_owner_and_unit_by_name(world, client, login):  # noqa: F811
    login("insp1")
    page = client.get("/actions?owner=chen&unit=DAYE").get_data(as_text=True)
    owner = re.search(r'<option value="chen" selected>([^<]*)</option>', _select(page, "owner"))
    assert owner and "陈刚" in owner.group(1)
    assert '<option value="DAYE" selected>' in _select(page, "unit")
    assert "应急物资台账缺失" in page and "卢店冲锋舟未检修" not in page

"""The home page is a dashboard: what is short, late or waiting, each linked to its report."""

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from drills import records, requirements
from inventory import allocations as alloc
from inventory import catalog, counts, standard
from inventory.shortfall import shortfall
from inventory.stock import expiring_lots
from overview import dashboard
from readiness import services
from readiness.extensions import db
from readiness.permissions import SYSTEM, unit_ids_below
from rectification import actions
from shelters import coverage, inspections, places, sites
from shelters.models import CHECKLIST

TODAY = date.today()
TARGET = Decimal("0.6")


@pytest.fixture
def area(session, make_unit, make_item, make_user, stock):
    """A bureau with two stations below standard, a warehouse, a town with five villages."""
    hq = make_unit("HQ", name="市局", kind="bureau", headcount=100)
    daye = make_unit("DAYE", name="大冶派出所", parent=hq, headcount=10)
    baiping = make_unit("BAIPING", name="白坪派出所", parent=hq, headcount=10)
    wh = make_unit("WH", name="中心仓库", kind="warehouse", parent=hq, headcount=4)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    tape = make_item("TAPE", name="警戒带", uom="盘", unit_cost="30.00")
    people = {
        "cmd": make_user("cmd1", "command", hq, name="王敏"),
        "cmd2": make_user("cmd2", "command", hq),
        "insp": make_user("insp1", "inspector", hq),
        "admin": make_user("root", "admin", hq),
        "clerk": make_user("clerk1", "clerk", daye, name="陈刚"),
        "clerk2": make_user("clerk2", "clerk", baiping, name="李明"),
        "keeper": make_user("keeper1", "keeper", wh),
    }
    standard.publish_standard(
        session,
        effective_from=TODAY - timedelta(days=365),
        actor=people["cmd"],
        lines=[
            standard.StandardLineInput("station", "LJ", "0", "1"),  # 10 per station
            standard.StandardLineInput("station", "TAPE", "5", "0"),
        ],
    )
    session.commit()
    stock(daye, jackets, 2)  # 2 / 10: red
    stock(daye, tape, 5)
    stock(baiping, jackets, 7)  # 7 / 10: amber; tape 0 / 5: red
    stock(wh, jackets, 40, lot_code="LJ-A", expires_on=TODAY + timedelta(days=30))
    stock(wh, tape, 20, lot_code="TP-OLD", expires_on=TODAY + timedelta(days=200))
    stock(
        wh,
        tape,
        3,
        lot_code="TP-X",
        expires_on=TODAY - timedelta(days=5),
        today=TODAY - timedelta(days=60),
    )
    # 大冶 is counted; 白坪 and the warehouse never were, so they are overdue
    count = counts.start_count(session, daye, actor=people["clerk"])
    for line in list(count.lines):
        counts.enter_count(session, count, line.item, line.lot, line.book, actor=people["clerk"])
    counts.submit_count(session, count, actor=people["clerk"])
    counts.approve_count(session, count, actor=people["cmd"])
    session.commit()
    # a request waiting for approval, and an emergency sent before anyone approved it
    alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=daye,
        lines=[alloc.LineInput("LJ", 5)],
        reason="汛期前补齐救生衣",
        actor=people["clerk"],
    )
    urgent = alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=baiping,
        lines=[alloc.LineInput("TAPE", 4)],
        reason="暴雨封路",
        emergency=True,
        actor=people["cmd"],
    )
    session.commit()
    alloc.dispatch_allocation(session, urgent, actor=people["keeper"])
    session.commit()
    # 白坪's drill found a problem whose action is past due; monthly drills are required
    requirements.set_requirements(
        session,
        [requirements.RequirementInput("station", "field_exercise", per_year=12)],
        actor=people["cmd"],
    )
    records.create_drill(
        session,
        title="防汛演练",
        kind="flood_drill",
        held_on=TODAY - timedelta(days=40),
        lead_unit=baiping,
        participants=12,
        duration_minutes=60,
        findings=[
            records.FindingInput(
                "救生衣数量不足",
                owner=people["clerk2"],
                due_on=TODAY - timedelta(days=10),
                element="equipment",
            )
        ],
        actor=people["clerk2"],
    )
    session.commit()
    town = places.save_town(
        session,
        code="CB",
        name="城北街道",
        parent=hq,
        villages=[places.VillageInput(f"村{n}", 1000, 100) for n in range(1, 6)],
        actor=SYSTEM,
    ).town
    session.commit()
    villages = places.villages_of(session, town)
    site = sites.create_shelter(
        session,
        sites.ShelterInput(
            name="文化礼堂",
            town=town,
            capacity=500,
            is_standardized=True,
            standardized_on=TODAY - timedelta(days=400),
            villages=villages[:2],
        ),
        actor=SYSTEM,
    )
    # on the system since its acceptance: an inspection may not predate the registration
    site.created_at = datetime.combine(TODAY - timedelta(days=400), time(12), UTC)
    session.commit()
    inspections.record_inspection(
        session,
        site,
        inspected_on=TODAY - timedelta(days=3),
        checklist=dict.fromkeys(CHECKLIST, "pass"),
        defects=[inspections.DefectInput("疏散指示牌缺失")],
        actor=people["cmd"],
    )
    session.commit()
    return {"hq": hq, "daye": daye, "baiping": baiping, "wh": wh, "town": town, **people}


def page_of(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def tile(page: str, name: str) -> tuple[str, str]:
    """(href, value) of a dashboard tile."""
    m = re.search(
        rf'<a class="tile[^"]*" id="tile-{name}" href="([^"]*)">.*?data-value="([^"]*)"',
        page,
        re.S,
    )
    assert m, f"no tile {name}"
    return html.unescape(m.group(1)), html.unescape(m.group(2))


def tiles(page: str) -> set[str]:
    return set(re.findall(r'id="tile-([a-z-]+)"', page))


def expected_figures(session, unit_ids):
    """The dashboard's figures, computed from the services behind each report."""
    report = shortfall(session, unit_ids=unit_ids)
    due = counts.counts_due(session, unit_ids, today=TODAY)
    lots = expiring_lots(session, unit_ids, today=TODAY, within_days=90)
    rows = requirements.compliance(session, TODAY.year, unit_ids=unit_ids, today=TODAY)
    overdue_actions = session.scalars(
        actions.actions_query(unit_ids=unit_ids, overdue_on=TODAY)
    ).all()
    cover = coverage.coverage(session, TARGET, unit_ids=unit_ids)
    attention = session.scalars(sites.attention_query(unit_ids)).all()
    return {
        "units-below": str(report.units_below),
        "budget": str(report.budget_total),
        "counts": str(sum(d.overdue for d in due)),
        "expiry": str(sum(1 for r in lots if r.days_left > 0)),
        "drills": str(sum(r.status == "overdue" for r in rows)),
        "actions": str(len(overdue_actions)),
        "needed": str(cover.needed),
        "attention": str(len(attention)),
    }


def test_command_sees_the_whole_area_figures_as_the_reports_compute_them(session, area, login):
    page = page_of(login("cmd1"))
    expected = expected_figures(session, None)
    for name, value in expected.items():
        assert tile(page, name)[1] == value, name
    # and what those figures are for this data set
    assert tile(page, "units-below")[1] == "2"
    # 大冶 lacks 8 jackets, 白坪 3 jackets and 1 tape (4 of its 5 are on the way)
    assert Decimal(tile(page, "budget")[1]) == 120 * 8 + 120 * 3 + 30 * 1
    assert "¥1,350.00" in page
    assert tile(page, "awaiting")[1] == "1"
    assert tile(page, "emergency")[1] == "1"
    assert tile(page, "counts")[1] == "2"  # 白坪 and the warehouse (the town's site holds none)
    assert tile(page, "expiry")[1] == "1" and "已过期 1" in page
    assert tile(page, "actions")[1] == "1"
    if date(TODAY.year, 2, 1) < TODAY:  # monthly drills: everyone is late by February
        assert int(tile(page, "drills")[1]) >= 2
    assert tile(page, "coverage")[1] == "40.0%"
    assert tile(page, "needed")[1] == "1"
    assert tile(page, "attention")[1] == "1"
    # units by band: 大冶 (2/10) and 白坪 (0/5 tape) are red, nobody amber or green
    assert re.search(r'id="band-red">2<', page) and re.search(r'id="band-amber">0<', page)
    assert "<svg" in page and "http" not in re.sub(r'href="/[^"]*"', "", page.split("<main")[1])


def test_the_worst_gaps_are_listed_worst_first_with_on_hand_and_required(session, area, login):
    page = page_of(login("cmd1"))
    table = page.split('id="worst-gaps"')[1].split("</table>")[0]
    rows = re.findall(r'data-unit="([^"]+)" data-item="([^"]+)"', table)
    ranked = [(r.unit.code, r.item.code) for r in shortfall(session).rows if r.gap > 0]
    assert rows == ranked[: dashboard.WORST_GAPS]
    assert rows[0] == ("BAIPING", "TAPE")  # 0 of 5
    first = table.split("<tr")[2]
    assert '<span class="on-hand">0</span> / <span class="required">5</span>' in first
    assert html.unescape(re.search(r'href="([^"]+)">警戒带', first).group(1)) == (
        "/reports/shortfall?unit=BAIPING&item=TAPE"
    )


def test_every_tile_links_to_the_report_behind_it(area, login):
    page = page_of(login("cmd1"))
    year = TODAY.year
    assert {name: tile(page, name)[0] for name in tiles(page)} == {
        "units-below": "/reports/shortfall",
        "budget": "/reports/shortfall",
        "awaiting": "/allocations",
        "emergency": "/allocations",
        "counts": "/counts",
        "maintenance": "/maintenance",
        "expiry": "/reports/expiry?days=90",
        "drills": f"/drills/compliance?year={year}",
        "actions": "/actions?overdue=1",
        "coverage": "/shelters/",
        "needed": "/shelters/#uncovered",
        "attention": "/shelters/sites?attention=1",
    }
    client = login("cmd1")
    for name in tiles(page):
        assert client.get(tile(page, name)[0].split("#")[0]).status_code == 200, name
    assert 'href="/shelters/?unit=CB"' in page  # the town's coverage bar


def test_a_station_clerk_sees_only_their_own_unit(session, area, login):
    page = page_of(login("clerk1"))
    scope = services.visible_unit_ids(session, area["clerk"])
    assert scope == {area["daye"].id}
    for name, value in expected_figures(session, scope).items():
        if name in tiles(page):
            assert tile(page, name)[1] == value, name
    assert tile(page, "units-below")[1] == "1"
    assert tile(page, "counts")[1] == "0"  # counted, unlike 白坪
    assert tile(page, "awaiting")[1] == "1"  # their own request
    assert tile(page, "emergency")[1] == "0"  # 白坪's, not theirs
    assert tile(page, "actions")[1] == "0"
    assert "白坪派出所" not in page and "警戒带" not in page
    assert "大冶派出所" in page
    # no towns in reach: no shelter tiles
    assert not {"coverage", "needed", "attention"} & tiles(page)


def test_an_admin_gets_a_plain_home_without_report_tiles(area, login):
    page = page_of(login("root"))
    assert tiles(page) == set()
    assert "<svg" not in page
    steps = page.split("接下来要做的")[1]
    for path in ("/users", "/units"):
        assert f'href="{path}"' in steps


def test_an_inspector_sees_the_whole_area_too(session, area, login):
    page = page_of(login("insp1"))
    for name, value in expected_figures(session, None).items():
        assert tile(page, name)[1] == value, name
    assert "接下来要做的" in page


def test_the_figures_take_the_same_queries_however_many_units(
    session, area, make_unit, make_item, stock
):
    def statements() -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            session.expire_all()
            dashboard.gather(session, area["cmd"], today=TODAY, shelter_target=TARGET)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    before = statements()
    jackets = catalog.get_item(session, "LJ")
    for n in range(6):
        unit = make_unit(f"S{n}", parent=area["hq"])
        stock(unit, jackets, n + 1)
    assert statements() == before


def test_the_demo_dashboard_renders_for_every_demo_user(session, client):
    from readiness import demo
    from tests.conftest import post_form

    demo.load(session)
    session.commit()
    for username, *_ in demo.DEMO_USERS:
        post_form(client, "/login", {"username": username, "password": demo.DEMO_PASSWORD})
        page = page_of(client)
        user = services.get_user(session, username)
        if user.role == "admin":
            assert tiles(page) == set()
        else:
            scope = services.visible_unit_ids(session, user)
            board = dashboard.gather(session, user, today=TODAY, shelter_target=TARGET)
            assert tile(page, "units-below")[1] == str(board.stock.units_below)
            assert board.stock.units_below == shortfall(session, unit_ids=scope).units_below
        post_form(client, "/logout", {})


def test_a_bureau_dashboard_and_budget_hold_only_its_own_units(
    session, area, login, make_unit, make_user, stock
):
    """Another bureau's shortfall is not added into this bureau's budget for the finance
    bureau (the Dengfeng dashboard once summed Wenling's shelter supplies), and its command
    staff see only their own."""
    other = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    make_unit("WL-ST", name="石塘镇派出所", parent=other, headcount=10)
    boss = make_user("wl-cmd", "command", other)
    standard.publish_standard(
        session,
        effective_from=TODAY - timedelta(days=30),
        actor=boss,
        lines=[standard.StandardLineInput("station", "LJ", "5", "0")],
    )
    session.commit()
    hq = services.get_unit(session, "HQ")
    ours = services.visible_unit_ids(session, services.get_user(session, "cmd1"))
    theirs = services.visible_unit_ids(session, boss)
    assert ours == unit_ids_below(session, hq.id) and not ours & theirs
    everything = shortfall(session, unit_ids=None).budget_total
    for username, scope in (("cmd1", ours), ("wl-cmd", theirs)):
        page = page_of(login(username))
        budget = Decimal(tile(page, "budget")[1])
        assert budget == shortfall(session, unit_ids=scope).budget_total, username
        assert budget < everything, username
    assert "石塘镇派出所" not in page_of(login("cmd1"))
    assert "大冶派出所" not in page_of(login("wl-cmd"))


def test_the_dashboard_measures_coverage_against_the_bureaus_own_target(session, area, login):
    """The bureau sets its coverage target (80 %): the dashboard's tile and the villages still
    needed follow it, not the configured 60 %."""
    hq = services.get_unit(session, "HQ")
    before = page_of(login("cmd1"))
    assert "目标 60%" in before
    coverage.set_target(session, hq, "80", actor=services.get_user(session, "cmd1"))
    session.commit()
    page = page_of(login("cmd1"))
    assert "目标 80%" in page
    # 2 of 5 villages covered: 60 % needs 1 more, 80 % needs 2 more
    assert tile(before, "needed")[1] == "1" and tile(page, "needed")[1] == "2"

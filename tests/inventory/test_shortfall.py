"""The shortfall report: required vs on hand, expired apart, ranked, priced, transfers."""

from datetime import date, timedelta
from decimal import Decimal

from inventory import ledger, standard
from inventory.api import shortfall_answer
from inventory.shortfall import shortfall
from readiness.permissions import SYSTEM

TODAY = date.today()


def publish(session, effective_from, lines):
    standard.publish_standard(
        session,
        effective_from=effective_from,
        lines=[standard.StandardLineInput(*line) for line in lines],
        actor=SYSTEM,
    )
    session.commit()


def rows_by_key(report):
    return {(r.unit.code, r.item.code): r for r in report.rows}


def test_the_seed_story(session, make_unit, make_item, stock):
    """大冶 has 6 life jackets for 28 officers; 君召 has no whistles at all."""
    bureau = make_unit("DF", kind="bureau", headcount=520)
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau, headcount=28)
    junzhao = make_unit("JUNZHAO", name="君召派出所", parent=bureau, headcount=14)
    warehouse = make_unit("WH", kind="warehouse", parent=bureau, headcount=6)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    make_item("WHISTLE", name="口哨", unit_cost="5.50")
    publish(
        session,
        date(2022, 1, 1),
        [
            ("station", "LJ", "2", "1"),  # 28 officers → 30; 14 → 16
            ("station", "WHISTLE", "0", "1"),  # one each
        ],
    )
    stock(daye, jackets, 6)
    stock(junzhao, jackets, 16)
    stock(warehouse, jackets, 10)
    report = shortfall(session, today=TODAY)
    rows = rows_by_key(report)
    daye_lj = rows[("DAYE", "LJ")]
    assert (daye_lj.required, daye_lj.on_hand, daye_lj.gap, daye_lj.uncovered) == (30, 6, 24, 24)
    assert round(daye_lj.coverage, 2) == 0.2 and daye_lj.band == "red"
    assert rows[("JUNZHAO", "WHISTLE")].on_hand == 0
    assert rows[("JUNZHAO", "LJ")].gap == 0 and rows[("JUNZHAO", "LJ")].band == "green"
    # Worst first: zero coverage before 20 %, 20 % before 100 %.
    order = [(r.unit.code, r.item.code) for r in report.rows]
    assert order.index(("JUNZHAO", "WHISTLE")) < order.index(("DAYE", "LJ"))
    assert order.index(("DAYE", "LJ")) < order.index(("JUNZHAO", "LJ"))
    assert order[-1] == ("JUNZHAO", "LJ")
    # The warehouse's 10 spare jackets go to 大冶 before anything is bought.
    assert [(t.source.code, t.target.code, t.item.code, t.qty) for t in report.transfers] == [
        ("WH", "DAYE", "LJ", 10),
    ]
    totals = {t.item.code: t for t in report.items}
    assert (totals["LJ"].gap, totals["LJ"].uncovered, totals["LJ"].cost) == (
        24,
        24,
        Decimal("2880.00"),
    )
    assert (totals["LJ"].to_buy, totals["LJ"].to_buy_cost) == (14, Decimal("1680.00"))
    assert totals["WHISTLE"].cost == Decimal("5.50") * (28 + 14)
    assert report.budget_total == Decimal("2880.00") + Decimal("231.00")
    body = shortfall_answer(report).model_dump(mode="json", by_alias=True)
    assert body["budget_total"] == "3111.00"
    assert body["transfers"] == [{"from": "WH", "to": "DAYE", "item": "LJ", "qty": 10}]
    assert body["rows"][0].keys() >= {
        "unit",
        "item",
        "required",
        "on_hand",
        "expired",
        "inbound",
        "gap",
        "uncovered",
        "coverage",
    }


def test_expired_lots_do_not_count_but_are_shown(session, make_unit, make_item, stock):
    station = make_unit("S", headcount=10)
    bags = make_item("SB", name="吸水沙袋")
    publish(session, date(2022, 1, 1), [("station", "SB", "0", "10")])
    stock(station, bags, 60, lot_code="NEW", expires_on=TODAY + timedelta(days=30))
    stock(station, bags, 40, lot_code="OLD", expires_on=TODAY - timedelta(days=1))
    row = shortfall(session, today=TODAY).rows[0]
    assert (row.required, row.on_hand, row.expired, row.gap) == (100, 60, 40, 40)


def test_a_donor_is_never_taken_below_its_own_standard(session, make_unit, make_item, stock):
    rich = make_unit("RICH", headcount=10)
    make_unit("POOR", headcount=10)
    item = make_item("LJ")
    publish(session, date(2022, 1, 1), [("station", "LJ", "0", "1")])
    stock(rich, item, 13)
    report = shortfall(session, today=TODAY)
    assert [(t.source.code, t.target.code, t.qty) for t in report.transfers] == [
        ("RICH", "POOR", 3)
    ]


def test_as_of_uses_the_standard_then_in_force_and_the_stock_then_held(
    session, make_unit, make_item, stock
):
    from sqlalchemy import update

    from inventory.models import Movement
    from readiness.db import utcnow

    station = make_unit("S", headcount=10)
    item = make_item("LJ")
    publish(session, date(2020, 1, 1), [("station", "LJ", "0", "1")])
    publish(session, TODAY - timedelta(days=5), [("station", "LJ", "0", "2")])
    stock(station, item, 4)
    # Pretend the receipt happened 30 days ago, and add one today.
    session.execute(update(Movement).values(at=utcnow() - timedelta(days=30)))
    session.commit()
    stock(station, item, 3)
    past = shortfall(session, as_of=TODAY - timedelta(days=10), today=TODAY).rows[0]
    now = shortfall(session, today=TODAY).rows[0]
    assert (past.required, past.on_hand) == (10, 4)
    assert (now.required, now.on_hand) == (20, 7)


def test_filters_by_subtree_category_and_item(session, make_unit, make_item, stock):
    a = make_unit("A", kind="bureau")
    a1 = make_unit("A1", parent=a)
    b1 = make_unit("B1")
    make_item("LJ", category="防汛")
    make_item("LAMP", category="照明")
    publish(session, date(2022, 1, 1), [("station", "LJ", "1", "0"), ("station", "LAMP", "1", "0")])
    from readiness.permissions import unit_ids_below

    units = {r.unit.code for r in shortfall(session, unit_ids=unit_ids_below(session, a.id)).rows}
    assert units == {"A1"}
    assert {r.item.code for r in shortfall(session, category="照明").rows} == {"LAMP"}
    assert {r.unit.code for r in shortfall(session, item_code="LJ").rows} == {"A1", "B1"}
    assert b1 and a1


def test_serial_items_count_only_pieces_in_service(session, make_unit, make_item, stock):
    station = make_unit("S", headcount=1)
    drone = make_item("UAV", tracking="serial")
    publish(session, date(2022, 1, 1), [("station", "UAV", "2", "0")])
    stock(station, drone, 2, serials=["U1", "U2"])
    from sqlalchemy import select

    from inventory.models import Asset

    asset = session.scalar(select(Asset).where(Asset.serial == "U2"))
    ledger.set_asset_status(session, asset, "under_repair", actor=SYSTEM)
    session.commit()
    row = shortfall(session, today=TODAY).rows[0]
    assert (row.required, row.on_hand, row.gap) == (2, 1, 1)


def test_no_standard_means_no_rows(session, make_unit, make_item, stock):
    unit = make_unit("S")
    stock(unit, make_item("LJ"), 5)
    report = shortfall(session, today=TODAY)
    assert report.rows == [] and report.version is None and report.budget_total == 0


def test_transfers_are_suggested_within_a_bureau_only(session, make_unit, make_item, stock):
    """Read from above two bureaus, a station short of jackets is offered its own bureau's
    spare, never the other bureau's warehouse (which a request could not use anyway)."""
    province = make_unit("PROV", kind="bureau", parent=None)
    ours = make_unit("DF", kind="bureau", parent=province)
    theirs = make_unit("WL", kind="bureau", parent=province)
    make_unit("DAYE", parent=ours, headcount=10)
    own_wh = make_unit("DF-WH", kind="warehouse", parent=ours)
    far_wh = make_unit("WL-WH", kind="warehouse", parent=theirs)
    item = make_item("LJ")
    publish(session, date(2022, 1, 1), [("station", "LJ", "0", "1")])
    stock(far_wh, item, 100)
    stock(own_wh, item, 4)
    report = shortfall(session, today=TODAY)
    assert [(t.source.code, t.target.code, t.qty) for t in report.transfers] == [
        ("DF-WH", "DAYE", 4)
    ]


def test_the_api_writes_exactly_what_the_answer_model_describes(
    session, make_unit, make_item, stock
):
    """The shortfall API writes its JSON straight from the report (issue 21, for speed): the
    same keys, order and values as the documented answer model, money as text, coverage
    rounded, transfers under "from"."""
    import json

    from inventory.api import shortfall_json

    bureau = make_unit("DF", kind="bureau", headcount=520)
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau, headcount=28)
    make_unit("JUNZHAO", name="君召派出所", parent=bureau, headcount=14)
    warehouse = make_unit("WH", kind="warehouse", parent=bureau, headcount=6)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.50")
    make_item("WHISTLE", name="口哨", unit_cost="5.55")
    publish(
        session,
        date(2022, 1, 1),
        [("station", "LJ", "2", "1.333"), ("station", "WHISTLE", "0", "1")],
    )
    stock(daye, jackets, 7)
    stock(warehouse, jackets, 12)
    report = shortfall(session, today=TODAY)
    assert report.rows and report.transfers
    by_model = shortfall_answer(report).model_dump_json(by_alias=True)
    assert json.loads(shortfall_json(report)) == json.loads(by_model)
    assert list(json.loads(shortfall_json(report))["rows"][0]) == list(
        json.loads(by_model)["rows"][0]
    )


def test_required_quantities_round_up_exactly_as_the_standard_page_does(
    session, make_unit, make_item
):
    """The report counts the standard's quantities in whole thousandths (issue 21, for
    speed): every requirement is still ceil(base + per officer × headcount), exactly as the
    standard's own formula gives it, including where binary floating point would not."""
    cases = [("0", "2.2", 25), ("0.333", "0.333", 3), ("1.5", "0.7", 10), ("2", "0.001", 999)]
    units = [make_unit(f"U{n}", headcount=hc) for n, (_, _, hc) in enumerate(cases)]
    for n, _ in enumerate(cases):
        make_item(f"I{n}")
    for n in range(len(cases)):
        # one kind per case, so that each unit is required one item
        units[n].kind = ("station", "squad", "brigade", "warehouse")[n]
    session.commit()
    publish(
        session,
        date(2022, 1, 1),
        [
            (("station", "squad", "brigade", "warehouse")[n], f"I{n}", base, per)
            for n, (base, per, _) in enumerate(cases)
        ],
    )
    rows = rows_by_key(shortfall(session, today=TODAY))
    for n, (base, per, headcount) in enumerate(cases):
        expected = standard.required_qty(Decimal(base), Decimal(per), headcount)
        assert rows[(f"U{n}", f"I{n}")].required == expected
    assert rows[("U0", "I0")].required == 55  # 2.2 × 25 is 55 (floating point: 55.000…01 → 56)
    assert rows[("U3", "I3")].required == 3  # 2 + 0.999 = 2.999 → 3

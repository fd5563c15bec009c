"""Inventory rules at the service level: catalog, standard, ledger, serial assets, counts."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from inventory import catalog, counts, standard
from inventory.ledger import InsufficientStock, record_movement, verify_balances
from inventory.models import Asset, Count, Item, Movement, Position
from inventory.stock import expiring_lots, stock_of_unit
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM

TODAY = date.today()


def count_rows(session, model):
    return session.scalar(select(func.count()).select_from(model))


def balance(session, unit, item, lot=None):
    pos = session.scalar(
        select(Position)
        .where(Position.unit_id == unit.id, Position.item_id == item.id)
        .where(Position.lot_id.is_(None) if lot is None else Position.lot_id == lot.id)
    )
    if pos is None:
        return 0
    session.refresh(pos)
    return pos.qty


# ---------------------------------------------------------------- pure calculations


@pytest.mark.parametrize(
    ("base", "per", "headcount", "expected"),
    [
        ("2", "1", 28, 30),
        ("0", "0.5", 15, 8),  # 7.5 rounds up: a half life jacket is a whole one
        ("1", "0.333", 3, 2),  # 1.999 → 2
        ("0", "0.1", 10, 1),  # exactly 1.0, no float drift to 2
        ("5", "0", 0, 5),
        ("0", "0", 40, 0),
    ],
)
def test_required_quantity_is_the_ceiling_of_base_plus_per_officer(base, per, headcount, expected):
    assert standard.required_qty(Decimal(base), Decimal(per), headcount) == expected


# ---------------------------------------------------------------- catalog


def test_item_catalog_rules(session, make_item):
    make_item("LJ", name="救生衣")
    with pytest.raises(Conflict):
        catalog.create_item(
            session,
            code="lj",
            name="x",
            category="c",
            uom="件",
            unit_cost="1",
            shelf_life_days=None,
            tracking="bulk",
            actor=SYSTEM,
        )
    session.rollback()
    bad = [
        ({"unit_cost": "-1"}, "unit_cost"),
        ({"unit_cost": "abc"}, "unit_cost"),
        ({"unit_cost": "1.005"}, "unit_cost"),
        ({"tracking": "weight"}, "tracking"),
        ({"shelf_life_days": 0}, "shelf_life_days"),
        ({"uom": ""}, "uom"),
        ({"code": "救生衣"}, "code"),
    ]
    for override, field in bad:
        args = dict(
            code="NEW",
            name="新",
            category="防汛",
            uom="件",
            unit_cost="10",
            shelf_life_days=None,
            tracking="bulk",
            **{},
        )
        args.update(override)
        with pytest.raises(DomainError) as err:
            catalog.create_item(session, actor=SYSTEM, **args)
        assert err.value.field == field
        session.rollback()
    assert count_rows(session, Item) == 1


def test_only_admins_edit_the_catalog(session, make_user):
    command = make_user("cmd", "command", None)
    with pytest.raises(PermissionDenied):
        catalog.create_item(
            session,
            code="X",
            name="x",
            category="c",
            uom="件",
            unit_cost="1",
            shelf_life_days=None,
            tracking="bulk",
            actor=command,
        )


# ---------------------------------------------------------------- standard


def _line(kind, item, base, per):
    return standard.StandardLineInput(kind, item.code, base, per)


def test_standard_versions_apply_by_effective_date(session, make_unit, make_item, make_user):
    command = make_user("cmd", "command", None)
    station = make_unit("DAYE", kind="station", headcount=28)
    jackets = make_item("LJ", name="救生衣")
    old = standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[_line("station", jackets, "2", "0.5")],
        actor=command,
    )
    new = standard.publish_standard(
        session,
        effective_from=date(2023, 1, 1),
        lines=[_line("station", jackets, "2", "1")],
        actor=command,
    )
    session.commit()
    assert standard.standard_as_of(session, date(2022, 6, 1), station).id == old.id
    assert standard.standard_as_of(session, date(2023, 6, 1), station).id == new.id
    assert standard.standard_as_of(session, date(2021, 6, 1), station) is None
    reqs = standard.requirements_for_unit(session, station, date(2022, 6, 1))
    assert [(r.item.code, r.formula_qty, r.required) for r in reqs] == [("LJ", 16, 16)]
    reqs = standard.requirements_for_unit(session, station, date(2023, 6, 1))
    assert reqs[0].required == 30


def test_override_replaces_the_formula_for_one_unit(session, make_unit, make_item, make_user):
    command = make_user("cmd", "command", None)
    station = make_unit("DAYE", headcount=28)
    jackets = make_item("LJ")
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[_line("station", jackets, "2", "1")],
        actor=command,
    )
    with pytest.raises(DomainError):
        standard.set_override(session, station, jackets, 50, reason="", actor=command)
    standard.set_override(session, station, jackets, 50, reason="临河，汛期加配", actor=command)
    session.commit()
    req = standard.requirements_for_unit(session, station, TODAY)[0]
    assert (req.formula_qty, req.required, req.override.reason) == (30, 50, "临河，汛期加配")
    standard.set_override(session, station, jackets, None, reason="", actor=command)
    assert standard.requirements_for_unit(session, station, TODAY)[0].required == 30


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("spaceship", "LJ", "1", "0")], "未知的单位类型"),
        ([("station", "NOPE", "1", "0")], "NOPE"),
        ([("station", "LJ", "-1", "0")], "不能为负数"),
        ([("station", "LJ", "x", "0")], "必须是数字"),
        ([("station", "LJ", "1", "0"), ("station", "LJ", "2", "0")], "重复"),
        ([], "至少要有一行"),
    ],
)
def test_bad_standard_is_refused_whole(session, make_item, make_user, lines, message):
    command = make_user("cmd", "command", None)
    make_item("LJ")
    before = count_rows(session, AuditEntry)
    with pytest.raises(DomainError) as err:
        standard.publish_standard(
            session,
            effective_from=TODAY,
            lines=[standard.StandardLineInput(*line) for line in lines],
            actor=command,
        )
    assert message in err.value.message
    session.rollback()
    assert standard.standard_as_of(session, TODAY) is None
    assert count_rows(session, AuditEntry) == before


def test_only_command_publishes_the_standard(session, make_item, make_user):
    make_item("LJ")
    for role in ("clerk", "keeper", "inspector", "admin"):
        user = make_user(f"u{role}", role)
        with pytest.raises(PermissionDenied):
            standard.publish_standard(
                session,
                effective_from=TODAY,
                lines=[standard.StandardLineInput("station", "LJ", "1", "0")],
                actor=user,
            )


# ---------------------------------------------------------------- ledger


def test_receipt_and_issue_move_the_balance_and_write_the_ledger(
    session, make_unit, make_item, make_user
):
    station = make_unit("DAYE")
    jackets = make_item("LJ", uom="件")
    clerk = make_user("clerk1", "clerk", station)
    r = record_movement(
        session, unit=station, item=jackets, kind="receipt", qty=10, actor=clerk, note="市局下发"
    )
    i = record_movement(session, unit=station, item=jackets, kind="issue", qty=4, actor=clerk)
    session.commit()
    assert (r.balance, i.balance) == (10, 6)
    assert balance(session, station, jackets) == 6
    ledger = session.scalars(select(Movement).order_by(Movement.id)).all()
    assert [(m.kind, m.qty, m.balance_after, m.actor_name) for m in ledger] == [
        ("receipt", 10, 10, "clerk1"),
        ("issue", -4, 6, "clerk1"),
    ]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "movement.issue")).one()
    assert entry.after["balance"] == 6


def test_an_issue_larger_than_the_balance_is_refused_and_nothing_changes(
    session, make_unit, make_item, stock
):
    station = make_unit("DAYE", name="大冶派出所")
    jackets = make_item("LJ", name="救生衣", uom="件")
    stock(station, jackets, 6)
    movements, audits = count_rows(session, Movement), count_rows(session, AuditEntry)
    with pytest.raises(InsufficientStock) as err:
        record_movement(session, unit=station, item=jackets, kind="issue", qty=7, actor=SYSTEM)
    assert err.value.message == "大冶派出所 的 救生衣 账面合计只有 6 件，不够出库 7 件。"
    assert err.value.status == 409
    session.rollback()
    assert balance(session, station, jackets) == 6
    assert count_rows(session, Movement) == movements
    assert count_rows(session, AuditEntry) == audits


def test_issuing_something_never_received_is_refused(session, make_unit, make_item):
    station = make_unit("JUNZHAO")
    whistles = make_item("WH", name="口哨")
    with pytest.raises(InsufficientStock):
        record_movement(session, unit=station, item=whistles, kind="issue", qty=1, actor=SYSTEM)


@pytest.mark.parametrize("qty", [0, -3, 2.5, "abc", "1e3", None, True, 10**7, "  "])
def test_bad_quantities_are_refused(session, make_unit, make_item, qty):
    station = make_unit("S")
    item = make_item("LJ")
    with pytest.raises(DomainError) as err:
        record_movement(session, unit=station, item=item, kind="receipt", qty=qty, actor=SYSTEM)
    assert err.value.field == "qty"
    session.rollback()
    assert count_rows(session, Movement) == 0


def test_the_database_refuses_a_negative_balance_even_past_the_service(
    session, make_unit, make_item, stock
):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    station = make_unit("S")
    item = make_item("LJ")
    stock(station, item, 2)
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE positions SET qty = -1"))
    session.rollback()
    assert balance(session, station, item) == 2


def test_write_off_needs_a_reason(session, make_unit, make_item, stock):
    station = make_unit("S")
    item = make_item("LJ")
    stock(station, item, 5)
    with pytest.raises(DomainError) as err:
        record_movement(session, unit=station, item=item, kind="write_off", qty=1, actor=SYSTEM)
    assert err.value.field == "reason"
    session.rollback()
    stock(station, item, 2, kind="write_off", reason="damaged", note="演练中损坏")
    assert balance(session, station, item) == 3


def test_lots_with_expiry_and_a_warning_for_an_already_expired_receipt(
    session, make_unit, make_item, stock
):
    station = make_unit("S")
    bags = make_item("SB", name="吸水沙袋", uom="个")
    good = stock(station, bags, 100, lot_code="L2025A", expires_on=TODAY + timedelta(days=400))
    assert good.warnings == []
    old = stock(station, bags, 20, lot_code="L2020", expires_on=TODAY - timedelta(days=3))
    assert len(old.warnings) == 1 and "已于" in old.warnings[0]
    # Issuing without naming a lot takes the earliest lot that has not expired.
    taken = record_movement(session, unit=station, item=bags, kind="issue", qty=1, actor=SYSTEM)
    assert [m.lot.code for m in taken.movements] == ["L2025A"]
    stock(station, bags, 30, kind="issue", lot_code="L2025A")
    rows = stock_of_unit(session, station, today=TODAY)
    assert [(r.position.lot.code, r.position.qty, r.expired) for r in rows] == [
        ("L2020", 20, True),
        ("L2025A", 69, False),
    ]
    with pytest.raises(DomainError):  # same lot, different expiry
        record_movement(
            session,
            unit=station,
            item=bags,
            kind="receipt",
            qty=1,
            lot_code="L2020",
            expires_on=TODAY,
            actor=SYSTEM,
        )


def test_a_clerk_writes_only_for_own_unit_and_below(session, make_unit, make_item, make_user):
    bureau = make_unit("B", kind="bureau")
    mine = make_unit("MINE", parent=bureau)
    other = make_unit("OTHER", parent=bureau)
    item = make_item("LJ")
    clerk = make_user("clerk1", "clerk", mine)
    record_movement(session, unit=mine, item=item, kind="receipt", qty=1, actor=clerk)
    for unit in (other, bureau):
        with pytest.raises(PermissionDenied):
            record_movement(session, unit=unit, item=item, kind="receipt", qty=1, actor=clerk)
    for role in ("command", "inspector", "admin"):
        with pytest.raises(PermissionDenied):
            record_movement(
                session,
                unit=mine,
                item=item,
                kind="receipt",
                qty=1,
                actor=make_user(f"x{role}", role),
            )


def test_a_double_submitted_form_writes_once(session, make_unit, make_item, stock):
    station = make_unit("S")
    item = make_item("LJ")
    first = stock(station, item, 5, request_key="form-abc")
    again = stock(station, item, 5, request_key="form-abc")
    assert again.replayed and again.movement.id == first.movement.id
    assert balance(session, station, item) == 5
    assert count_rows(session, Movement) == 1


def test_serial_items_are_registered_piece_by_piece(session, make_unit, make_item, stock):
    station = make_unit("S")
    other = make_unit("O")
    drone = make_item("DRONE", name="无人机", uom="架", tracking="serial")
    with pytest.raises(DomainError) as err:
        record_movement(
            session,
            unit=station,
            item=drone,
            kind="receipt",
            qty=2,
            serials=["UAV-1"],
            actor=SYSTEM,
        )
    assert err.value.field == "serials"
    session.rollback()
    stock(station, drone, 2, serials="UAV-1, UAV-2")
    with pytest.raises(Conflict):  # the same serial cannot be received twice
        record_movement(
            session, unit=other, item=drone, kind="receipt", qty=1, serials=["UAV-1"], actor=SYSTEM
        )
    session.rollback()
    with pytest.raises(DomainError):  # not on this unit's books
        record_movement(
            session, unit=other, item=drone, kind="issue", qty=1, serials=["UAV-2"], actor=SYSTEM
        )
    session.rollback()
    stock(station, drone, 1, kind="write_off", reason="damaged", serials=["UAV-2"])
    assets = {a.serial: (a.unit_id, a.status) for a in session.scalars(select(Asset))}
    assert assets == {"UAV-1": (station.id, "in_service"), "UAV-2": (None, "retired")}
    assert balance(session, station, drone) == 1


def test_verify_finds_a_balance_that_disagrees_with_the_ledger(
    session, make_unit, make_item, stock
):
    from sqlalchemy import text

    station = make_unit("S")
    item = make_item("LJ")
    stock(station, item, 5)
    stock(station, item, 2, kind="issue")
    assert verify_balances(session) == []
    session.execute(text("UPDATE positions SET qty = 9"))
    session.commit()
    [diff] = verify_balances(session)
    assert (diff.unit_code, diff.item_code, diff.balance, diff.ledger) == ("S", "LJ", 9, 3)


# ---------------------------------------------------------------- stocktakes


def test_count_snapshot_variance_and_approval_by_someone_else(
    session, make_unit, make_item, make_user, stock
):
    warehouse = make_unit("WH", kind="warehouse")
    keeper = make_user("keeper1", "keeper", warehouse)
    other_keeper = make_user("keeper2", "keeper", warehouse)
    jackets = make_item("LJ")
    tape = make_item("TAPE", uom="盘")
    stock(warehouse, jackets, 50)
    stock(warehouse, tape, 10)
    count = counts.start_count(session, warehouse, actor=keeper)
    stock(warehouse, jackets, 5, kind="issue")  # happens during the count
    counts.enter_count(session, count, jackets, None, 44, actor=keeper)
    counts.enter_count(session, count, tape, None, 10, actor=keeper)
    session.commit()
    with pytest.raises(Conflict):  # one running count per unit
        counts.start_count(session, warehouse, actor=keeper)
    session.rollback()
    counts.submit_count(session, count, actor=keeper)
    session.commit()
    lines = {ln.item.code: (ln.book, ln.counted, ln.variance) for ln in count.lines}
    assert lines == {"LJ": (50, 44, -6), "TAPE": (10, 10, 0)}
    with pytest.raises(PermissionDenied):
        counts.approve_count(session, count, actor=keeper)
    session.rollback()
    moves = counts.approve_count(session, count, actor=other_keeper)
    session.commit()
    assert [(m.kind, m.qty, m.document) for m in moves] == [("adjustment", -6, f"count:{count.id}")]
    assert balance(session, warehouse, jackets) == 39  # 50 − 5 issued − 6 missing
    assert balance(session, warehouse, tape) == 10
    with pytest.raises(Conflict):
        counts.approve_count(session, count, actor=other_keeper)
    assert verify_balances(session) == []


def test_a_clerk_cannot_approve_counts_and_command_can(
    session, make_unit, make_item, make_user, stock
):
    station = make_unit("S")
    clerk = make_user("clerk1", "clerk", station)
    clerk2 = make_user("clerk2", "clerk", station)
    command = make_user("cmd", "command", None)
    item = make_item("LJ")
    stock(station, item, 3)
    count = counts.start_count(session, station, actor=clerk)
    counts.enter_count(session, count, item, None, 5, actor=clerk)
    counts.submit_count(session, count, actor=clerk)
    with pytest.raises(PermissionDenied):
        counts.approve_count(session, count, actor=clerk2)
    session.rollback()
    counts.approve_count(session, count, actor=command)
    assert balance(session, station, item) == 5


@pytest.mark.parametrize("counted", [-3, "abc", 1.5])
def test_bad_counted_quantities(session, make_unit, make_item, make_user, counted):
    station = make_unit("S")
    clerk = make_user("clerk1", "clerk", station)
    item = make_item("LJ")
    count = counts.start_count(session, station, actor=clerk)
    session.commit()
    with pytest.raises(DomainError) as err:
        counts.enter_count(session, count, item, None, counted, actor=clerk)
    assert err.value.field == "counted"


def test_counts_due_flags_units_never_counted_or_past_their_interval(
    session, make_unit, make_item, make_user, stock
):
    station = make_unit("S", kind="station")
    warehouse = make_unit("WH", kind="warehouse")
    item = make_item("LJ")
    stock(station, item, 1)
    stock(warehouse, item, 1)
    keeper = make_user("k1", "keeper", warehouse)
    command = make_user("cmd", "command", None)
    count = counts.start_count(session, warehouse, actor=keeper)
    counts.enter_count(session, count, item, None, 1, actor=keeper)
    counts.submit_count(session, count, actor=keeper)
    counts.approve_count(session, count, actor=command)
    session.commit()
    due = {d.unit.code: d for d in counts.counts_due(session, None, today=TODAY)}
    assert due["S"].overdue and due["S"].last_counted_on is None
    assert not due["WH"].overdue and due["WH"].interval_days == 30
    later = {d.unit.code: d for d in counts.counts_due(session, None, today=TODAY + timedelta(31))}
    assert later["WH"].overdue


def test_expiring_lots_report(session, make_unit, make_item, stock):
    station = make_unit("S")
    bags = make_item("SB")
    stock(station, bags, 5, lot_code="A", expires_on=TODAY + timedelta(days=10))
    stock(station, bags, 5, lot_code="B", expires_on=TODAY + timedelta(days=200))
    stock(station, bags, 5, lot_code="C", expires_on=TODAY - timedelta(days=1))
    rows = expiring_lots(session, None, today=TODAY, within_days=90)
    assert [(r.position.lot.code, r.days_left) for r in rows] == [("C", -1), ("A", 10)]
    assert count_rows(session, Count) == 0


def test_inventory_verify_command(runner, session, make_unit, make_item, stock):
    from sqlalchemy import text

    station = make_unit("S")
    item = make_item("LJ")
    stock(station, item, 5)
    result = runner.invoke(args=["inventory", "verify"])
    assert result.exit_code == 0 and "ok" in result.output
    session.execute(text("UPDATE positions SET qty = 4"))
    session.commit()
    result = runner.invoke(args=["inventory", "verify"])
    assert result.exit_code == 1
    assert "MISMATCH S LJ: balance 4, ledger 5" in result.output

"""Allocation requests: approval rules, reservation, dispatch, receipt, emergencies."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory import allocations as alloc
from inventory import ledger, standard
from inventory.models import Allocation, Movement, Position
from inventory.shortfall import shortfall
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.extensions import db
from readiness.models import AuditEntry, Unit, User

THRESHOLD = Decimal("50000")


@pytest.fixture
def town(session, make_unit, make_item, make_user, stock):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    st = make_unit("DAYE", name="大冶派出所", headcount=28)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    boats = make_item("BOAT", name="冲锋舟", unit_cost="25000.00")
    stock(wh, jackets, 100)
    stock(wh, boats, 3)
    return {
        "wh": wh,
        "st": st,
        "jackets": jackets,
        "boats": boats,
        "clerk": make_user("clerk1", "clerk", st),
        "keeper": make_user("keeper1", "keeper", wh),
        "keeper2": make_user("keeper2", "keeper", wh),
        "cmd": make_user("cmd1", "command", None),
        "cmd2": make_user("cmd2", "command", None),
    }


def request(session, t, lines, *, actor=None, emergency=False, draft=False):
    a = alloc.create_allocation(
        session,
        from_unit=t["wh"],
        to_unit=t["st"],
        lines=[alloc.LineInput(code, qty) for code, qty in lines],
        reason="汛期前补齐救生衣",
        emergency=emergency,
        draft=draft,
        actor=actor or t["clerk"],
    )
    session.commit()
    return a


def qty_at(session, unit, item):
    session.expire_all()
    return sum(
        session.scalars(
            select(Position.qty).where(Position.unit_id == unit.id, Position.item_id == item.id)
        )
    )


def test_the_whole_life_cycle_moves_stock_and_the_shortfall(session, town):
    from datetime import date

    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        actor=town["cmd"],
        lines=[standard.StandardLineInput("station", "LJ", "2", "1")],
    )
    session.commit()
    a = request(session, town, [("LJ", 24)])
    assert a.status == "submitted"
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    assert a.status == "approved"
    row = shortfall(session, unit_ids={town["st"].id}).rows[0]
    assert (row.gap, row.inbound, row.uncovered) == (30, 24, 6)
    reserved = session.scalar(
        select(Position.reserved).where(
            Position.unit_id == town["wh"].id, Position.item_id == town["jackets"].id
        )
    )
    assert reserved == 24
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    session.commit()
    assert qty_at(session, town["wh"], town["jackets"]) == 76
    alloc.receive_allocation(session, a, actor=town["clerk"])
    session.commit()
    assert a.status == "received" and qty_at(session, town["st"], town["jackets"]) == 24
    row = shortfall(session, unit_ids={town["st"].id}).rows[0]
    assert (row.on_hand, row.inbound, row.gap) == (24, 0, 6)
    kinds = [m.kind for m in session.scalars(select(Movement).order_by(Movement.id))]
    assert kinds[-2:] == ["transfer_out", "transfer_in"]
    assert ledger.verify_balances(session) == []
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "allocations")
            .order_by(AuditEntry.id)
        )
    ]
    assert actions == [
        "allocation.submit",
        "allocation.approve",
        "allocation.dispatch",
        "allocation.receive",
    ]


def test_the_requester_never_approves_their_own_request(session, town):
    a = request(session, town, [("LJ", 5)], actor=town["cmd"])
    with pytest.raises(PermissionDenied):
        alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.rollback()
    for role in ("clerk", "keeper"):
        with pytest.raises(PermissionDenied):
            alloc.approve_allocation(session, a, actor=town[role], threshold=THRESHOLD)
        session.rollback()
    assert a.status == "submitted" and a.approvals == []


@pytest.mark.parametrize(("boats", "approvers_needed"), [(1, 1), (2, 2)])
def test_collective_decision_threshold(session, town, boats, approvers_needed):
    """25,000 yuan is below 50,000 (one approver); 50,000 is at it (two)."""
    a = request(session, town, [("BOAT", boats)])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    if approvers_needed == 1:
        assert a.status == "approved"
        return
    assert a.status == "submitted" and len(a.approvals) == 1
    with pytest.raises(Conflict):  # the same person twice does not count
        alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.rollback()
    alloc.approve_allocation(session, a, actor=town["cmd2"], threshold=THRESHOLD)
    session.commit()
    assert a.status == "approved"
    assert {ap.approver.username for ap in a.approvals} == {"cmd1", "cmd2"}


def test_reduced_approval_needs_a_reason_and_reserves_the_reduced_quantity(session, town):
    a = request(session, town, [("LJ", 40)])
    with pytest.raises(DomainError):
        alloc.approve_allocation(
            session, a, actor=town["cmd"], threshold=THRESHOLD, quantities={"LJ": 30}
        )
    session.rollback()
    with pytest.raises(DomainError):
        alloc.approve_allocation(
            session, a, actor=town["cmd"], threshold=THRESHOLD, quantities={"LJ": 41}, note="多批"
        )
    session.rollback()
    alloc.approve_allocation(
        session,
        a,
        actor=town["cmd"],
        threshold=THRESHOLD,
        quantities={"LJ": 30},
        note="仓库需留储备",
    )
    session.commit()
    assert a.lines[0].approved == 30
    # Reserved stock cannot be issued at the source.
    with pytest.raises(ledger.InsufficientStock) as err:
        ledger.record_movement(
            session,
            unit=town["wh"],
            item=town["jackets"],
            kind="issue",
            qty=71,
            actor=town["keeper"],
        )
    assert "已为调拨预留" in err.value.message
    session.rollback()
    ledger.record_movement(
        session, unit=town["wh"], item=town["jackets"], kind="issue", qty=70, actor=town["keeper"]
    )
    session.commit()
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    session.commit()
    assert qty_at(session, town["wh"], town["jackets"]) == 0


def test_approval_needs_stock_at_the_source_and_dispatch_more_than_held_is_refused(session, town):
    a = request(session, town, [("BOAT", 1)], emergency=True)
    ledger.record_movement(
        session, unit=town["wh"], item=town["boats"], kind="issue", qty=3, actor=town["keeper"]
    )
    session.commit()
    before = session.scalar(select(db.func.count()).select_from(Movement))
    with pytest.raises(ledger.InsufficientStock):
        alloc.dispatch_allocation(session, a, actor=town["keeper"])
    session.rollback()
    assert session.scalar(select(db.func.count()).select_from(Movement)) == before
    session.expire_all()
    assert session.get(Allocation, a.id).status == "submitted"
    with pytest.raises(ledger.InsufficientStock):
        alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.rollback()


def test_short_receipt_is_recorded_with_a_reason(session, town):
    a = request(session, town, [("LJ", 10)])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    session.commit()
    with pytest.raises(DomainError):
        alloc.receive_allocation(session, a, actor=town["clerk"], quantities={"LJ": 8})
    session.rollback()
    alloc.receive_allocation(
        session, a, actor=town["clerk"], quantities={"LJ": 8}, note="运输途中损坏 2 件"
    )
    session.commit()
    line = a.lines[0]
    assert (line.dispatched, line.received, line.note) == (10, 8, "运输途中损坏 2 件")
    assert qty_at(session, town["st"], town["jackets"]) == 8
    assert ledger.verify_balances(session) == []


def test_emergency_is_dispatched_first_and_approved_after(session, town):
    a = request(session, town, [("LJ", 20)], emergency=True)
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    alloc.receive_allocation(session, a, actor=town["clerk"])
    session.commit()
    assert a.status == "received" and a.approved_at is None  # still flagged
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    assert a.approved_at is not None
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "allocations")
            .order_by(AuditEntry.id)
        )
    ]
    assert actions == [
        "allocation.submit",
        "allocation.dispatch",
        "allocation.receive",
        "allocation.approve",
    ]


def test_a_normal_request_cannot_be_dispatched_before_approval(session, town):
    a = request(session, town, [("LJ", 1)])
    with pytest.raises(Conflict):
        alloc.dispatch_allocation(session, a, actor=town["keeper"])


def test_cancel_releases_the_reservation_and_wrong_states_are_refused(session, town):
    a = request(session, town, [("LJ", 30)])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    alloc.cancel_allocation(session, a, actor=town["clerk"])
    session.commit()
    assert (
        session.scalar(
            select(Position.reserved).where(
                Position.unit_id == town["wh"].id, Position.item_id == town["jackets"].id
            )
        )
        == 0
    )
    for action in (alloc.submit_allocation, alloc.cancel_allocation):
        with pytest.raises(Conflict):
            action(session, a, actor=town["clerk"])
        session.rollback()
    b = request(session, town, [("LJ", 1)])
    alloc.reject_allocation(session, b, actor=town["cmd"], note="暂无库存计划")
    session.commit()
    with pytest.raises(Conflict):
        alloc.approve_allocation(session, b, actor=town["cmd2"], threshold=THRESHOLD)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "至少要有一行"),
        ([("NOPE", 1)], "NOPE"),
        ([("LJ", 0)], "数量"),
        ([("LJ", -2)], "数量"),
        ([("LJ", "abc")], "数量"),
        ([("LJ", 1), ("LJ", 2)], "重复"),
    ],
)
def test_bad_requests_are_refused_whole(session, town, lines, message):
    with pytest.raises(DomainError) as err:
        alloc.create_allocation(
            session,
            from_unit=town["wh"],
            to_unit=town["st"],
            lines=[alloc.LineInput(*ln) for ln in lines],
            reason="x",
            actor=town["clerk"],
        )
    assert message in err.value.message
    session.rollback()
    assert session.scalar(select(db.func.count()).select_from(Allocation)) == 0


def test_a_clerk_requests_only_for_own_unit(session, town, make_unit):
    other = make_unit("OTHER")
    with pytest.raises(PermissionDenied):
        alloc.create_allocation(
            session,
            from_unit=town["wh"],
            to_unit=other,
            lines=[alloc.LineInput("LJ", 1)],
            reason="x",
            actor=town["clerk"],
        )


def test_two_keepers_dispatching_at_once_dispatch_once(app, session, town):
    a = request(session, town, [("LJ", 10)])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    barrier = threading.Barrier(2)
    results = []

    def work(user_id):
        with app.app_context(), Session(db.engine) as s:
            allocation = s.get(Allocation, a.id)
            user = s.get(User, user_id)
            assert allocation.lines and allocation.from_unit  # loaded before racing
            barrier.wait()
            try:
                alloc.dispatch_allocation(s, allocation, actor=user)
                s.commit()
                results.append("ok")
            except Conflict as err:
                s.rollback()
                results.append(err.message)

    threads = [
        threading.Thread(target=work, args=(u.id,)) for u in (town["keeper"], town["keeper2"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results.count("ok") == 1, results
    assert any("刚被他人处理" in r for r in results)
    assert qty_at(session, town["wh"], town["jackets"]) == 90
    transfers = session.scalars(select(Movement).where(Movement.kind == "transfer_out")).all()
    assert sum(m.qty for m in transfers) == -10
    assert ledger.verify_balances(session) == []
    assert session.get(Unit, town["wh"].id)


def test_another_bureaus_command_cannot_decide_and_stock_stays_in_the_bureau(
    session, town, make_unit, make_user
):
    """The Wenling command user once approved a Dengfeng police allocation: command staff
    decide only what lies in their bureau, and stock does not move between bureaus."""
    wenling = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    wl_wh = make_unit("WL-WH", name="温岭仓库", kind="warehouse", parent=wenling)
    outsider = make_user("wl-cmd", "command", wenling)
    a = request(session, town, [("LJ", 10)])
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    for decide in (
        lambda: alloc.approve_allocation(session, a, actor=outsider, threshold=THRESHOLD),
        lambda: alloc.reject_allocation(session, a, actor=outsider, note="不同意"),
    ):
        with pytest.raises(PermissionDenied):
            decide()
        session.rollback()
    session.expire_all()
    assert session.get(Allocation, a.id).status == "submitted"
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    # the bureau's own command staff still decide it
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    assert session.get(Allocation, a.id).status == "approved"
    # a request from another bureau's warehouse is refused, naming both units
    with pytest.raises(DomainError) as err:
        alloc.create_allocation(
            session,
            from_unit=wl_wh,
            to_unit=town["st"],
            lines=[alloc.LineInput("LJ", 1)],
            reason="借用",
            actor=town["cmd"],
        )
    assert err.value.field == "from" and "温岭仓库" in err.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Allocation)) == 1

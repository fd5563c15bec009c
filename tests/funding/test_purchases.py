"""Purchase requests from the gap: drafted from the shortfall (after suggested transfers),
edited, submitted, approved by someone else against a collective decision and paid from the
fund; approved lines show as *on order* in the shortfall until receipts close them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from funding import fund, purchases
from funding.models import FundEntry, PurchaseRequest
from inventory.shortfall import shortfall
from readiness.errors import Conflict, DomainError, PermissionDenied
from tests.funding.conftest import POLICY


def _rows(session, unit_ids=None):
    return {(r.unit.code, r.item.code): r for r in shortfall(session, unit_ids=unit_ids).rows}


def _draft(session, office):
    request = purchases.create_request(
        session,
        office["bureau"],
        title="关于申请购置应急装备物资的请示",
        from_shortfall=True,
        actor=office["drafter"],
    )
    session.commit()
    return request


def test_from_the_shortfall_the_lines_are_the_gap_nothing_else_covers(session, office):
    request = _draft(session, office)
    lines = {(ln.unit.code, ln.item.code): (ln.qty, ln.unit_price) for ln in request.lines}
    # 君召 (none of 16) is worst: the warehouse's 10 spare go there, 6 to buy; 大冶 lacks 24
    assert lines[("JUNZHAO", "LJ")] == (6, Decimal("120.00"))
    assert lines[("DAYE", "LJ")] == (24, Decimal("120.00"))
    assert lines[("DAYE", "PUMP")] == (2, Decimal("8500.00"))
    assert request.total == Decimal("120.00") * 30 + Decimal("8500.00") * 4
    assert request.status == "draft"
    # a second draft does not ask again for what the first already asks
    with pytest.raises(DomainError) as err:
        _draft(session, office)
    assert "没有需要购置的缺口" in err.value.message


def test_the_whole_way_from_the_gap_to_deliveries_that_close_it(session, office, decide, stock):
    request = _draft(session, office)
    total = request.total  # 30 jackets and 4 pumps: 37,600.00, under the threshold
    purchases.update_request(
        session,
        request,
        lines=[
            *[
                purchases.LineInput(ln.unit.code, ln.item.code, ln.qty, ln.unit_price)
                for ln in request.lines
            ],
            purchases.LineInput("WH", "PUMP", 2, "8500"),
        ],
        actor=office["drafter"],
    )
    purchases.submit_request(session, request, actor=office["drafter"])
    session.commit()
    total = request.total
    assert total == Decimal("54600.00") >= POLICY.threshold
    # without a decision the approval is refused, and nothing changes
    with pytest.raises(Conflict) as err:
        purchases.approve_request(
            session,
            request,
            approved_amount=total,
            funding_source="reserve_fund",
            policy=POLICY,
            actor=office["approver"],
        )
    assert "集体决策" in err.value.message
    session.rollback()
    assert session.get(PurchaseRequest, request.id).status == "submitted"
    entry = decide(total)
    purchases.approve_request(
        session,
        request,
        approved_amount=total,
        funding_source="reserve_fund",
        decision=entry.id,
        policy=POLICY,
        actor=office["approver"],
    )
    session.commit()
    assert request.status == "approved" and request.decision_id == entry.id
    assert fund.balance(session, office["bureau"].id) == Decimal("300000.00") - total
    paid = session.scalar(select(FundEntry).where(FundEntry.kind == "purchase"))
    assert paid.object_type == "purchase_requests" and paid.object_id == request.id
    # on order: the gap stays, nothing is left uncovered, no further purchase is suggested
    daye = _rows(session)[("DAYE", "LJ")]
    assert (daye.gap, daye.inbound, daye.on_order, daye.uncovered) == (24, 0, 24, 0)
    # the receiving station posts what came; the line closes, the gap shrinks
    line = next(ln for ln in request.lines if ln.unit.code == "DAYE" and ln.item.code == "LJ")
    purchases.receive(session, line, qty=20, actor=office["clerk"])
    session.commit()
    daye = _rows(session)[("DAYE", "LJ")]
    assert (daye.on_hand, daye.gap, daye.on_order, daye.uncovered) == (26, 4, 4, 0)
    purchases.receive(session, line, qty=4, actor=office["clerk"])
    session.commit()
    daye = _rows(session)[("DAYE", "LJ")]
    assert (daye.on_hand, daye.gap, daye.on_order) == (30, 0, 0)
    assert line.expected == 0
    with pytest.raises(Conflict):
        purchases.receive(session, line, qty=1, actor=office["clerk"])


def test_the_requester_cannot_approve_their_own_request(session, office):
    request = _draft(session, office)
    purchases.submit_request(session, request, actor=office["drafter"])
    session.commit()
    with pytest.raises(PermissionDenied):
        purchases.approve_request(
            session,
            request,
            approved_amount="100",
            funding_source="finance",
            policy=POLICY,
            actor=office["drafter"],
        )
    with pytest.raises(PermissionDenied):
        purchases.reject_request(session, request, "预算不足", actor=office["drafter"])


def test_a_partial_approval_sets_the_expected_quantities_and_says_partly(session, office):
    request = purchases.create_request(
        session,
        office["bureau"],
        title="救生衣",
        lines=[
            purchases.LineInput("DAYE", "LJ", 14, "120"),
            purchases.LineInput("JUNZHAO", "LJ", 16, "120"),
        ],
        actor=office["drafter"],
    )
    purchases.submit_request(session, request, actor=office["drafter"])
    session.commit()
    junzhao = next(ln for ln in request.lines if ln.unit.code == "JUNZHAO")
    with pytest.raises(DomainError) as err:  # 30 jackets do not fit in 2,000 yuan
        purchases.approve_request(
            session,
            request,
            approved_amount="2000",
            funding_source="finance",
            policy=POLICY,
            actor=office["approver"],
        )
    assert "请核减" in err.value.message
    purchases.approve_request(
        session,
        request,
        approved_amount="1680",
        funding_source="finance",
        approved_lines={junzhao.id: 0},
        policy=POLICY,
        actor=office["approver"],
    )
    session.commit()
    assert request.status == "partly" and junzhao.expected == 0
    assert _rows(session)[("DAYE", "LJ")].on_order == 14
    # money from finance is not the fund's
    assert fund.balance(session, office["bureau"].id) == Decimal("300000.00")


def test_lines_are_checked_all_at_once_and_only_in_the_bureau(session, office, make_unit):
    elsewhere = make_unit("WL-ST", kind="town")
    with pytest.raises(DomainError) as err:
        purchases.create_request(
            session,
            office["bureau"],
            title="",
            lines=[
                purchases.LineInput(elsewhere.code, "LJ", 1, "1"),
                purchases.LineInput("DAYE", "NOPE", 0, "x"),
            ],
            actor=office["drafter"],
        )
    fields = {f for f, _m in err.value.problems}
    assert fields == {"title", "unit-0", "item-1", "qty-1", "unit_price-1"}
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PurchaseRequest)) == 0


def test_a_draft_is_edited_and_then_frozen_once_submitted(session, office):
    request = _draft(session, office)
    purchases.update_request(
        session,
        request,
        lines=[purchases.LineInput("DAYE", "LJ", 20, "115.50")],
        actor=office["drafter"],
    )
    session.commit()
    assert [(ln.unit.code, ln.qty, ln.unit_price) for ln in request.lines] == [
        ("DAYE", 20, Decimal("115.50"))
    ]
    purchases.submit_request(session, request, actor=office["drafter"])
    session.commit()
    with pytest.raises(Conflict):
        purchases.update_request(
            session,
            request,
            lines=[purchases.LineInput("DAYE", "LJ", 1, "1")],
            actor=office["drafter"],
        )


def test_a_clerk_may_not_draft_a_purchase(session, office):
    with pytest.raises(PermissionDenied):
        purchases.create_request(
            session, office["daye"], title="x", from_shortfall=True, actor=office["clerk"]
        )

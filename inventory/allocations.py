"""Allocation requests (调拨) and their approval, dispatch and receipt.

draft → submitted → approved | rejected → dispatched → received; cancelled from
draft, submitted or approved. An emergency request may be dispatched while still
submitted and approved afterwards. Requests worth the collective-decision
threshold or more (三重一大) need two different approvers. Approved quantities
are reserved at the source; dispatch posts transfer_out there and receipt posts
transfer_in at the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inventory.checks import check_qty
from inventory.ledger import InsufficientStock, fefo_positions, post_movement
from inventory.models import (
    ALLOCATION_STATUSES,
    Allocation,
    AllocationApproval,
    AllocationLine,
    AllocationPart,
    Item,
    Position,
)
from readiness import audit
from readiness.checks import check_note
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import Unit
from readiness.permissions import can, require, same_bureau

MAX_LINES = 200


@dataclass(frozen=True)
class LineInput:
    item_code: str
    qty: object


def _status(a: Allocation) -> str:
    return str(ALLOCATION_STATUSES.get(a.status, a.status))


def _expect(a: Allocation, *states: str) -> None:
    if a.status not in states:
        raise Conflict(
            _("调拨单第 {id} 号当前为“{status}”，不能执行此操作。").format(
                id=a.id, status=_status(a)
            )
        )


def value_of(a: Allocation) -> Decimal:
    """Σ quantity × unit cost, using approved quantities once given, else requested."""
    total = Decimal("0")
    for line in a.lines:
        qty = line.approved if line.approved is not None else line.requested
        total += qty * line.item.unit_cost
    return total


def approvals_needed(a: Allocation, threshold: Decimal) -> int:
    return 2 if value_of(a) >= threshold else 1


def _snapshot(a: Allocation) -> dict:
    return {
        "status": a.status,
        "lines": {
            ln.item.code: [ln.requested, ln.approved, ln.dispatched, ln.received] for ln in a.lines
        },
    }


def _record(session: Session, actor, action: str, a: Allocation, before: dict | None, note=""):
    audit.record(
        session,
        actor,
        f"allocation.{action}",
        a,
        unit_id=a.to_unit_id,
        before=before,
        after=_snapshot(a),
        summary=note,
    )


def _bump(session: Session, a: Allocation) -> None:
    """Flush the change; a concurrent change to the same request makes this one fail."""
    allocation_id = a.id  # the object cannot be read once the flush has failed
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            _("调拨单第 {id} 号刚被他人处理，请刷新后查看。").format(id=allocation_id)
        ) from None


# ---------------------------------------------------------------- request


def create_allocation(
    session: Session,
    *,
    from_unit: Unit,
    to_unit: Unit,
    lines: Sequence[LineInput],
    reason: str,
    emergency: bool = False,
    draft: bool = False,
    actor,
) -> Allocation:
    """Ask for stock to be moved to a unit (by that unit, or by command staff for any)."""
    require(session, actor, "allocations.request", to_unit)
    if from_unit.id == to_unit.id:
        raise DomainError(_("调出单位和调入单位不能相同。"), field="from")
    if not same_bureau(session, from_unit, to_unit):
        raise DomainError(
            _("调出单位 {source} 与调入单位 {dest} 不属于同一个局，不能直接调拨。").format(
                source=from_unit.name, dest=to_unit.name
            ),
            field="from",
        )
    for unit, name in ((from_unit, "from"), (to_unit, "to")):
        if not unit.is_active:
            raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field=name)
    reason = check_note(reason, "reason")
    if not reason:
        raise DomainError(_("请填写调拨事由。"), field="reason")
    if not lines:
        raise DomainError(_("至少要有一行物资。"), field="lines")
    if len(lines) > MAX_LINES:
        raise DomainError(_("一张调拨单最多 {n} 行。").format(n=MAX_LINES), field="lines")
    a = Allocation(
        from_unit=from_unit,
        to_unit=to_unit,
        reason=reason,
        is_emergency=bool(emergency),
        requested_by_id=getattr(actor, "id", None),
    )
    seen = set()
    for n, line in enumerate(lines, start=1):
        item = session.scalar(select(Item).where(Item.code == str(line.item_code)))
        if item is None:
            raise DomainError(
                _("第 {n} 行：物资代码 {code} 不存在。").format(n=n, code=str(line.item_code)[:40]),
                field="lines",
            )
        if item.id in seen:
            raise DomainError(
                _("第 {n} 行：{item} 重复。").format(n=n, item=item.name), field="lines"
            )
        seen.add(item.id)
        try:
            qty = check_qty(line.qty)
        except DomainError as err:
            raise DomainError(
                _("第 {n} 行：{message}").format(n=n, message=err.message), field="lines"
            ) from None
        a.lines.append(AllocationLine(item=item, requested=qty))
    if not draft:
        a.status = "submitted"
        a.submitted_at = utcnow()
    session.add(a)
    session.flush()
    _record(session, actor, "create" if draft else "submit", a, None, reason)
    return a


def _may_act_for_request(session: Session, actor, a: Allocation) -> None:
    if can(session, actor, "allocations.approve"):
        return
    if getattr(actor, "id", None) == a.requested_by_id or can(
        session, actor, "allocations.request", a.to_unit_id
    ):
        require(session, actor, "allocations.request", a.to_unit_id)
        return
    raise PermissionDenied(_("您无权处理这张调拨单。"))


def submit_allocation(session: Session, a: Allocation, *, actor) -> Allocation:
    """Send a draft for approval."""
    _may_act_for_request(session, actor, a)
    _expect(a, "draft")
    before = _snapshot(a)
    a.status = "submitted"
    a.submitted_at = utcnow()
    _bump(session, a)
    _record(session, actor, "submit", a, before)
    return a


# ---------------------------------------------------------------- approval


def _reserve(session: Session, a: Allocation) -> None:
    """Hold the approved quantities at the source, earliest expiry first."""
    for line in a.lines:
        need = line.approved or 0
        if need == 0:
            continue
        positions = _source_positions(session, a.from_unit_id, line.item_id)
        available = sum(p.available for p in positions)
        if available < need:
            raise InsufficientStock(
                _("{unit} 的 {item} 可用 {available} {uom}，不足批准的 {need} {uom}。").format(
                    unit=a.from_unit.name,
                    item=line.item.name,
                    available=available,
                    uom=line.item.uom,
                    need=need,
                ),
                field="lines",
            )
        for pos in positions:
            take = min(need, pos.available)
            if take <= 0:
                continue
            pos.reserved += take
            line.parts.append(AllocationPart(position=pos, qty=take, is_reserved=True))
            need -= take
            if need == 0:
                break


def _source_positions(session: Session, unit_id: int, item_id: int) -> list[Position]:
    """Usable positions of an item at a unit, earliest expiry first (expired lots never)."""
    from datetime import date

    return fefo_positions(session, unit_id, item_id, usable_on=date.today())


def _release(a: Allocation) -> None:
    for line in a.lines:
        for part in line.parts:
            if part.is_reserved:
                part.position.reserved -= part.qty
                part.is_reserved = False


def _require_both_sides(session: Session, actor, a: Allocation) -> None:
    # Command staff decide for their own bureau: both the unit giving and the one receiving.
    require(session, actor, "allocations.approve", a.from_unit_id)
    require(session, actor, "allocations.approve", a.to_unit_id)


def approve_allocation(
    session: Session,
    a: Allocation,
    *,
    actor,
    threshold: Decimal,
    quantities: dict[str, object] | None = None,
    note: str = "",
) -> Allocation:
    """Approve (possibly reducing lines, with a reason). At or above the threshold the
    request needs a second, different approver before it counts as approved."""
    _require_both_sides(session, actor, a)
    if a.requested_by_id is not None and getattr(actor, "id", None) == a.requested_by_id:
        raise PermissionDenied(_("申请人不能审批自己的调拨申请。"))
    emergency_after = (
        a.is_emergency and a.approved_at is None and a.status in ("dispatched", "received")
    )
    if not emergency_after:
        _expect(a, "submitted")
    if getattr(actor, "id", None) is None:
        raise PermissionDenied(_("审批必须由具名的指挥部人员进行。"))
    if any(ap.approver_id == getattr(actor, "id", None) for ap in a.approvals):
        raise Conflict(_("您已经批准过这张调拨单，还需要另一名审批人。"))
    note = check_note(note)
    before = _snapshot(a)
    reduced = False
    if quantities and not emergency_after:
        by_code = {ln.item.code: ln for ln in a.lines}
        for code, raw in quantities.items():
            line = by_code.get(code)
            if line is None:
                raise DomainError(
                    _("调拨单中没有物资 {code}。").format(code=str(code)[:40]), field="lines"
                )
            qty = check_qty(raw, allow_zero=True)
            if qty > line.requested:
                raise DomainError(
                    _("{item} 批准数量不能超过申请的 {n}。").format(
                        item=line.item.name, n=line.requested
                    ),
                    field="lines",
                )
            if qty < line.requested:
                reduced = True
            line.approved = qty
    if reduced and not note:
        raise DomainError(_("核减数量时请说明原因。"), field="reason")
    if not emergency_after:
        for line in a.lines:
            if line.approved is None:
                line.approved = line.requested
    session.add(AllocationApproval(allocation=a, approver_id=actor.id, note=note))
    session.flush()
    if len(a.approvals) >= approvals_needed(a, threshold):
        a.approved_at = utcnow()
        a.decision_note = note or a.decision_note
        if not emergency_after:
            a.status = "approved"
            _reserve(session, a)
    _bump(session, a)
    _record(session, actor, "approve", a, before, note)
    return a


def reject_allocation(session: Session, a: Allocation, *, actor, note: str) -> Allocation:
    """Refuse a request, with a reason."""
    _require_both_sides(session, actor, a)
    _expect(a, "submitted")
    note = check_note(note)
    if not note:
        raise DomainError(_("驳回时请说明原因。"), field="reason")
    before = _snapshot(a)
    a.status = "rejected"
    a.decision_note = note
    a.closed_at = utcnow()
    _bump(session, a)
    _record(session, actor, "reject", a, before, note)
    return a


def cancel_allocation(session: Session, a: Allocation, *, actor, note: str = "") -> Allocation:
    """Withdraw a request before dispatch; anything reserved is released."""
    _may_act_for_request(session, actor, a)
    _expect(a, "draft", "submitted", "approved")
    before = _snapshot(a)
    _release(a)
    a.status = "cancelled"
    a.closed_at = utcnow()
    _bump(session, a)
    _record(session, actor, "cancel", a, before, check_note(note))
    return a


# ---------------------------------------------------------------- dispatch and receipt


def dispatch_allocation(
    session: Session, a: Allocation, *, actor, quantities: dict[str, object] | None = None
) -> Allocation:
    """Send the approved quantities from the source (transfer_out). An emergency request
    may be sent while still awaiting approval."""
    require(session, actor, "allocations.dispatch", a.from_unit_id)
    if not (a.status == "submitted" and a.is_emergency):
        _expect(a, "approved")
    before = _snapshot(a)
    was = a.status
    # Claim the request first: a second dispatcher at the same moment fails here.
    a.status = "dispatched"
    a.dispatched_at = utcnow()
    a.dispatched_by_id = getattr(actor, "id", None)
    _bump(session, a)
    doc = f"allocation:{a.id}"
    for line in a.lines:
        qty = (line.approved or 0) if was == "approved" else line.requested
        if quantities and line.item.code in quantities:
            asked = check_qty(quantities[line.item.code], allow_zero=True)
            if asked > qty:
                raise DomainError(
                    _("{item} 发出数量不能超过 {n}。").format(item=line.item.name, n=qty),
                    field="lines",
                )
            qty = asked
        sent = 0
        reserved_parts = [p for p in line.parts if p.is_reserved]
        for part in reserved_parts:
            take = min(part.qty, qty - sent)
            part.position.reserved -= part.qty
            part.is_reserved = False
            if take > 0:
                _send(session, a, line, part.position, take, actor, doc)
                part.qty = take
                sent += take
        if sent < qty:
            for pos in _source_positions(session, a.from_unit_id, line.item_id):
                take = min(qty - sent, pos.available)
                if take <= 0:
                    continue
                _send(session, a, line, pos, take, actor, doc)
                line.parts.append(AllocationPart(position=pos, qty=take, is_reserved=False))
                sent += take
                if sent == qty:
                    break
        if sent < qty:
            raise InsufficientStock(
                _("{unit} 的 {item} 可用数量不足，还差 {n} {uom}，未发出任何物资。").format(
                    unit=a.from_unit.name, item=line.item.name, n=qty - sent, uom=line.item.uom
                ),
                field="lines",
            )
        line.dispatched = sent
    session.flush()
    _record(session, actor, "dispatch", a, before)
    return a


def _send(session, a, line, pos, qty, actor, doc):
    post_movement(
        session,
        unit=a.from_unit,
        item=line.item,
        lot=pos.lot,
        kind="transfer_out",
        delta=-qty,
        actor=actor,
        document=doc,
        note=_("调拨至 {unit}").format(unit=a.to_unit.name),
        may_use_reserved=True,
    )


def receive_allocation(
    session: Session,
    a: Allocation,
    *,
    actor,
    quantities: dict[str, object] | None = None,
    note: str = "",
) -> Allocation:
    """Take delivery at the destination (transfer_in); a short receipt needs a reason."""
    require(session, actor, "allocations.receive", a.to_unit_id)
    _expect(a, "dispatched")
    note = check_note(note)
    before = _snapshot(a)
    a.status = "received"
    a.received_at = utcnow()
    a.received_by_id = getattr(actor, "id", None)
    a.closed_at = a.received_at
    _bump(session, a)
    doc = f"allocation:{a.id}"
    short = False
    for line in a.lines:
        got = line.dispatched or 0
        if quantities and line.item.code in quantities:
            got = check_qty(quantities[line.item.code], allow_zero=True)
            if got > (line.dispatched or 0):
                raise DomainError(
                    _("{item} 实收数量不能超过发出的 {n}。").format(
                        item=line.item.name, n=line.dispatched or 0
                    ),
                    field="lines",
                )
        if got < (line.dispatched or 0):
            short = True
            line.note = note
        line.received = got
        # Keep the lots: what came from a lot goes into the same lot here.
        remaining = got
        for part in line.parts:
            take = min(part.qty, remaining)
            if take <= 0:
                break
            post_movement(
                session,
                unit=a.to_unit,
                item=line.item,
                lot=part.position.lot,
                kind="transfer_in",
                delta=take,
                actor=actor,
                document=doc,
                note=_("来自 {unit}").format(unit=a.from_unit.name),
            )
            remaining -= take
    if short and not note:
        raise DomainError(_("实收少于发出时请说明原因（短少、损坏等）。"), field="reason")
    session.flush()
    _record(session, actor, "receive", a, before, note)
    return a


def inbound(session: Session, unit_ids: set[int] | None, as_of) -> dict[tuple[int, int], int]:
    """What approved and dispatched requests will still bring, per (unit, item)."""
    stmt = (
        select(
            Allocation.to_unit_id,
            AllocationLine.item_id,
            Allocation.status,
            AllocationLine.approved,
            AllocationLine.dispatched,
        )
        .join(AllocationLine, AllocationLine.allocation_id == Allocation.id)
        .where(Allocation.status.in_(("approved", "dispatched")))
    )
    if unit_ids is not None:
        stmt = stmt.where(Allocation.to_unit_id.in_(unit_ids))
    out: dict[tuple[int, int], int] = {}
    for unit_id, item_id, status, approved, dispatched in session.execute(stmt):
        qty = (approved or 0) if status == "approved" else (dispatched or 0)
        if qty:
            out[(unit_id, item_id)] = out.get((unit_id, item_id), 0) + qty
    return out


def _register() -> None:
    from inventory.shortfall import INBOUND_SOURCES

    if inbound not in INBOUND_SOURCES:
        INBOUND_SOURCES.append(inbound)


_register()

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
from sqlalchemy.orm.attributes import flag_modified
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
from readiness.errors import Conflict, DomainError, PermissionDenied, Refusals
from readiness.models import ROLES, Unit
from readiness.permissions import can, parent_map, require, same_bureau, unit_ids_above

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


def _line_quantities(
    a: Allocation,
    quantities: dict[str, object],
    limits: dict[str, int],
    over: str,
    problems: list[tuple[str, str]],
) -> dict[str, int]:
    """The quantities typed per item code, each checked against its line's limit; every
    wrong one adds its own problem (``over`` names the item and the limit)."""
    names = {ln.item.code: ln.item.name for ln in a.lines}
    out = {}
    for code, raw in quantities.items():
        if code not in limits:
            problems.append(("lines", _("调拨单中没有物资 {code}。").format(code=str(code)[:40])))
            continue
        try:
            qty = check_qty(raw, allow_zero=True)
        except DomainError as err:
            problems.append(
                (
                    err.field or "lines",
                    _("{item}：{message}").format(item=names[code], message=err.message),
                )
            )
            continue
        if qty > limits[code]:
            problems.append(("lines", over.format(item=names[code], n=limits[code])))
            continue
        out[code] = qty
    return out


# ---------------------------------------------------------------- request


def _check_lines(
    session: Session, lines: Sequence[LineInput], problems: list[tuple[str, str]]
) -> list[tuple[Item, int]]:
    """The lines as (item, quantity); each bad line adds its own problem, so that the form
    shows all of them at once."""
    if not lines:
        problems.append(("lines", _("至少要有一行物资。")))
    if len(lines) > MAX_LINES:
        problems.append(("lines", _("一张调拨单最多 {n} 行。").format(n=MAX_LINES)))
        return []
    codes = {str(line.item_code) for line in lines}
    items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(codes)))}
    out, seen = [], set()
    for n, line in enumerate(lines, start=1):
        item = items.get(str(line.item_code))
        if item is None:
            problems.append(
                (
                    "lines",
                    _("第 {n} 行：物资代码 {code} 不存在。").format(
                        n=n, code=str(line.item_code)[:40]
                    ),
                )
            )
            continue
        if item.id in seen:
            problems.append(("lines", _("第 {n} 行：{item} 重复。").format(n=n, item=item.name)))
            continue
        seen.add(item.id)
        try:
            out.append((item, check_qty(line.qty)))
        except DomainError as err:
            problems.append(("lines", _("第 {n} 行：{message}").format(n=n, message=err.message)))
    return out


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
    """Ask for stock to be moved to a unit (by that unit, or by command staff for any).
    Every problem with the request is reported at once."""
    require(session, actor, "allocations.request", to_unit)
    problems: list[tuple[str, str]] = []
    if from_unit.id == to_unit.id:
        problems.append(("from", _("调出单位和调入单位不能相同。")))
    elif not same_bureau(session, from_unit, to_unit):
        problems.append(
            (
                "from",
                _("调出单位 {source} 与调入单位 {dest} 不属于同一个局，不能直接调拨。").format(
                    source=from_unit.name, dest=to_unit.name
                ),
            )
        )
    for unit, name in ((from_unit, "from"), (to_unit, "to")):
        if not unit.is_active:
            problems.append((name, _("单位 {name} 已停用。").format(name=unit.name)))
    try:
        reason = check_note(reason, "reason")
    except DomainError as err:
        problems.append(("reason", err.message))
    else:
        if not reason:
            problems.append(("reason", _("请填写调拨事由。")))
    checked = _check_lines(session, lines, problems)
    if problems:
        raise Refusals(problems)
    a = Allocation(
        from_unit=from_unit,
        to_unit=to_unit,
        reason=reason,
        is_emergency=bool(emergency),
        requested_by_id=getattr(actor, "id", None),
    )
    for item, qty in checked:
        a.lines.append(AllocationLine(item=item, requested=qty))
    if not draft:
        a.status = "submitted"
        a.submitted_at = utcnow()
    session.add(a)
    session.flush()
    _record(session, actor, "create" if draft else "submit", a, None, reason)
    return a


def edit_draft_lines(
    session: Session, a: Allocation, *, lines: Sequence[LineInput], actor
) -> Allocation:
    """Set a draft's lines: lines for new items are added, changed quantities kept, items no
    longer listed removed. Only a draft changes; a submitted request is what was approved."""
    _may_act_for_request(session, actor, a)
    _expect(a, "draft")
    problems: list[tuple[str, str]] = []
    checked = _check_lines(session, lines, problems)
    if problems:
        raise Refusals(problems)
    before = _snapshot(a)
    wanted = {item.id: (item, qty) for item, qty in checked}
    for line in list(a.lines):
        if line.item_id in wanted:
            line.requested = wanted.pop(line.item_id)[1]
        else:
            a.lines.remove(line)
    for item, qty in wanted.values():
        a.lines.append(AllocationLine(item=item, requested=qty))
    if _snapshot(a) == before:
        return a
    # the request's row is written too, so its version moves and a concurrent submit or
    # edit of the same draft fails instead of passing unnoticed
    flag_modified(a, "reason")
    _bump(session, a)
    _record(session, actor, "edit", a, before)
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
    problems: list[tuple[str, str]] = []
    reduced = False
    if quantities and not emergency_after:
        limits = {ln.item.code: ln.requested for ln in a.lines}
        over = _("{item} 批准数量不能超过申请的 {n}。")
        approved = _line_quantities(a, quantities, limits, over, problems)
        for line in a.lines:
            if line.item.code in approved:
                line.approved = approved[line.item.code]
                reduced = reduced or line.approved < line.requested
    if reduced and not note:
        problems.append(("reason", _("核减数量时请说明原因。")))
    if problems:
        raise Refusals(problems)
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
    problems: list[tuple[str, str]] = []
    limits = {ln.item.code: ln.dispatched or 0 for ln in a.lines}
    over = _("{item} 实收数量不能超过发出的 {n}。")
    # quantities for items not on the request are ignored here, as they always were
    typed = {code: raw for code, raw in (quantities or {}).items() if code in limits}
    typed = _line_quantities(a, typed, limits, over, problems)
    if any(typed.get(code, sent) < sent for code, sent in limits.items()) and not note:
        problems.append(("reason", _("实收少于发出时请说明原因（短少、损坏等）。")))
    if problems:
        raise Refusals(problems)
    for line in a.lines:
        got = typed.get(line.item.code, line.dispatched or 0)
        if got < (line.dispatched or 0):
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


# ---------------------------------------------------------------- who acts next


def approving_unit(session: Session, a: Allocation) -> Unit:
    """The nearest unit above both sides: its command staff, or those of a unit above it,
    decide the request (approval needs both units in reach)."""
    parents = parent_map(session)
    above_target = set(unit_ids_above(session, a.to_unit_id, parents))
    chain = unit_ids_above(session, a.from_unit_id, parents)
    common = next((u for u in chain if u in above_target), chain[-1])
    return session.get(Unit, common)


def next_step(
    a: Allocation,
    *,
    needed: int,
    approver_unit: str,
    viewer_id: int | None,
    may_approve: bool,
    may_dispatch: bool,
    may_receive: bool,
    may_request: bool,
) -> str:
    """One sentence for the person looking at the request: what they do next, or who does
    it and what follows."""
    command, keeper, clerk = ROLES["command"], ROLES["keeper"], ROLES["clerk"]
    missing = max(0, needed - len(a.approvals))
    emergency_open = a.is_emergency and a.approved_at is None
    if a.status == "draft":
        if may_request:
            return _("这是草稿：可增删物资、修改数量，核对后点“提交审批”。")
        return _("申请单位尚未提交这张草稿。")
    if a.status == "submitted":
        if may_approve and any(ap.approver_id == viewer_id for ap in a.approvals):
            return _("您已批准；还需另一名{role}人员批准（申请人除外）。").format(role=command)
        if may_approve:
            text = _("请审核：可核减数量（须说明原因）后批准，或说明原因后驳回。")
            if needed > 1:
                text += " " + _("金额达到集体决策标准，需两名不同的审批人。")
            return text
        if emergency_open and may_dispatch:
            return _("紧急调拨：可先按申请数量发出，审批随后补办。")
        return _(
            "等待{unit}（或其上级单位）的{role}人员审批，还需 {n} 人；批准后由{source}发出。"
        ).format(unit=approver_unit, role=command, n=missing, source=a.from_unit.name)
    if a.status == "approved":
        if may_dispatch:
            return _("已批准：请按批准数量备货发出；“本次数量”可少发。")
        return _("已批准，等待{source}的{keeper}或{clerk}发出。").format(
            source=a.from_unit.name, keeper=keeper, clerk=clerk
        )
    if emergency_open and may_approve and a.status in ("dispatched", "received"):
        return _("紧急调拨已先发出，请补办审批。")
    if a.status == "dispatched":
        if may_receive:
            return _("物资已发出：到货后请清点并接收入库；实收少于发出时须说明原因。")
        return _("物资已发出，等待{target}确认接收入库。").format(target=a.to_unit.name)
    if a.status == "received":
        return _("已接收入库，调拨完成。")
    if a.status == "rejected":
        return _("已驳回，流程结束；如仍需要，请重新申请。")
    return _("已取消，流程结束。")

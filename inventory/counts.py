"""Use cases for stocktakes: starting, entering, submitting, approving and cancelling a
count, how often each kind of unit must count, and which units are due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.checks import check_qty
from inventory.ledger import find_position, post_movement
from inventory.models import (
    COUNT_STATUSES,
    Count,
    CountInterval,
    CountLine,
    Item,
    Lot,
    Movement,
    Position,
)
from readiness import audit
from readiness.checks import check_note
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import require

DEFAULT_COUNT_DAYS = 90
# Warehouses count monthly (专库储存 with 日周月 checks); a row in count_intervals overrides.
DEFAULT_COUNT_INTERVALS = {"warehouse": 30}


def count_interval_days(session: Session, unit_kind: str) -> int:
    row = session.get(CountInterval, unit_kind)
    return row.days if row else DEFAULT_COUNT_INTERVALS.get(unit_kind, DEFAULT_COUNT_DAYS)


def open_count_for(session: Session, unit: Unit) -> Count | None:
    return session.scalar(
        select(Count).where(
            Count.unit_id == unit.id,
            Count.status.in_(("open", "submitted")),
            Count.is_spot.is_(False),
        )
    )


def start_count(session: Session, unit: Unit, *, actor, note: str = "") -> Count:
    """Begin a stocktake: the book quantity of every position is snapshotted now."""
    require(session, actor, "counts.write", unit)
    if not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    running = open_count_for(session, unit)
    if running is not None:
        raise Conflict(
            _("{unit} 已有进行中的盘点（第 {id} 号），请先完成或取消。").format(
                unit=unit.name, id=running.id
            )
        )
    count = Count(unit_id=unit.id, note=check_note(note), started_by_id=getattr(actor, "id", None))
    for pos in session.scalars(
        select(Position).where(Position.unit_id == unit.id).order_by(Position.item_id, Position.id)
    ):
        count.lines.append(
            CountLine(position_id=pos.id, item_id=pos.item_id, lot_id=pos.lot_id, book=pos.qty)
        )
    session.add(count)
    session.flush()
    audit.record(
        session, actor, "count.start", count, unit_id=unit.id, after={"lines": len(count.lines)}
    )
    return count


def _editable(count: Count) -> None:
    if count.status != "open":
        raise Conflict(
            _("盘点第 {id} 号已{status}，不能再修改。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )


def _count_status_text(status: str) -> str:
    return str(COUNT_STATUSES.get(status, status))


def enter_count(
    session: Session, count: Count, item: Item, lot: Lot | None, counted, *, actor
) -> CountLine:
    """Enter the counted quantity of one position (a line is added if it was not on the books)."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    counted = check_qty(counted, field_name="counted", allow_zero=True)
    lot_id = lot.id if lot else None
    line = next((ln for ln in count.lines if ln.item_id == item.id and ln.lot_id == lot_id), None)
    if line is None:
        pos = find_position(session, unit.id, item.id, lot_id)
        line = CountLine(
            position_id=pos.id if pos else None,
            item_id=item.id,
            lot_id=lot_id,
            book=pos.qty if pos else 0,
        )
        count.lines.append(line)
    before = {"counted": line.counted}
    line.counted = counted
    line.counted_at = utcnow()
    line.counted_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "count.enter",
        count,
        unit_id=unit.id,
        before=before,
        after={
            "item": item.code,
            "lot": lot.code if lot else None,
            "counted": counted,
            "book": line.book,
        },
    )
    return line


def submit_count(session: Session, count: Count, *, actor) -> Count:
    """Hand a finished count over for approval."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    if not any(line.counted is not None for line in count.lines):
        raise DomainError(_("还没有录入任何清点数量。"), field="lines")
    count.status = "submitted"
    count.submitted_at = utcnow()
    count.submitted_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "count.submit", count, unit_id=unit.id)
    return count


def approve_count(session: Session, count: Count, *, actor) -> list[Movement]:
    """Approve a submitted count: each variance becomes an adjustment movement."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.approve", unit)
    if count.status != "submitted":
        raise Conflict(
            _("盘点第 {id} 号当前状态为{status}，只有待审批的盘点可以审批。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )
    counters = {count.started_by_id, count.submitted_by_id} | {
        line.counted_by_id for line in count.lines
    }
    if getattr(actor, "id", None) in counters:
        raise PermissionDenied(_("清点人不能审批自己的盘点，请由另一名保管员或指挥部人员审批。"))
    movements = []
    for line in count.lines:
        if line.counted is None or line.variance == 0:
            continue
        item = session.get(Item, line.item_id)
        lot = session.get(Lot, line.lot_id) if line.lot_id else None
        movements.append(
            post_movement(
                session,
                unit=unit,
                item=item,
                lot=lot,
                kind="adjustment",
                delta=line.variance,
                actor=actor,
                document=f"count:{count.id}",
                note=_("盘点第 {id} 号调整").format(id=count.id),
                may_use_reserved=True,
            )
        )
    count.status = "approved"
    count.decided_at = utcnow()
    count.decided_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "count.approve",
        count,
        unit_id=unit.id,
        after={"adjustments": len(movements)},
    )
    return movements


def cancel_count(session: Session, count: Count, *, actor) -> Count:
    """Abandon a count that is not yet approved; nothing is posted."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    if count.status not in ("open", "submitted"):
        raise Conflict(_("该盘点已结束，不能取消。"))
    count.status = "cancelled"
    count.decided_at = utcnow()
    count.decided_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "count.cancel", count, unit_id=unit.id)
    return count


@dataclass
class CountDue:
    unit: Unit
    interval_days: int
    last_counted_on: date | None
    due_on: date | None
    overdue: bool


def counts_due(session: Session, unit_ids: set[int] | None, *, today: date) -> list[CountDue]:
    """Each unit holding stock, when it was last counted (approved) and when the next is due."""
    last = (
        select(Count.unit_id, func.max(Count.decided_at).label("last"))
        .where(Count.status == "approved")
        .group_by(Count.unit_id)
        .subquery()
    )
    holders = select(Position.unit_id).distinct().subquery()
    stmt = (
        select(Unit, last.c.last)
        .join(holders, holders.c.unit_id == Unit.id)
        .outerjoin(last, last.c.unit_id == Unit.id)
        .where(Unit.is_active)
        .order_by(Unit.code)
    )
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    intervals = dict(DEFAULT_COUNT_INTERVALS)
    intervals.update({row.unit_kind: row.days for row in session.scalars(select(CountInterval))})
    out = []
    for unit, last_at in session.execute(stmt):
        days = intervals.get(unit.kind, DEFAULT_COUNT_DAYS)
        last_on = last_at.date() if last_at else None
        due = last_on + timedelta(days=days) if last_on else None
        out.append(CountDue(unit, days, last_on, due, overdue=due is None or due < today))
    out.sort(key=lambda d: (d.due_on or date.min, d.unit.code))
    return out


def set_count_interval(session: Session, unit_kind: str, days, *, actor) -> CountInterval:
    """How many days may pass between counts for a kind of unit."""
    require(session, actor, "standard.manage")
    if unit_kind not in UNIT_KINDS:
        raise DomainError(_("未知的单位类型：{kind}。").format(kind=unit_kind), field="unit_kind")
    days = check_qty(days, field_name="days")
    if days > 3660:
        raise DomainError(_("盘点间隔不能超过 3660 天。"), field="days")
    row = session.get(CountInterval, unit_kind)
    before = {"days": row.days} if row else None
    if row is None:
        row = CountInterval(unit_kind=unit_kind, days=days)
        session.add(row)
    row.days = days
    session.flush()
    audit.record(
        session,
        actor,
        "count_interval.set",
        object_type="count_intervals",
        object_id=unit_kind,
        before=before,
        after={"days": days},
    )
    return row

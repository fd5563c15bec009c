"""Use cases for stocktakes: starting, entering, submitting, returning, approving and
cancelling a count; the count policy of a unit (how often it counts, whether the counter
sees the book); and which units are due, position by position."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from inventory.checks import check_qty
from inventory.ledger import find_position, post_movement
from inventory.models import (
    COUNT_STATUSES,
    EDITABLE_COUNT_STATUSES,
    Count,
    CountInterval,
    CountLine,
    CountVarianceThreshold,
    Item,
    Lot,
    Movement,
    Position,
)
from readiness import audit
from readiness.checks import check_note
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit, User
from readiness.permissions import require, unit_ids_above, unit_ids_below
from rectification import actions as register

DEFAULT_COUNT_DAYS = 90
# Warehouses count monthly (专库储存 with 日周月 checks); a row in count_intervals overrides.
DEFAULT_COUNT_INTERVALS = {"warehouse": 30}
# Full counts are blind unless command staff turn it off for a kind of unit.
DEFAULT_BLIND = True
REASON_MAX = 500
# How many positions a refusal names before "等 N 处".
NAMED_MAX = 20


# ---------------------------------------------------------------- the count policy


@dataclass(frozen=True)
class CountPolicy:
    """The policy in force for a kind of unit at a unit: from the nearest row up the tree,
    else the row for everywhere, else the built-in default."""

    unit_kind: str
    days: int
    blind: bool
    # Where it was set: a unit's id, None for everywhere; is_default when no row applies.
    set_at_unit_id: int | None = None
    is_default: bool = False


def _default_policy(unit_kind: str) -> CountPolicy:
    days = DEFAULT_COUNT_INTERVALS.get(unit_kind, DEFAULT_COUNT_DAYS)
    return CountPolicy(unit_kind, days, DEFAULT_BLIND, None, is_default=True)


def _pick(rows: dict[int | None, CountInterval], above: list[int], unit_kind: str):
    for unit_id in [*above, None]:
        row = rows.get(unit_id)
        if row is not None:
            return CountPolicy(unit_kind, row.days, row.blind, unit_id)
    return _default_policy(unit_kind)


def count_policy(session: Session, unit_kind: str, unit_id: int | None = None) -> CountPolicy:
    """The count policy for this kind of unit as it applies at ``unit_id`` (None: the one
    for everywhere)."""
    rows = {
        row.unit_id: row
        for row in session.scalars(
            select(CountInterval).where(CountInterval.unit_kind == unit_kind)
        )
    }
    above = unit_ids_above(session, unit_id) if unit_id is not None else []
    return _pick(rows, above, unit_kind)


def count_interval_days(session: Session, unit_kind: str, unit_id: int | None = None) -> int:
    return count_policy(session, unit_kind, unit_id).days


class _Policies:
    """Every policy row and the unit tree read once, for a list of many units."""

    def __init__(self, session: Session):
        self.rows: dict[str, dict[int | None, CountInterval]] = defaultdict(dict)
        for row in session.scalars(select(CountInterval)):
            self.rows[row.unit_kind][row.unit_id] = row
        self.parents = {
            uid: parent for uid, parent in session.execute(select(Unit.id, Unit.parent_id))
        }

    def for_unit(self, unit: Unit) -> CountPolicy:
        above: list[int] = []
        current: int | None = unit.id
        while current is not None and current not in above:
            above.append(current)
            current = self.parents.get(current)
        return _pick(self.rows.get(unit.kind, {}), above, unit.kind)


def set_count_policy(
    session: Session, unit_kind: str, *, days=None, blind=None, actor
) -> CountInterval:
    """Command staff set, for their own unit and the units below it, how many days may pass
    between counts of a kind of unit and whether its full counts are blind. What is not
    given keeps the value in force there."""
    require(session, actor, "standard.manage")
    if unit_kind not in UNIT_KINDS:
        raise DomainError(_("未知的单位类型：{kind}。").format(kind=unit_kind), field="unit_kind")
    if days is not None:
        days = check_qty(days, field_name="days")
        if days > 3660:
            raise DomainError(_("盘点间隔不能超过 3660 天。"), field="days")
    if blind is not None and not isinstance(blind, bool):
        raise DomainError(_("是否盲盘只能是是或否。"), field="blind")
    owner_id = getattr(actor, "unit_id", None)
    row = session.scalar(
        select(CountInterval).where(
            CountInterval.unit_kind == unit_kind,
            CountInterval.unit_id.is_(None)
            if owner_id is None
            else CountInterval.unit_id == owner_id,
        )
    )
    before = {"days": row.days, "blind": row.blind} if row else None
    if row is None:
        current = count_policy(session, unit_kind, owner_id)
        row = CountInterval(
            unit_id=owner_id, unit_kind=unit_kind, days=current.days, blind=current.blind
        )
        session.add(row)
    if days is not None:
        row.days = days
    if blind is not None:
        row.blind = blind
    session.flush()
    audit.record(
        session,
        actor,
        "count_interval.set",
        object_type="count_intervals",
        object_id=unit_kind,
        unit_id=owner_id,
        before=before,
        after={"days": row.days, "blind": row.blind},
    )
    return row


def set_count_interval(session: Session, unit_kind: str, days, *, actor) -> CountInterval:
    """How many days may pass between counts for a kind of unit (the actor's unit's row)."""
    return set_count_policy(session, unit_kind, days=days, actor=actor)


# ---------------------------------------------------------------- a count


def count_with_lines(session: Session, count_id: int) -> Count | None:
    """A count with its lines, their items and lots read in three queries (two more for
    every line when read one by one: issue 21)."""
    return session.get(
        Count,
        count_id,
        options=[
            selectinload(Count.lines).selectinload(CountLine.item),
            selectinload(Count.lines).selectinload(CountLine.lot),
        ],
    )


def open_count_for(session: Session, unit: Unit) -> Count | None:
    return session.scalar(
        select(Count).where(
            Count.unit_id == unit.id,
            Count.status.in_((*EDITABLE_COUNT_STATUSES, "submitted")),
            Count.is_spot.is_(False),
        )
    )


def shows_book(count: Count) -> bool:
    """Whether book quantities (and so variances) may be shown: not while a blind count is
    still being counted."""
    return not (count.is_blind and count.status in EDITABLE_COUNT_STATUSES)


def position_name(line: CountLine) -> str:
    """A position as people name it: the item, and its lot when it has one."""
    if line.lot is not None:
        return _("{item}（批次 {lot}）").format(item=line.item.name, lot=line.lot.code)
    return line.item.name


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
    count = Count(
        unit_id=unit.id,
        note=check_note(note),
        started_by_id=getattr(actor, "id", None),
        is_blind=count_policy(session, unit.kind, unit.id).blind,
    )
    for pos in session.scalars(
        select(Position).where(Position.unit_id == unit.id).order_by(Position.item_id, Position.id)
    ):
        count.lines.append(
            CountLine(position_id=pos.id, item_id=pos.item_id, lot_id=pos.lot_id, book=pos.qty)
        )
    session.add(count)
    session.flush()
    audit.record(
        session,
        actor,
        "count.start",
        count,
        unit_id=unit.id,
        after={"lines": len(count.lines), "blind": count.is_blind},
    )
    return count


def _editable(count: Count) -> None:
    if count.status not in EDITABLE_COUNT_STATUSES:
        raise Conflict(
            _("盘点第 {id} 号已{status}，不能再修改。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )


def _count_status_text(status: str) -> str:
    return str(COUNT_STATUSES.get(status, status))


def _line_of(count: Count, item: Item, lot: Lot | None) -> CountLine | None:
    lot_id = lot.id if lot else None
    return next((ln for ln in count.lines if ln.item_id == item.id and ln.lot_id == lot_id), None)


def _line_after(line: CountLine, book: bool) -> dict:
    return {
        "item": line.item.code if line.item else None,
        "lot": line.lot.code if line.lot else None,
        "counted": line.counted,
        "not_counted_reason": line.not_counted_reason,
        **({"book": line.book} if book else {}),
    }


def enter_count(
    session: Session, count: Count, item: Item, lot: Lot | None, counted, *, actor
) -> CountLine:
    """Enter the counted quantity of one position (a line is added if it was not on the books)."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    counted = check_qty(counted, field_name="counted", allow_zero=True)
    line = _line_of(count, item, lot)
    if line is None:
        pos = find_position(session, unit.id, item.id, lot.id if lot else None)
        line = CountLine(
            position_id=pos.id if pos else None,
            item_id=item.id,
            lot_id=lot.id if lot else None,
            book=pos.qty if pos else 0,
        )
        count.lines.append(line)
    after = {"item": item.code, "lot": lot.code if lot else None, "counted": counted}
    return _write_line(session, count, line, counted, None, "count.enter", actor, after)


def mark_not_counted(
    session: Session, count: Count, item: Item, lot: Lot | None, reason, *, actor
) -> CountLine:
    """Say why a position on the books was not counted (instead of a counted quantity)."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    reason = check_note(reason if isinstance(reason, str) else "", "not_counted_reason")
    if not reason:
        raise DomainError(_("请说明未清点的原因。"), field="not_counted_reason")
    if len(reason) > REASON_MAX:
        raise DomainError(
            _("未清点原因不能超过 {n} 个字。").format(n=REASON_MAX), field="not_counted_reason"
        )
    line = _line_of(count, item, lot)
    if line is None:
        name = _("{item}（批次 {lot}）").format(item=item.name, lot=lot.code) if lot else item.name
        raise DomainError(
            _("{name} 不在本次盘点的账面上，无需说明未清点原因。").format(name=name),
            field="not_counted_reason",
        )
    after = {"item": item.code, "lot": lot.code if lot else None, "reason": reason}
    return _write_line(session, count, line, None, reason, "count.not_counted", actor, after)


def clear_count_line(session: Session, count: Count, line: CountLine, *, actor) -> CountLine:
    """Take back what was entered for a position: neither counted nor marked any more."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    if line.count_id != count.id:
        raise DomainError(_("该行不属于这次盘点。"), field="lines")
    if line.counted is None and line.not_counted_reason is None:
        return line
    return _write_line(session, count, line, None, None, "count.clear", actor, None)


def _write_line(
    session: Session,
    count: Count,
    line: CountLine,
    counted: int | None,
    reason: str | None,
    action: str,
    actor,
    after: dict | None,
) -> CountLine:
    """Set a position's counted quantity or not-counted reason (or clear both), audited with
    what it was before. ``after`` None: the line as it now stands, without the book."""
    before = {"counted": line.counted, "not_counted_reason": line.not_counted_reason}
    line.counted = counted
    line.not_counted_reason = reason
    cleared = counted is None and reason is None
    line.counted_at = None if cleared else utcnow()
    if not cleared:
        line.counted_by_id = getattr(actor, "id", None)
    session.flush()
    if counted is not None:
        after = {**after, "book": line.book}
    audit.record(
        session,
        actor,
        action,
        count,
        unit_id=count.unit_id,
        before=before,
        after=after if after is not None else _line_after(line, book=False),
    )
    return line


def missing_positions(count: Count) -> list[CountLine]:
    """Positions with stock on the books that are neither counted nor marked not counted."""
    return [
        ln
        for ln in count.lines
        if ln.book > 0 and ln.counted is None and ln.not_counted_reason is None
    ]


def missing_message(lines: list[CountLine]) -> str:
    names = "、".join(position_name(ln) for ln in lines[:NAMED_MAX])
    if len(lines) > NAMED_MAX:
        names = _("{names} 等 {n} 处").format(names=names, n=len(lines))
    return _("以下库存位置既未清点也未说明原因：{names}。").format(names=names)


def submit_count(session: Session, count: Count, *, actor) -> Count:
    """Hand a finished count over for approval: every position with stock is counted or
    marked not counted with a reason (then the count is partial)."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    missing = missing_positions(count)
    if missing:
        raise DomainError(missing_message(missing), field="lines")
    if not any(line.counted is not None for line in count.lines):
        raise DomainError(_("还没有录入任何清点数量。"), field="lines")
    not_counted = [ln for ln in count.lines if ln.not_counted_reason is not None]
    before = {"status": count.status}
    count.status = "submitted"
    count.is_partial = bool(not_counted)
    count.submitted_at = utcnow()
    count.submitted_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "count.submit",
        count,
        unit_id=unit.id,
        before=before,
        after={"status": "submitted", "partial": count.is_partial, "not_counted": len(not_counted)},
    )
    return count


def _counters(count: Count) -> set[int | None]:
    return {count.started_by_id, count.submitted_by_id} | {
        line.counted_by_id for line in count.lines
    }


def _awaiting_decision(count: Count) -> None:
    if count.status != "submitted":
        raise Conflict(
            _("盘点第 {id} 号当前状态为{status}，只有待审批的盘点可以审批。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )


def approve_count(
    session: Session, count: Count, *, actor, today: date | None = None
) -> list[Movement]:
    """Approve a submitted count: each variance becomes an adjustment movement, and each one
    beyond the threshold in force for the unit a corrective action of the unit (source
    ``count``), owned by whoever counted the line, due 14 days after approval."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.approve", unit)
    _awaiting_decision(count)
    if getattr(actor, "id", None) in _counters(count):
        raise PermissionDenied(_("清点人不能审批自己的盘点，请由另一名保管员或指挥部人员审批。"))
    # who owns each variance beyond the threshold is settled before anything is written
    beyond = variances_beyond(session, count, unit)
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
    due_on = (today or date.today()) + timedelta(days=VARIANCE_DUE_DAYS)
    for line, owner in beyond:
        register.add_action(
            session,
            source="count",
            text=variance_text(session, line),
            unit=unit,
            owner=owner,
            due_on=due_on,
            actor=actor,
            audit_after={"count": count.id, "line": line.id},
        )
    audit.record(
        session,
        actor,
        "count.approve",
        count,
        unit_id=unit.id,
        after={
            "adjustments": len(movements),
            "partial": count.is_partial,
            "actions": len(beyond),
        },
    )
    return movements


# ---------------------------------------------------------------- variances into the register

VARIANCE_DUE_DAYS = 14
PCT_MAX = Decimal("100")
QTY_MAX = 1_000_000


@dataclass(frozen=True)
class VarianceThreshold:
    """When a count's variance becomes a corrective action: beyond ``min_qty`` pieces or
    ``min_pct`` percent of the book quantity (either); none set, no actions."""

    min_qty: int | None = None
    min_pct: Decimal | None = None
    # where it was set: a unit's id, None for everywhere
    set_at_unit_id: int | None = None
    is_set: bool = False

    def exceeded(self, book: int, variance: int) -> bool:
        if not self.is_set or variance == 0:
            return False
        size = abs(variance)
        if self.min_qty is not None and size > self.min_qty:
            return True
        if self.min_pct is not None:
            # a variance on nothing in the books is beyond any percentage
            return book == 0 or Decimal(size) * 100 > self.min_pct * book
        return False


def variance_threshold(session: Session, unit_id: int | None) -> VarianceThreshold:
    """The threshold in force at a unit: the nearest unit's up the tree wins, then the one for
    everywhere; none set means no count makes an action."""
    rows = {r.unit_id: r for r in session.scalars(select(CountVarianceThreshold))}
    above = unit_ids_above(session, unit_id) if unit_id is not None else []
    for key in [*above, None]:
        row = rows.get(key)
        if row is not None:
            return VarianceThreshold(row.min_qty, row.min_pct, key, is_set=True)
    return VarianceThreshold()


def _threshold_qty(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DomainError(_("差异数量阈值必须是整数。"), field="min_qty")
    try:
        qty = int(value)
    except ValueError:
        raise DomainError(_("差异数量阈值必须是整数。"), field="min_qty") from None
    if not 0 <= qty <= QTY_MAX:
        raise DomainError(_("差异数量阈值须在 0 到 {n} 之间。").format(n=QTY_MAX), field="min_qty")
    return qty


def _threshold_pct(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        raise DomainError(_("差异百分比阈值必须是数字。"), field="min_pct")
    try:
        pct = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError(_("差异百分比阈值必须是数字。"), field="min_pct") from None
    if not pct.is_finite() or not Decimal(0) <= pct <= PCT_MAX:
        raise DomainError(_("差异百分比阈值须在 0 到 100 之间。"), field="min_pct")
    return pct


def set_variance_threshold(
    session: Session, *, min_qty=None, min_pct=None, actor
) -> CountVarianceThreshold | None:
    """Command staff set, for their own unit and the units below it, when an approved count's
    variance becomes a corrective action: beyond a number of pieces and/or a percentage of
    the book quantity. Neither given clears their unit's setting (the one above applies)."""
    require(session, actor, "standard.manage")
    min_qty, min_pct = _threshold_qty(min_qty), _threshold_pct(min_pct)
    owner_id = getattr(actor, "unit_id", None)
    row = session.scalar(
        select(CountVarianceThreshold).where(
            CountVarianceThreshold.unit_id.is_(None)
            if owner_id is None
            else CountVarianceThreshold.unit_id == owner_id
        )
    )
    before = (
        {"min_qty": row.min_qty, "min_pct": str(row.min_pct) if row.min_pct is not None else None}
        if row
        else None
    )
    if min_qty is None and min_pct is None:
        if row is not None:
            session.delete(row)
        row = None
    else:
        if row is None:
            row = CountVarianceThreshold(unit_id=owner_id)
            session.add(row)
        row.min_qty, row.min_pct = min_qty, min_pct
        row.set_by_id = getattr(actor, "id", None)
        row.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "count_variance_threshold.set",
        object_type="count_variance_thresholds",
        object_id=str(owner_id) if owner_id is not None else "everywhere",
        unit_id=owner_id,
        before=before,
        after={"min_qty": min_qty, "min_pct": str(min_pct) if min_pct is not None else None},
    )
    return row


def _line_owner(
    session: Session, count: Count, line: CountLine, unit: Unit, below: set[int]
) -> User:
    """Whoever counted the line if they still work in the unit (``below``: its subtree),
    else whoever submitted the count, else the unit's responsible person (custodian, clerk,
    command above)."""
    for user_id in (line.counted_by_id, count.submitted_by_id, count.started_by_id):
        user = session.get(User, user_id) if user_id else None
        if user is not None and user.is_active and user.unit_id in below:
            return user
    return register.default_owner(session, unit)


def variances_beyond(session: Session, count: Count, unit: Unit) -> list[tuple[CountLine, User]]:
    """The counted lines whose variance is beyond the threshold in force, with their owner."""
    threshold = variance_threshold(session, unit.id)
    if not threshold.is_set:
        return []
    below = unit_ids_below(session, unit.id)
    return [
        (line, _line_owner(session, count, line, unit, below))
        for line in count.lines
        if line.counted is not None and threshold.exceeded(line.book, line.variance)
    ]


def variance_text(session: Session, line: CountLine) -> str:
    """盘点差异：{item}（批次 {lot}）账面 X，实盘 Y，差异 Z"""
    item = session.get(Item, line.item_id)
    lot = session.get(Lot, line.lot_id) if line.lot_id else None
    values = {
        "item": item.name,
        "book": line.book,
        "counted": line.counted,
        "variance": f"{line.variance:+d}",
    }
    if lot is not None:
        return _(
            "盘点差异：{item}（批次 {lot}）账面 {book}，实盘 {counted}，差异 {variance}"
        ).format(lot=lot.code, **values)
    return _("盘点差异：{item} 账面 {book}，实盘 {counted}，差异 {variance}").format(**values)


def return_count(session: Session, count: Count, reason, *, actor) -> Count:
    """Send a submitted count back for recount, with a reason; what was typed stays."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.approve", unit)
    if count.status != "submitted":
        raise Conflict(
            _("盘点第 {id} 号当前状态为{status}，只有待审批的盘点可以退回。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )
    if getattr(actor, "id", None) in _counters(count):
        raise PermissionDenied(_("清点人不能退回自己的盘点，请由另一名保管员或指挥部人员处理。"))
    reason = check_note(reason if isinstance(reason, str) else "", "reason")
    if not reason:
        raise DomainError(_("请填写退回重盘的原因。"), field="reason")
    count.status = "returned"
    count.is_partial = False
    count.returned_at = utcnow()
    count.returned_by_id = getattr(actor, "id", None)
    count.return_reason = reason
    session.flush()
    audit.record(
        session,
        actor,
        "count.return",
        count,
        unit_id=unit.id,
        before={"status": "submitted"},
        after={"status": "returned", "reason": reason},
    )
    return count


def cancel_count(session: Session, count: Count, *, actor) -> Count:
    """Abandon a count that is not yet approved; nothing is posted."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    if count.status not in (*EDITABLE_COUNT_STATUSES, "submitted"):
        raise Conflict(_("该盘点已结束，不能取消。"))
    count.status = "cancelled"
    count.decided_at = utcnow()
    count.decided_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "count.cancel", count, unit_id=unit.id)
    return count


# ---------------------------------------------------------------- when counts are due


@dataclass
class CountDue:
    unit: Unit
    interval_days: int
    # The oldest last count among the positions holding stock (None: one was never counted).
    last_counted_on: date | None
    due_on: date | None
    overdue: bool
    # Positions holding stock that have never been counted by an approved count.
    never_counted: int = 0


def _scoped(stmt, column, unit_ids: set[int] | None):
    return stmt if unit_ids is None else stmt.where(column.in_(unit_ids))


def _last_counted(
    positions: list[tuple[int, int | None]],
    unit_full: list[tuple[datetime, int]],
    counted: dict[tuple[int, int | None], datetime],
    missed: set[tuple[int, int, int | None]],
) -> list[datetime | None]:
    """When each position of one unit was last counted: the latest approved count that
    counted it, or a full count that did not miss it (it had no stock then, or came after);
    never what a partial count marked not counted. None: never."""
    out = []
    for key in positions:
        best = counted.get(key)
        for decided_at, count_id in unit_full:
            if best is not None and decided_at <= best:
                break
            if (count_id, *key) not in missed:
                best = decided_at
                break
        out.append(best)
    return out


def units_counted_at(
    session: Session, unit_ids: set[int] | None
) -> dict[int, tuple[datetime | None, int]]:
    """For each unit holding stock: the oldest last count among its positions with stock
    (None if one was never counted) and how many were never counted.

    Most units are settled by their latest full count alone (it missed nothing and no spot
    count came after it): their positions are read only where that is not so, because a
    city holds tens of thousands of them."""
    conn = session.connection()
    approved = Count.status == "approved"
    stocked_n = dict(
        conn.execute(
            _scoped(
                select(Position.unit_id, func.count())
                .where(Position.qty > 0)
                .group_by(Position.unit_id),
                Position.unit_id,
                unit_ids,
            )
        ).all()
    )
    full: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for count_id, unit_id, decided_at in conn.execute(
        _scoped(
            select(Count.id, Count.unit_id, Count.decided_at).where(
                approved, Count.is_spot.is_(False)
            ),
            Count.unit_id,
            unit_ids,
        )
    ):
        full[unit_id].append((decided_at, count_id))
    for unit_full in full.values():
        unit_full.sort(reverse=True)
    # The positions a count missed: stock on its books, not counted (marked or left blank).
    missed_rows = conn.execute(
        _scoped(
            select(Count.id, Count.unit_id, CountLine.item_id, CountLine.lot_id)
            .join(Count, Count.id == CountLine.count_id)
            .where(
                approved,
                CountLine.counted.is_(None),
                or_(CountLine.book > 0, CountLine.not_counted_reason.is_not(None)),
            ),
            Count.unit_id,
            unit_ids,
        )
    ).all()
    missed = {(count_id, item_id, lot_id) for count_id, _u, item_id, lot_id in missed_rows}
    latest_full = {unit_id: unit_full[0][1] for unit_id, unit_full in full.items()}
    detail = {u for count_id, u, *_key in missed_rows if latest_full.get(u) == count_id}
    # Approved counts after the unit's latest full count (spot counts), or with none.
    latest = (
        select(Count.unit_id, func.max(Count.decided_at).label("at"))
        .where(approved, Count.is_spot.is_(False))
        .group_by(Count.unit_id)
        .subquery()
    )
    detail |= set(
        conn.execute(
            _scoped(
                select(Count.unit_id)
                .distinct()
                .outerjoin(latest, latest.c.unit_id == Count.unit_id)
                .where(approved, or_(latest.c.at.is_(None), Count.decided_at > latest.c.at)),
                Count.unit_id,
                unit_ids,
            )
        ).scalars()
    )
    counted: dict[int, dict[tuple[int, int | None], datetime]] = defaultdict(dict)
    positions: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    if detail:
        for unit_id, item_id, lot_id, at in conn.execute(
            select(Count.unit_id, CountLine.item_id, CountLine.lot_id, func.max(Count.decided_at))
            .join(Count, Count.id == CountLine.count_id)
            .where(approved, CountLine.counted.is_not(None), Count.unit_id.in_(detail))
            .group_by(Count.unit_id, CountLine.item_id, CountLine.lot_id)
        ):
            counted[unit_id][(item_id, lot_id)] = at
        for unit_id, item_id, lot_id in conn.execute(
            select(Position.unit_id, Position.item_id, Position.lot_id).where(
                Position.qty > 0, Position.unit_id.in_(detail)
            )
        ):
            positions[unit_id].append((item_id, lot_id))
    out: dict[int, tuple[datetime | None, int]] = {}
    for unit_id, n in stocked_n.items():
        if unit_id not in detail:
            # Settled by its latest full count, or never counted at all.
            out[unit_id] = (full[unit_id][0][0], 0) if full.get(unit_id) else (None, n)
            continue
        dates = _last_counted(positions[unit_id], full.get(unit_id, []), counted[unit_id], missed)
        never = sum(1 for at in dates if at is None)
        out[unit_id] = (None if never else min(dates), never)
    return out


def counts_due(session: Session, unit_ids: set[int] | None, *, today: date) -> list[CountDue]:
    """Each unit holding stock, when it was last counted and when the next count is due:
    due when its oldest last-counted position with stock is due, so that what a partial
    count missed keeps its old date."""
    holders = select(Position.unit_id).distinct()
    units = session.scalars(
        _scoped(
            select(Unit).where(Unit.id.in_(holders), Unit.is_active).order_by(Unit.code),
            Unit.id,
            unit_ids,
        )
    ).all()
    by_unit = units_counted_at(session, unit_ids)
    # A unit holding only empty positions: its latest approved count of any kind.
    latest = dict(
        session.connection()
        .execute(
            _scoped(
                select(Count.unit_id, func.max(Count.decided_at))
                .where(Count.status == "approved")
                .group_by(Count.unit_id),
                Count.unit_id,
                unit_ids,
            )
        )
        .all()
    )
    policies = _Policies(session)
    out = []
    for unit in units:
        days = policies.for_unit(unit).days
        last_at, never = by_unit.get(unit.id, (latest.get(unit.id), 0))
        last_on = last_at.date() if last_at else None
        due = last_on + timedelta(days=days) if last_on else None
        out.append(
            CountDue(
                unit, days, last_on, due, overdue=due is None or due < today, never_counted=never
            )
        )
    out.sort(key=lambda d: (d.due_on or date.min, d.unit.code))
    return out

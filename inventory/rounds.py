"""Warehouse safety rounds (库区"日周月"隐患排查, issue 20, item 3).

Command staff keep, per unit and frequency (daily, weekly, monthly), a checklist that applies
to the units below them, the nearest unit's winning. A keeper or clerk records a round from
the phone: every item passed or failed (a failure says why), once per day, ISO week or
month. Each failed item becomes a corrective action of the register (source ``round``),
owned by the unit's responsible person and due in seven days. The overdue list says, per
warehouse and frequency, whether the last period was missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from inventory.rounds_models import FREQUENCIES, RoundAnswer, RoundTemplate, SafetyRound
from readiness import audit, paging
from readiness.checks import check_note, check_past_date
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, Refusals
from readiness.models import Unit
from readiness.permissions import require, unit_ids_above
from rectification.actions import add_action, default_owner

ITEMS_MAX = 50
ITEM_MAX = 200
ACTION_DUE_DAYS = 7
# What the demo (and a bureau starting out) keeps: Dengfeng's "日周月" storage checks.
DEFAULT_ITEMS = {
    "daily": ["门窗锁具完好", "消防器材在位有效", "无漏雨渗水", "温湿度正常"],
    "weekly": ["物资码放整齐、标识清楚", "电源线路和照明完好", "防鼠防潮措施有效"],
    "monthly": ["账物相符抽查", "过期和临期物资已清理", "消防器材压力和有效期检查"],
}


class RoundRefused(Refusals):
    """A round refused, every problem with its field (``readiness.errors.Refusals``)."""


# ---------------------------------------------------------------- periods


def period_start(frequency: str, day: date) -> date:
    """The first day of the period a day falls in: itself, the Monday of its ISO week, the
    first of its month."""
    if frequency == "weekly":
        return day - timedelta(days=day.weekday())
    if frequency == "monthly":
        return day.replace(day=1)
    return day


def previous_period(frequency: str, start: date) -> date:
    """The first day of the period before the one starting on ``start``."""
    if frequency == "weekly":
        return start - timedelta(days=7)
    if frequency == "monthly":
        return (start - timedelta(days=1)).replace(day=1)
    return start - timedelta(days=1)


def period_end(frequency: str, start: date) -> date:
    if frequency == "weekly":
        return start + timedelta(days=6)
    if frequency == "monthly":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start


def period_label(frequency: str, start: date) -> str:
    """The period as people name it: 2026-12-04, 2026 年第 49 周, 2026 年 12 月."""
    if frequency == "weekly":
        year, week, _day = start.isocalendar()
        return _("{year} 年第 {week} 周").format(year=year, week=week)
    if frequency == "monthly":
        return _("{year} 年 {month} 月").format(year=start.year, month=start.month)
    return start.isoformat()


def _frequency(value) -> str:
    if value not in FREQUENCIES:
        raise DomainError(_("排查频次只能是日、周或月。"), field="frequency")
    return value


# ---------------------------------------------------------------- templates


def template_for(session: Session, unit_id: int, frequency: str) -> RoundTemplate | None:
    """The checklist in force at a unit for a frequency: its own, else the nearest unit's
    above it; None when no unit above it keeps one."""
    above = unit_ids_above(session, unit_id)
    rows = {
        t.unit_id: t
        for t in session.scalars(
            select(RoundTemplate).where(
                RoundTemplate.frequency == frequency, RoundTemplate.unit_id.in_(above)
            )
        )
    }
    return next((rows[u] for u in above if u in rows), None)


def parse_items(text) -> list[str]:
    """One item a line; blank lines dropped, each item once."""
    items: list[str] = []
    for line in str(text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) > ITEM_MAX:
            raise DomainError(
                _("每项不能超过 {n} 个字：{item}").format(n=ITEM_MAX, item=line[:20] + "…"),
                field="items",
            )
        if line in items:
            raise DomainError(_("检查项重复：{item}").format(item=line), field="items")
        items.append(line)
    if len(items) > ITEMS_MAX:
        raise DomainError(_("检查项不能超过 {n} 项。").format(n=ITEMS_MAX), field="items")
    return items


def set_template(
    session: Session, unit: Unit, frequency, items_text, *, actor
) -> RoundTemplate | None:
    """Command staff keep a unit's checklist for a frequency (one item a line) for the units
    below it; an empty list removes it, and the checklist above applies again."""
    require(session, actor, "standard.manage", unit)
    frequency = _frequency(frequency)
    items = parse_items(items_text)
    row = session.scalar(
        select(RoundTemplate).where(
            RoundTemplate.unit_id == unit.id, RoundTemplate.frequency == frequency
        )
    )
    before = {"items": list(row.items)} if row else None
    if not items:
        if row is not None:
            session.delete(row)
        row = None
    else:
        if row is None:
            row = RoundTemplate(unit_id=unit.id, frequency=frequency)
            session.add(row)
        row.items = items
        row.set_by_id = getattr(actor, "id", None)
        row.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "round_template.set",
        object_type="round_templates",
        object_id=f"{unit.code}:{frequency}",
        unit_id=unit.id,
        before=before,
        after={"items": items} if items else None,
    )
    return row


# ---------------------------------------------------------------- a round


@dataclass(frozen=True)
class Answer:
    """One checklist item as answered: ``ok`` None when it was left unanswered."""

    item: str
    ok: bool | None
    note: str = ""


def _done_on(raw, today: date) -> date:
    """The day a round was walked: from 2000-01-01 to today."""
    return check_past_date(raw, "done_on", today=today, label=_("排查日期"))


def existing_round(session: Session, unit: Unit, frequency: str, start: date) -> SafetyRound | None:
    return session.scalar(
        select(SafetyRound).where(
            SafetyRound.unit_id == unit.id,
            SafetyRound.frequency == frequency,
            SafetyRound.period_start == start,
        )
    )


def _already(unit: Unit, frequency: str, start: date, done: SafetyRound) -> str:
    return _("{unit}{period}的{frequency}已于 {day} 记录，同一周期只记录一次。").format(
        unit=unit.name,
        period=period_label(frequency, start),
        frequency=FREQUENCIES[frequency],
        day=done.done_on.isoformat(),
    )


def record_round(
    session: Session,
    unit: Unit,
    *,
    frequency,
    done_on,
    answers: list[Answer],
    actor,
    note: str = "",
    today: date | None = None,
) -> SafetyRound:
    """A keeper or clerk records a round of their unit against the checklist in force: every
    item answered, a failure with its reason; each failure becomes a corrective action. One
    round per period; every refusal is given at once and nothing is written."""
    today = today or date.today()
    require(session, actor, "stock.write", unit)
    frequency = _frequency(frequency)
    template = template_for(session, unit.id, frequency)
    if template is None:
        raise DomainError(
            _("{unit}没有{frequency}检查表，请指挥部门先设置。").format(
                unit=unit.name, frequency=FREQUENCIES[frequency]
            ),
            field="frequency",
        )
    problems: list[tuple[str, str]] = []
    when = None
    try:
        when = _done_on(done_on, today)
    except DomainError as err:
        problems.append((err.field or "done_on", err.message))
    try:
        note = check_note(note, "note")
    except DomainError as err:
        problems.append(("note", err.message))
    given: dict[str, Answer] = {}
    for answer in answers:
        if answer.item not in template.items:
            problems.append(
                ("answers", _("检查表中没有这一项：{item}").format(item=str(answer.item)[:40]))
            )
        elif answer.item in given:
            problems.append(("answers", _("这一项回答了两次：{item}").format(item=answer.item)))
        else:
            given[answer.item] = answer
    for n, item in enumerate(template.items):
        answer = given.get(item)
        if answer is None or answer.ok is None:
            problems.append((f"item-{n}", _("请选择合格或不合格：{item}").format(item=item)))
        elif not answer.ok and not (answer.note or "").strip():
            problems.append((f"note-{n}", _("不合格项请写明问题：{item}").format(item=item)))
        elif len((answer.note or "").strip()) > 2000:
            problems.append((f"note-{n}", _("说明不能超过 2000 个字：{item}").format(item=item)))
    if when is not None:
        start = period_start(frequency, when)
        done = existing_round(session, unit, frequency, start)
        if done is not None:
            raise Conflict(_already(unit, frequency, start, done), field="done_on")
    if problems or when is None:
        raise RoundRefused(problems)
    start = period_start(frequency, when)
    entry = SafetyRound(
        unit_id=unit.id,
        frequency=frequency,
        period_start=start,
        done_on=when,
        note=note,
        recorded_by_id=getattr(actor, "id", None),
    )
    session.add(entry)
    try:
        session.flush()
    except IntegrityError:
        # recorded meanwhile by someone else: the caller rolls back
        raise Conflict(
            _("{unit}{period}的{frequency}已经记录，同一周期只记录一次。").format(
                unit=unit.name,
                period=period_label(frequency, start),
                frequency=FREQUENCIES[frequency],
            ),
            field="done_on",
        ) from None
    owner = None
    for n, item in enumerate(template.items):
        answer = given[item]
        row = RoundAnswer(
            round_id=entry.id,
            position=n,
            item=item,
            is_ok=bool(answer.ok),
            note=(answer.note or "").strip(),
        )
        if not answer.ok:
            owner = owner or default_owner(session, unit, actor)
            row.action = add_action(
                session,
                source="round",
                text=_("{frequency}（{period}）：{item}——{note}").format(
                    frequency=FREQUENCIES[frequency],
                    period=period_label(frequency, start),
                    item=item,
                    note=row.note,
                ),
                unit=unit,
                owner=owner,
                due_on=today + timedelta(days=ACTION_DUE_DAYS),
                actor=actor,
                audit_after={"round": entry.id},
            )
        session.add(row)
    session.flush()
    session.refresh(entry)
    audit.record(
        session,
        actor,
        "round.record",
        entry,
        unit_id=unit.id,
        after={
            "frequency": frequency,
            "period": start.isoformat(),
            "done_on": when.isoformat(),
            "failed": [a.item for a in entry.answers if not a.is_ok],
        },
    )
    return entry


# ---------------------------------------------------------------- what is overdue


@dataclass(frozen=True)
class RoundStatus:
    unit: Unit
    frequency: str
    current_start: date
    done_current: bool
    last_start: date | None
    overdue: bool

    @property
    def frequency_label(self) -> str:
        return str(FREQUENCIES[self.frequency])

    @property
    def current_label(self) -> str:
        return period_label(self.frequency, self.current_start)

    @property
    def last_label(self) -> str | None:
        return period_label(self.frequency, self.last_start) if self.last_start else None


def overdue_rows(
    session: Session, unit_ids: set[int] | None, *, today: date | None = None
) -> list[RoundStatus]:
    """Each warehouse (unit of kind ``warehouse``) in these units (None: all) and each
    frequency with a checklist in force there: the last round's period, whether the current
    period (today, this ISO week, this month) is done yet, and whether it is **overdue** —
    the period before the current one (yesterday, last week, last month) has no round,
    unless that period ended before the checklist was first kept. The current period is
    never overdue: it still has time. Overdue first, then not yet done, then by unit."""
    today = today or date.today()
    stmt = select(Unit).where(Unit.kind == "warehouse", Unit.is_active.is_(True))
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    units = session.scalars(stmt.order_by(Unit.code)).all()
    if not units:
        return []
    templates = {(t.unit_id, t.frequency): t for t in session.scalars(select(RoundTemplate))}
    parents = dict(session.execute(select(Unit.id, Unit.parent_id)).all())
    ids = [u.id for u in units]
    last = {
        (r.unit_id, r.frequency): r.last
        for r in session.execute(
            select(
                SafetyRound.unit_id,
                SafetyRound.frequency,
                func.max(SafetyRound.period_start).label("last"),
            )
            .where(SafetyRound.unit_id.in_(ids))
            .group_by(SafetyRound.unit_id, SafetyRound.frequency)
        )
    }
    done = {
        (r.unit_id, r.frequency, r.period_start)
        for r in session.execute(
            select(SafetyRound.unit_id, SafetyRound.frequency, SafetyRound.period_start).where(
                SafetyRound.unit_id.in_(ids),
                SafetyRound.period_start >= previous_period("monthly", today.replace(day=1)),
            )
        )
    }
    rows: list[RoundStatus] = []
    for unit in units:
        chain, current_id = [], unit.id
        while current_id is not None and current_id not in chain:
            chain.append(current_id)
            current_id = parents.get(current_id)
        for frequency in FREQUENCIES:
            template = next(
                (templates[(u, frequency)] for u in chain if (u, frequency) in templates), None
            )
            if template is None:
                continue
            current = period_start(frequency, today)
            previous = previous_period(frequency, current)
            kept_since = template.created_at.date()
            missed = (unit.id, frequency, previous) not in done and period_end(
                frequency, previous
            ) >= kept_since
            rows.append(
                RoundStatus(
                    unit=unit,
                    frequency=frequency,
                    current_start=current,
                    done_current=(unit.id, frequency, current) in done,
                    last_start=last.get((unit.id, frequency)),
                    overdue=missed,
                )
            )
    order = list(FREQUENCIES)
    rows.sort(key=lambda r: (not r.overdue, r.done_current, r.unit.code, order.index(r.frequency)))
    return rows


# Rounds, newest first.
ROUND_ORDER = paging.Order(
    "rounds",
    paging.Key(date, SafetyRound.done_on, descending=True),
    paging.Key(int, SafetyRound.id, descending=True),
)


def rounds_query(unit_ids: set[int] | None):
    """Rounds of these units (None: all), newest first."""
    stmt = select(SafetyRound).options(
        joinedload(SafetyRound.unit), selectinload(SafetyRound.answers)
    )
    if unit_ids is not None:
        stmt = stmt.where(SafetyRound.unit_id.in_(unit_ids))
    return stmt.order_by(SafetyRound.done_on.desc(), SafetyRound.id.desc())


def out_of_reach() -> str:
    return _("您只能查看或记录本单位及下级单位的库区排查。")

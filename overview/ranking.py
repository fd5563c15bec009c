"""Weekly ranking and monthly bulletin (每周排名、每月通报): the units of a reach ranked by how
they close their corrective actions, with the standard's coverage, overdue counts and
overdue drills beside; command staff issue it as a bulletin, kept as it stood.

Which units are ranked: every active unit of the reach that does the work — brigades,
stations, squads, centres, warehouses, towns — and any other unit (a bureau) holding
corrective actions. Figures of actions are as they stood at the end of the period (or
today, for a period not yet over):

- open: actions not closed (verified or cancelled) by then, "done, awaiting verification"
  included;
- overdue: open actions past their due date then, not reported done;
- closed: actions verified or cancelled within the period;
- closure rate = closed ÷ (closed + open): of the work on the unit's table in the period,
  the part closed. A unit with neither has no rate ("—") and is ranked after those with one.

Ranked best first by closure rate, then fewest overdue, then fewest open; equal figures
share a position. Coverage of the standard, overdue counts and overdue drills are read as
they stand when the ranking is made (the shortfall, counts and drills reports of today).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drills import requirements
from inventory import counts
from inventory.shortfall import shortfall
from overview.models import Bulletin
from readiness import audit
from readiness.errors import Conflict, DomainError
from readiness.models import AuditEntry, Unit
from readiness.params import YEAR_MAX, YEAR_MIN, BadParameter
from readiness.permissions import require, unit_ids_below
from rectification.models import CorrectiveAction, DueDateChange

RANKED_KINDS = frozenset({"brigade", "station", "squad", "centre", "warehouse", "town"})
CLOSED = ("verified", "cancelled")


# ---------------------------------------------------------------- the period


@dataclass(frozen=True)
class Period:
    kind: str  # week | month
    start: date
    end: date

    @property
    def key(self) -> str:
        """As the query string writes it: 2026-W49 or 2026-11."""
        if self.kind == "week":
            year, week, _day = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def param(self) -> dict[str, str]:
        return {self.kind: self.key}

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _day = self.start.isocalendar()
            return _("{year}年第{week}周（{start} 至 {end}）").format(
                year=year, week=week, start=self.start.isoformat(), end=self.end.isoformat()
            )
        return _("{year}年{month}月").format(year=self.start.year, month=self.start.month)

    def number(self) -> str:
        """The bulletin's number: 2026年第11期 for November, 2026年第49周 for week 49."""
        if self.kind == "week":
            year, week, _day = self.start.isocalendar()
            return _("{year}年第{n}周").format(year=year, n=week)
        return _("{year}年第{n}期").format(year=self.start.year, n=self.start.month)

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))

    def next(self) -> Period:
        return period_of(self.kind, self.end + timedelta(days=1))


def period_of(kind: str, day: date) -> Period:
    """The week (Monday to Sunday) or calendar month holding ``day``."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period("week", start, start + timedelta(days=6))
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period("month", start, following - timedelta(days=1))


_WEEK = re.compile(r"(\d{4})-W(\d{1,2})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def parse_period(week: str | None, month: str | None, *, today: date) -> Period:
    """``week=2026-W49`` (ISO week) or ``month=2026-11``; the current week when neither.
    A bad value is refused naming its parameter (400)."""
    week = (week or "").strip()
    month = (month or "").strip()
    if week and month:
        raise BadParameter(_("参数 week 和 month 只能填写一个。"), field="month")
    if week:
        found = _WEEK.fullmatch(week)
        try:
            if not found or not YEAR_MIN <= int(found[1]) <= YEAR_MAX:
                raise ValueError
            start = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise BadParameter(_("参数 week 须为 ISO 周，如 2026-W49。"), field="week") from None
        return period_of("week", start)
    if month:
        found = _MONTH.fullmatch(month)
        try:
            if not found or not YEAR_MIN <= int(found[1]) <= YEAR_MAX:
                raise ValueError
            start = date(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise BadParameter(_("参数 month 须为年月，如 2026-11。"), field="month") from None
        return period_of("month", start)
    return period_of("week", today)


# ---------------------------------------------------------------- the ranking


@dataclass
class RankRow:
    position: int
    code: str
    name: str
    kind: str
    open: int
    overdue: int
    closed: int
    rate: float | None  # closed ÷ (closed + open), None without either
    coverage: float | None  # of the standard, None where it asks nothing of the unit
    count_overdue: bool | None  # its stocktake is overdue; None: it holds no stock
    drills_overdue: int | None  # drill kinds overdue this year; None: none required


@dataclass
class Ranking:
    period: Period
    as_of: date  # the day the action figures stand at
    rows: list[RankRow]

    @property
    def named(self) -> list[RankRow]:
        """需要通报的单位: those with overdue actions, the most overdue first."""
        late = [r for r in self.rows if r.overdue]
        return sorted(late, key=lambda r: (-r.overdue, r.code))

    def totals(self) -> dict:
        opened = sum(r.open for r in self.rows)
        closed = sum(r.closed for r in self.rows)
        return {
            "units": len(self.rows),
            "open": opened,
            "overdue": sum(r.overdue for r in self.rows),
            "closed": closed,
            "rate": _rate(closed, opened),
        }

    def as_json(self) -> dict:
        """What a bulletin keeps: everything its PDF prints, as plain values."""
        return {
            "as_of": self.as_of.isoformat(),
            "rows": [asdict(r) for r in self.rows],
            "named": [r.code for r in self.named],
            "totals": self.totals(),
        }


def _rate(closed: int, opened: int) -> float | None:
    return round(closed / (closed + opened), 4) if closed + opened else None


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def ranking(
    session: Session,
    *,
    unit_ids: set[int] | None,
    period: Period,
    today: date,
) -> Ranking:
    """The units of ``unit_ids`` (None: all) ranked for ``period``, in a fixed number of
    queries however many units and actions."""
    as_of = min(period.end, today)
    horizon = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC)
    scoped = (
        (lambda stmt, col: stmt) if unit_ids is None else (lambda s, c: s.where(c.in_(unit_ids)))
    )

    actions = session.execute(
        scoped(
            select(
                CorrectiveAction.id,
                CorrectiveAction.unit_id,
                CorrectiveAction.status,
                CorrectiveAction.due_on,
                CorrectiveAction.done_at,
                CorrectiveAction.verified_at,
                CorrectiveAction.created_at,
            ).where(CorrectiveAction.created_at < horizon),
            CorrectiveAction.unit_id,
        )
    ).all()
    # When a cancelled action was cancelled: its audit entry (the action keeps no date).
    cancelled_ids = {str(a.id) for a in actions if a.status == "cancelled"}
    cancelled_on: dict[int, date] = {}
    if cancelled_ids:
        entries = session.execute(
            scoped(
                select(AuditEntry.object_id, AuditEntry.at).where(
                    AuditEntry.object_type == CorrectiveAction.__tablename__,
                    AuditEntry.action == "action.cancel",
                ),
                AuditEntry.unit_id,
            )
        ).all()
        for object_id, at in entries:
            if object_id in cancelled_ids:
                cancelled_on[int(object_id)] = at.date()
    # A due date moved after the period: the action was due on the old date then.
    due_then: dict[int, tuple[datetime, date]] = {}
    changes = session.execute(
        scoped(
            select(DueDateChange.action_id, DueDateChange.changed_at, DueDateChange.old_due_on)
            .join(CorrectiveAction, CorrectiveAction.id == DueDateChange.action_id)
            .where(DueDateChange.changed_at >= horizon),
            CorrectiveAction.unit_id,
        )
    ).all()
    for action_id, changed_at, old_due_on in changes:
        known = due_then.get(action_id)
        if known is None or changed_at < known[0]:
            due_then[action_id] = (changed_at, old_due_on)

    tally: dict[int, list[int]] = {}  # unit id -> [open, overdue, closed]
    for a in actions:
        if a.status == "verified":
            closed_on = _day(a.verified_at)
        elif a.status == "cancelled":
            closed_on = cancelled_on.get(a.id, _day(a.created_at))
        else:
            closed_on = None
        t = tally.setdefault(a.unit_id, [0, 0, 0])
        if closed_on is not None and closed_on <= as_of:
            if closed_on >= period.start:
                t[2] += 1
            continue
        t[0] += 1
        due_on = due_then[a.id][1] if a.id in due_then else a.due_on
        reported_done = a.done_at is not None and a.done_at.date() <= as_of
        if due_on < as_of and not reported_done:
            t[1] += 1

    units = session.scalars(
        scoped(
            select(Unit).where(
                Unit.is_active,
                Unit.kind.in_(RANKED_KINDS) | Unit.id.in_(list(tally)),
            ),
            Unit.id,
        ).order_by(Unit.code)
    ).all()

    # Coverage of the standard per unit: on hand ÷ required over its lines, each line
    # counting at most what it requires (a surplus of one item covers no other).
    held: dict[int, list[int]] = {}
    for line in shortfall(session, unit_ids=unit_ids, today=today).rows:
        if line.required > 0:
            h = held.setdefault(line.unit.id, [0, 0])
            h[0] += min(line.on_hand, line.required)
            h[1] += line.required
    count_late = {d.unit.id: d.overdue for d in counts.counts_due(session, unit_ids, today=today)}
    drills_late: dict[int, int] = {}
    for r in requirements.compliance(session, today.year, unit_ids=unit_ids, today=today):
        drills_late[r.unit.id] = drills_late.get(r.unit.id, 0) + (r.status == "overdue")

    rows = []
    for unit in units:
        opened, overdue, closed = tally.get(unit.id, (0, 0, 0))
        h = held.get(unit.id)
        rows.append(
            RankRow(
                position=0,
                code=unit.code,
                name=unit.name,
                kind=unit.kind_label,
                open=opened,
                overdue=overdue,
                closed=closed,
                rate=_rate(closed, opened),
                coverage=round(h[0] / h[1], 4) if h else None,
                count_overdue=count_late.get(unit.id),
                drills_overdue=drills_late.get(unit.id),
            )
        )

    def merit(r: RankRow):
        return (r.rate is None, -(r.rate or 0), r.overdue, r.open)

    rows.sort(key=lambda r: (*merit(r), r.code))
    for i, row in enumerate(rows):
        same = i and merit(rows[i - 1]) == merit(row)
        row.position = rows[i - 1].position if same else i + 1
    return Ranking(period, as_of, rows)


# ---------------------------------------------------------------- bulletins


def issue_bulletin(session: Session, unit: Unit, period: Period, *, actor, today: date) -> Bulletin:
    """Issue the period's bulletin of ``unit`` (command staff): the ranking of the unit and
    the units below it, frozen as it stands now. Once per unit and period."""
    require(session, actor, "bulletins.issue", unit)
    if period.start > today:
        raise DomainError(_("该期间尚未开始，不能签发通报。"), field=period.kind)
    if _issued(session, unit, period) is not None:
        raise Conflict(
            _("{unit}已签发过{period}的通报。").format(unit=unit.name, period=period.label)
        )
    frozen = ranking(session, unit_ids=unit_ids_below(session, unit.id), period=period, today=today)
    bulletin = Bulletin(
        unit_id=unit.id,
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        number=period.number(),
        rows=frozen.as_json(),
        issued_by_id=getattr(actor, "id", None),
    )
    session.add(bulletin)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # issued by someone else at the same moment
        raise Conflict(
            _("{unit}已签发过{period}的通报。").format(unit=unit.name, period=period.label)
        ) from None
    totals = frozen.totals()
    audit.record(
        session,
        actor,
        "bulletin.issue",
        bulletin,
        unit_id=unit.id,
        after={
            "number": bulletin.number,
            "period": period.key,
            "units": totals["units"],
            "open": totals["open"],
            "overdue": totals["overdue"],
            "rate": totals["rate"],
        },
        summary=bulletin.number,
    )
    return bulletin


def _issued(session: Session, unit: Unit, period: Period) -> Bulletin | None:
    return session.scalar(
        select(Bulletin).where(
            Bulletin.unit_id == unit.id,
            Bulletin.period_kind == period.kind,
            Bulletin.period_start == period.start,
        )
    )


def issued_for(session: Session, unit_ids: set[int] | None, period: Period) -> list[Bulletin]:
    """Bulletins of the reach issued for this period (to link from the ranking page)."""
    stmt = select(Bulletin).where(
        Bulletin.period_kind == period.kind, Bulletin.period_start == period.start
    )
    if unit_ids is not None:
        stmt = stmt.where(Bulletin.unit_id.in_(unit_ids))
    return list(session.scalars(stmt.order_by(Bulletin.id)))


def bulletins(session: Session, unit_ids: set[int] | None) -> list[Bulletin]:
    """Issued bulletins of the reach, newest first."""
    stmt = select(Bulletin)
    if unit_ids is not None:
        stmt = stmt.where(Bulletin.unit_id.in_(unit_ids))
    return list(session.scalars(stmt.order_by(Bulletin.issued_at.desc(), Bulletin.id.desc())))


def period_of_bulletin(bulletin: Bulletin) -> Period:
    return Period(bulletin.period_kind, bulletin.period_start, bulletin.period_end)

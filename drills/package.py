"""The inspection package (检查资料包), its data: for a unit and a period, every drill it led
or took part in, with participants, ratings, findings and where each corrective action
stands, loaded once for the PDF (``package_pdf``) and the ZIP (``package_zip``)."""

from __future__ import annotations

import re
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from flask_babel import gettext as _gettext
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from drills.models import (
    ACTION_STATUSES,
    ActionExtension,
    ActionReturn,
    Attachment,
    CorrectiveAction,
    Drill,
    Finding,
    drill_units,
)
from drills.requirements import ComplianceRow, compliance
from readiness.errors import DomainError
from readiness.files import content_path
from readiness.models import Unit, User
from readiness.permissions import unit_ids_below

# While a package PDF is made (``package_pdf`` sets it): each text's translation and the
# time zone, looked up once (a year of a city's drills asks for the same few hundred labels
# 200,000 times, and each flask_babel lookup finds the request, the locale and the catalog
# again).
_memo: ContextVar[dict | None] = ContextVar("package_memo", default=None)


def _(text: str) -> str:
    """``text`` translated (flask_babel's gettext, remembered while a package is made)."""
    memo = _memo.get()
    if memo is None:
        return _gettext(text)
    value = memo.get(text)
    if value is None:
        value = memo[text] = _gettext(text)
    return value


def _label(lazy) -> str:
    """A lazily translated label as text, remembered like ``_`` while a package is made."""
    memo = _memo.get()
    if memo is None or isinstance(lazy, str):
        return str(lazy)
    key = ("label", id(lazy))  # the labels are module constants: ids stay theirs
    value = memo.get(key)
    if value is None:
        value = memo[key] = str(lazy)
    return value


MAX_YEARS = 3
OPEN_STATUSES = ("open", "in_progress")
WEAK_RATINGS = ("U", "M")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
PAGE_SIZE = 50  # drills listed per page of the preview
MISSING_NAMES = 20  # missing files named on the preview (the ZIP's manifest names them all)


@dataclass
class PackageData:
    """Everything the PDF and the ZIP need, loaded up front."""

    unit: Unit
    start: date
    end: date
    today: date
    unit_ids: set[int]
    drills: list[Drill]
    # Drills still planned in the period: not held, so not listed, but counted on the cover.
    planned: int
    compliance: dict[int, list[ComplianceRow]] = field(default_factory=dict)
    # People named in the due-date history (DueDateChange keeps only their id).
    users: dict[int, User] = field(default_factory=dict)

    @property
    def actions(self) -> list[CorrectiveAction]:
        return [a for d in self.drills for a in drill_actions(d)]

    @property
    def attachments(self) -> list[Attachment]:
        return [a for d in self.drills for a in d.attachments]


def drill_actions(drill: Drill) -> list[CorrectiveAction]:
    return [a for f in drill.findings for a in f.actions]


def action_counts(actions: list[CorrectiveAction]) -> dict[str, int]:
    """Actions per status, every status listed (zeros included) in the usual order."""
    counts = Counter(a.status for a in actions)
    return {status: counts.get(status, 0) for status in ACTION_STATUSES}


def is_overdue(action: CorrectiveAction, today: date) -> bool:
    return action.status in OPEN_STATUSES and action.due_on < today


def is_evidence(attachment: Attachment) -> bool:
    return attachment.action_id is not None or attachment.kind == "evidence"


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, month=3, day=1)


def check_period(start, end) -> None:
    """From and to must both be dates, in order, at most three years apart."""
    if not isinstance(start, date):
        raise DomainError(_("请填写开始日期。"), field="from")
    if not isinstance(end, date):
        raise DomainError(_("请填写结束日期。"), field="to")
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="to")
    if end >= _years_later(start, MAX_YEARS):
        raise DomainError(
            _("期间不能超过 {n} 年：请分段生成检查资料包。").format(n=MAX_YEARS), field="to"
        )


def _in_package(session: Session, unit: Unit, start: date, end: date):
    """The unit ids below ``unit``, the conditions of a drill of the period that the unit or
    a unit below it led or took part in, and the condition that it was held."""
    ids = unit_ids_below(session, unit.id)
    involved = select(drill_units.c.drill_id).where(drill_units.c.unit_id.in_(ids))
    in_period = (
        Drill.held_on >= start,
        Drill.held_on <= end,
        or_(Drill.lead_unit_id.in_(ids), Drill.id.in_(involved)),
    )
    # As on the compliance page: a planned drill has not happened; a real response has.
    held = or_(Drill.status != "planned", Drill.is_real_incident)
    return ids, in_period, held


# The package's order: by date, then start time (a drill without one last that day), then id.
DRILL_ORDER = (Drill.held_on, Drill.start_time.nulls_last(), Drill.id)


def package_data(
    session: Session, unit: Unit, start: date, end: date, *, today: date | None = None
) -> PackageData:
    """Every drill held from ``start`` to ``end`` that the unit or a unit below it led or
    took part in, by date, with all that the package shows loaded in a fixed few queries."""
    check_period(start, end)
    today = today or date.today()
    ids, in_period, held = _in_package(session, unit, start, end)
    stmt = (
        select(Drill)
        .where(*in_period, held)
        .order_by(*DRILL_ORDER)
        .options(
            selectinload(Drill.kind_row),
            selectinload(Drill.lead_unit),
            selectinload(Drill.units),
            selectinload(Drill.items),
            selectinload(Drill.objectives),
            selectinload(Drill.findings).options(
                selectinload(Finding.objective),
                selectinload(Finding.actions).options(
                    selectinload(CorrectiveAction.owner),
                    selectinload(CorrectiveAction.unit),
                    selectinload(CorrectiveAction.verified_by),
                    selectinload(CorrectiveAction.due_changes),
                    selectinload(CorrectiveAction.attachments),
                    selectinload(CorrectiveAction.done_by),
                    selectinload(CorrectiveAction.extensions).options(
                        selectinload(ActionExtension.requested_by),
                        selectinload(ActionExtension.decided_by),
                    ),
                    selectinload(CorrectiveAction.returns).options(
                        selectinload(ActionReturn.returned_by)
                    ),
                ),
            ),
            selectinload(Drill.attachments).options(
                selectinload(Attachment.action), selectinload(Attachment.uploaded_by)
            ),
        )
    )
    drills = list(session.scalars(stmt))
    planned = session.scalar(select(func.count()).select_from(Drill).where(*in_period, ~held))
    data = PackageData(unit, start, end, today, ids, drills, planned or 0)
    for year in range(start.year, end.year + 1):
        data.compliance[year] = compliance(session, year, unit_ids=ids, today=today)
    changer_ids = {c.changed_by_id for a in data.actions for c in a.due_changes if c.changed_by_id}
    if changer_ids:
        data.users = {
            u.id: u for u in session.scalars(select(User).where(User.id.in_(changer_ids)))
        }
    return data


def file_missing(storage_dir: Path, sha256: str | None) -> bool:
    """True when the stored bytes of a file with this SHA-256 are gone (or it has none)."""
    return not SHA256_RE.match(sha256 or "") or not content_path(storage_dir, sha256).is_file()


@dataclass
class PreviewDrill:
    """One drill as the preview lists it."""

    id: int
    held_on: date
    title: str
    kind: str
    lead_unit: str
    participants: int
    # Corrective actions per status, every status listed
    actions: dict[str, int]


@dataclass
class PackagePreview:
    """What the package will hold, counted in the database, and one page of its drills."""

    unit: Unit
    start: date
    end: date
    today: date
    held: int
    planned: int
    participants: int
    # Corrective actions per status, every status listed, and all of them
    actions: dict[str, int]
    action_total: int
    overdue: int
    attachments: int
    missing: int
    # The first MISSING_NAMES of the missing files' names, in the package's order
    missing_names: list[str]
    drills: list[PreviewDrill]
    # Where the page starts in the whole list (1 for the first page)
    first: int
    # The cursor of the next page (the id of this page's last drill), None on the last page
    next_after: int | None


def _after(cursor: tuple[date, time | None, int]):
    """Drills after ``cursor`` (held on, start time, id) in ``DRILL_ORDER``: a start time
    that is NULL comes last on its day."""
    day, at, drill_id = cursor
    if at is None:
        same_day = and_(Drill.start_time.is_(None), Drill.id > drill_id)
    else:
        same_day = or_(
            Drill.start_time.is_(None),
            Drill.start_time > at,
            and_(Drill.start_time == at, Drill.id > drill_id),
        )
    return or_(Drill.held_on > day, and_(Drill.held_on == day, same_day))


def package_preview(
    session: Session,
    unit: Unit,
    start: date,
    end: date,
    *,
    storage_dir: Path,
    after: int | None = None,
    today: date | None = None,
    page_size: int | None = None,
) -> PackagePreview:
    """What ``package_data`` would hold, counted in SQL (drills, participants, actions per
    status, overdue actions, files and missing files), and the page of its drills that
    follows the drill ``after`` (the first page without it): a few queries, however many
    drills the package holds."""
    check_period(start, end)
    today = today or date.today()
    page_size = page_size or PAGE_SIZE
    _ids, in_period, held = _in_package(session, unit, start, end)
    in_package = select(Drill.id).where(*in_period, held)

    n_held, participants, planned = session.execute(
        select(
            func.count(case((held, 1))),
            func.coalesce(func.sum(case((held, Drill.participants))), 0),
            func.count(case((~held, 1))),
        ).where(*in_period)
    ).one()

    per_status: Counter[str] = Counter()
    overdue = 0
    for status, n, late in session.execute(
        select(
            CorrectiveAction.status,
            func.count(),
            func.count(case((CorrectiveAction.due_on < today, 1))),
        )
        .join(Finding, CorrectiveAction.finding_id == Finding.id)
        .where(Finding.drill_id.in_(in_package))
        .group_by(CorrectiveAction.status)
    ):
        per_status[status] = n
        if status in OPEN_STATUSES:
            overdue += late
    actions = {status: per_status.get(status, 0) for status in ACTION_STATUSES}

    # Each stored file is looked for once, however many attachments share it.
    files = session.execute(
        select(Attachment.sha256, func.count())
        .where(Attachment.drill_id.in_(in_package))
        .group_by(Attachment.sha256)
    ).all()
    gone = {sha for sha, _n in files if file_missing(storage_dir, sha)}
    missing_names: list[str] = []
    if gone:
        missing_names = list(
            session.scalars(
                select(Attachment.filename)
                .join(Drill, Drill.id == Attachment.drill_id)
                .where(Drill.id.in_(in_package), Attachment.sha256.in_(sorted(gone)))
                .order_by(*DRILL_ORDER, Attachment.id)
                .limit(MISSING_NAMES)
            )
        )

    cursor = None
    if after is not None:
        cursor = session.execute(
            select(Drill.held_on, Drill.start_time, Drill.id).where(Drill.id == after)
        ).one_or_none()
    page_filter = [*in_period, held]
    first = 1
    if cursor is not None:
        later = _after(tuple(cursor))
        page_filter.append(later)
        first += session.scalar(
            select(func.count()).select_from(Drill).where(*in_period, held, ~later)
        )
    rows = session.execute(
        select(
            Drill.id,
            Drill.held_on,
            Drill.title,
            Drill.kind,
            Unit.name,
            Drill.participants,
        )
        .join(Unit, Unit.id == Drill.lead_unit_id)
        .where(*page_filter)
        .order_by(*DRILL_ORDER)
        .limit(page_size + 1)
    ).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    by_drill: dict[int, Counter[str]] = {row.id: Counter() for row in rows}
    if rows:
        for drill_id, status, n in session.execute(
            select(Finding.drill_id, CorrectiveAction.status, func.count())
            .join(Finding, CorrectiveAction.finding_id == Finding.id)
            .where(Finding.drill_id.in_(list(by_drill)))
            .group_by(Finding.drill_id, CorrectiveAction.status)
        ):
            by_drill[drill_id][status] = n
    drills = [
        PreviewDrill(
            id=row.id,
            held_on=row.held_on,
            title=row.title,
            kind=row.kind,
            lead_unit=row.name,
            participants=row.participants,
            actions={s: by_drill[row.id].get(s, 0) for s in ACTION_STATUSES},
        )
        for row in rows
    ]
    return PackagePreview(
        unit=unit,
        start=start,
        end=end,
        today=today,
        held=n_held,
        planned=planned,
        participants=participants,
        actions=actions,
        action_total=sum(per_status.values()),
        overdue=overdue,
        attachments=sum(n for _sha, n in files),
        missing=sum(n for sha, n in files if sha in gone),
        missing_names=missing_names,
        drills=drills,
        first=first,
        next_after=drills[-1].id if more else None,
    )


def package_filename(data: PackageData) -> str:
    """An ASCII file name: unit codes are ASCII, so any browser and any unzip tool cope."""
    return f"drill-package-{data.unit.code}-{data.start.isoformat()}-{data.end.isoformat()}"


def period_default(today: date) -> tuple[date, date]:
    """This calendar year."""
    return date(today.year, 1, 1), date(today.year, 12, 31)

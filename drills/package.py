"""The inspection package (检查资料包), its data: for a unit and a period, every drill it led
or took part in, with participants, ratings, findings and where each corrective action
stands, loaded once for the PDF (``package_pdf``) and the ZIP (``package_zip``)."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _gettext
from sqlalchemy import func, or_, select
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


def package_data(
    session: Session, unit: Unit, start: date, end: date, *, today: date | None = None
) -> PackageData:
    """Every drill held from ``start`` to ``end`` that the unit or a unit below it led or
    took part in, by date, with all that the package shows loaded in a fixed few queries."""
    check_period(start, end)
    today = today or date.today()
    ids = unit_ids_below(session, unit.id)
    involved = select(drill_units.c.drill_id).where(drill_units.c.unit_id.in_(ids))
    in_period = (
        Drill.held_on >= start,
        Drill.held_on <= end,
        or_(Drill.lead_unit_id.in_(ids), Drill.id.in_(involved)),
    )
    # As on the compliance page: a planned drill has not happened; a real response has.
    held = or_(Drill.status != "planned", Drill.is_real_incident)
    stmt = (
        select(Drill)
        .where(*in_period, held)
        .order_by(Drill.held_on, Drill.start_time.nulls_last(), Drill.id)
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


def package_filename(data: PackageData) -> str:
    """An ASCII file name: unit codes are ASCII, so any browser and any unzip tool cope."""
    return f"drill-package-{data.unit.code}-{data.start.isoformat()}-{data.end.isoformat()}"


def period_default(today: date) -> tuple[date, date]:
    """This calendar year."""
    return date(today.year, 1, 1), date(today.year, 12, 31)

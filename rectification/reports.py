"""The rectification list (整改清单): every problem of a unit subtree — for a source, a visit
and a period — with its measures, who is responsible, the due date, where it stands (with the
evidence and the verifier) and the day it was closed ("销号"), and the totals the reports
quote: "共 33 个问题，已完成整改 26 个，未完成 7 个，其中逾期 3 个，整改完成率 78.8%".

Closed means verified, or cancelled by command staff; done and awaiting verification is still
open. A problem belongs to the period by the day it was found: an inspection visit's by the
visit date, every other source's by the day it entered the register (its ``created_at`` in the
local time zone) — the register knows no drill, so a drill's date is not used.
The closing day is the verification day, or for a cancelled action the day the audit log
records its cancellation (``action.cancel``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from readiness.errors import DomainError
from readiness.exports import table_response
from readiness.models import AuditEntry
from readiness.pdf import PdfSpace, PdfTable, PdfText, pdf_document
from rectification.models import (
    ACTION_STATUSES,
    CLOSED_STATUSES,
    SOURCES,
    CorrectiveAction,
    InspectionVisit,
)
from rectification.visits import Progress

CLOSED = CLOSED_STATUSES


@dataclass(frozen=True)
class ListRow:
    """One line of the list, numbered from 1."""

    no: int
    action: CorrectiveAction
    overdue: bool
    closed_on: date | None

    @property
    def closed(self) -> bool:
        return self.action.status in CLOSED


@dataclass(frozen=True)
class RectificationList(Progress):
    """The totals of a visit's progress (closed, open, overdue, rate = closed ÷ total to
    three places), over the rows listed."""

    rows: list[ListRow] = field(default_factory=list)


def check_source(source: str | None) -> str | None:
    """The source filter, or a refusal naming the field."""
    if source in (None, ""):
        return None
    if source not in SOURCES:
        raise DomainError(
            _("未知的整改来源：{source}。").format(source=str(source)[:20]), field="source"
        )
    return source


def check_period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise DomainError(_("结束日期不能早于开始日期。"), field="to")


def _local_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tz).astimezone(UTC)


def rectification_list(
    session: Session,
    *,
    unit_ids: set[int] | None,
    source: str | None = None,
    visit_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    today: date,
    tz: tzinfo = UTC,
) -> RectificationList:
    """The list and its totals for the units in ``unit_ids`` (None: every unit), in two
    queries: the actions with their people, units and visits; the cancellation days."""
    source = check_source(source)
    check_period(start, end)
    stmt = (
        select(CorrectiveAction)
        .outerjoin(InspectionVisit, CorrectiveAction.visit_id == InspectionVisit.id)
        .options(
            joinedload(CorrectiveAction.owner),
            joinedload(CorrectiveAction.unit),
            joinedload(CorrectiveAction.verified_by),
            joinedload(CorrectiveAction.visit),
        )
        .order_by(CorrectiveAction.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(CorrectiveAction.unit_id.in_(unit_ids))
    if source:
        stmt = stmt.where(CorrectiveAction.source == source)
    if visit_id is not None:
        stmt = stmt.where(CorrectiveAction.visit_id == visit_id)
    if start or end:
        by_visit, by_entry = [], []
        if start:
            by_visit.append(InspectionVisit.visited_on >= start)
            by_entry.append(CorrectiveAction.created_at >= _local_start(start, tz))
        if end:
            by_visit.append(InspectionVisit.visited_on <= end)
            by_entry.append(CorrectiveAction.created_at < _local_start(end + timedelta(1), tz))
        stmt = stmt.where(
            or_(
                and_(CorrectiveAction.source == "inspection", *by_visit),
                and_(CorrectiveAction.source != "inspection", *by_entry),
            )
        )
    actions = session.scalars(stmt).unique().all()
    cancelled_on = _cancel_days(session, [a.id for a in actions if a.status == "cancelled"], tz)
    rows = []
    for n, a in enumerate(actions, start=1):
        if a.status == "verified" and a.verified_at:
            closed_on = a.verified_at.astimezone(tz).date()
        else:
            closed_on = cancelled_on.get(a.id) if a.status == "cancelled" else None
        overdue = a.status not in CLOSED and a.due_on < today
        rows.append(ListRow(n, a, overdue, closed_on))
    closed = sum(r.closed for r in rows)
    return RectificationList(
        rows=rows,
        total=len(rows),
        closed=closed,
        open=len(rows) - closed,
        overdue=sum(r.overdue for r in rows),
    )


def _cancel_days(session: Session, ids: list[int], tz: tzinfo) -> dict[int, date]:
    """The day each cancelled action was cancelled, from the audit log (its last
    ``action.cancel`` entry)."""
    if not ids:
        return {}
    found: dict[int, date] = {}
    # in chunks: a parameter list has its limits on both databases
    for i in range(0, len(ids), 500):
        chunk = [str(n) for n in ids[i : i + 500]]
        for object_id, at in session.execute(
            select(AuditEntry.object_id, func.max(AuditEntry.at))
            .where(
                AuditEntry.action == "action.cancel",
                AuditEntry.object_type == CorrectiveAction.__tablename__,
                AuditEntry.object_id.in_(chunk),
            )
            .group_by(AuditEntry.object_id)
        ):
            if at is not None:
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                found[int(object_id)] = at.astimezone(tz).date()
    return found


# ---------------------------------------------------------------- words and cells


def totals_sentence(data: RectificationList) -> str:
    """The totals as the reports say them."""
    return _(
        "共 {total} 个问题，已完成整改 {closed} 个，未完成 {open} 个，其中逾期 {overdue} 个，"
        "整改完成率 {rate}%"
    ).format(
        total=data.total,
        closed=data.closed,
        open=data.open,
        overdue=data.overdue,
        rate=f"{data.rate * 100:.1f}",
    )


def header() -> list[str]:
    return [
        _("序号"),
        _("问题"),
        _("整改措施"),
        _("责任单位"),
        _("责任人"),
        _("完成时限"),
        _("完成情况"),
        _("销号日期"),
    ]


def person(row: ListRow) -> str:
    a = row.action
    if a.leader:
        return _("{owner}（责任领导：{leader}）").format(
            owner=a.owner.display_name, leader=a.leader
        )
    return a.owner.display_name


def state(row: ListRow) -> str:
    """完成情况: where it stands, overdue marked, with the evidence and the verifier, or the
    reason it was cancelled."""
    a = row.action
    parts = [str(ACTION_STATUSES[a.status])]
    if row.overdue:
        parts[0] += _("（已逾期）")
    if a.status == "cancelled" and a.cancel_reason:
        parts.append(_("取消原因：{reason}").format(reason=a.cancel_reason))
    if a.evidence and a.status in ("done", "verified"):
        parts.append(_("整改证据：{evidence}").format(evidence=a.evidence))
    if a.status == "verified" and a.verified_by:
        parts.append(_("验证人：{name}").format(name=a.verified_by.display_name))
    return _("；").join(parts)


def cells(row: ListRow) -> list:
    a = row.action
    return [
        row.no,
        a.text,
        a.measures,
        a.unit.name,
        person(row),
        a.due_on.isoformat(),
        state(row),
        row.closed_on.isoformat() if row.closed_on else "",
    ]


# ---------------------------------------------------------------- the files


@dataclass(frozen=True)
class Heading:
    """What a download says of itself: whose list, which source, visit and period, by whom."""

    unit: str
    source: str | None = None
    visit: str | None = None
    start: date | None = None
    end: date | None = None
    generated_by: str = ""
    generated_at: datetime | None = None
    tz: tzinfo = UTC

    def lines(self) -> list[str]:
        lines = [_("单位：{unit}").format(unit=self.unit)]
        if self.source:
            lines.append(_("来源：{source}").format(source=str(SOURCES[self.source])))
        if self.visit:
            lines.append(_("检查：{visit}").format(visit=self.visit))
        if self.start or self.end:
            lines.append(
                _("期间：{start} 至 {end}").format(
                    start=self.start.isoformat() if self.start else "…",
                    end=self.end.isoformat() if self.end else "…",
                )
            )
        else:
            lines.append(_("期间：全部"))
        when = (self.generated_at or datetime.now(UTC)).astimezone(self.tz)
        lines.append(
            _("生成人：{name}　生成时间：{at}").format(
                name=self.generated_by, at=when.strftime("%Y-%m-%d %H:%M")
            )
        )
        return lines


def list_pdf(data: RectificationList, heading: Heading) -> bytes:
    """The list as an A4 landscape PDF, as such lists are handed in: title, whose list and
    when, the totals, the table, and the lines the unit's head and the inspection team sign."""
    return pdf_document(
        _("整改清单"),
        heading.lines(),
        [
            PdfSpace(),
            PdfText(totals_sentence(data)),
            PdfSpace(),
            PdfTable(
                header(),
                [cells(r) for r in data.rows],
                widths=(0.5, 3, 3, 1.4, 1.4, 1.1, 3, 1.1),
            ),
        ],
        signature_line=_(
            "单位负责人（签字）：__________  日期：__________    "
            "检查组（签字）：__________  日期：__________"
        ),
        landscape_page=True,
    )


def list_download(fmt: str, data: RectificationList, heading: Heading):
    """CSV, XLSX or PDF of the list (None for another format). The spreadsheets end with the
    totals on a line of their own."""

    def rows():
        yield from (cells(r) for r in data.rows)
        yield [_("合计"), totals_sentence(data)]

    name = f"rectification-list-{(heading.generated_at or datetime.now(UTC)):%Y%m%d}"
    return table_response(fmt, name, header(), rows(), pdf=lambda: list_pdf(data, heading))

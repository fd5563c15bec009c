"""Inspection visits (督察检查): an inspection team or a superior unit records a visit to a
unit — its kind, date, team and summary — and what it found; each finding becomes a
corrective action in the register, owned by the responsible person of the unit concerned,
with the measures planned, the responsible leader and a due date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from readiness import audit
from readiness import checks as core
from readiness.errors import DomainError
from readiness.models import Unit, User
from readiness.permissions import can, require, unit_ids_below
from rectification.models import CLOSED_STATUSES, VISIT_KINDS, CorrectiveAction, InspectionVisit

TEXT_MAX = 5000
TEAM_MAX = 500
LEADER_MAX = 60
FINDINGS_MAX = 200
CLOSED = CLOSED_STATUSES
_LABELS = {
    "kind": _l("检查类型"),
    "visited_on": _l("检查日期"),
    "team": _l("检查组成员"),
    "summary": _l("检查情况"),
    "text": _l("问题"),
    "measures": _l("整改措施"),
    "leader": _l("责任领导"),
    "owner": _l("责任人"),
    "unit": _l("责任单位"),
    "due_on": _l("完成时限"),
}


def _label(field: str) -> str:
    return str(_LABELS[field])


@dataclass(frozen=True)
class VisitFinding:
    """One problem the visit found, for the register."""

    text: str
    unit: Unit | None
    owner: User | None
    due_on: date | None
    measures: str = ""
    leader: str = ""


@dataclass(frozen=True)
class Progress:
    """Where a visit's problems stand: "33 个问题，已完成整改 26 个，未完成 7 个"."""

    total: int
    closed: int
    open: int
    overdue: int

    @property
    def rate(self) -> float:
        return round(self.closed / self.total, 3) if self.total else 0.0


def actions_in(visit: InspectionVisit, unit_ids: set[int] | None) -> list[CorrectiveAction]:
    """The visit's actions in these units (None: all): a station reads its own problems of
    a bureau-wide visit, not its neighbours'."""
    return [a for a in visit.actions if unit_ids is None or a.unit_id in unit_ids]


def progress(
    visit: InspectionVisit, today: date, actions: list[CorrectiveAction] | None = None
) -> Progress:
    """Closed means verified, or cancelled by command staff; done and awaiting verification
    is still open. ``actions``: those a reader may see (all of the visit's by default)."""
    actions = visit.actions if actions is None else actions
    closed = sum(a.status in CLOSED for a in actions)
    overdue = sum(a.status not in CLOSED and a.due_on < today for a in actions)
    return Progress(len(actions), closed, len(actions) - closed, overdue)


def _in_row(n: int, err: DomainError) -> DomainError:
    return DomainError(
        _("第 {n} 个问题：{message}").format(n=n, message=err.message), field="findings"
    )


def _check_finding(
    session: Session, n: int, f: VisitFinding, visited: Unit, today: date, actor
) -> None:
    try:
        core.check_text(f.text, "text", limit=TEXT_MAX, required=True, label=_label("text"))
        core.check_text(f.measures, "measures", limit=TEXT_MAX, label=_label("measures"))
        core.check_text(f.leader, "leader", limit=LEADER_MAX, label=_label("leader"))
        if f.unit is None:
            raise DomainError(_("请选择责任单位。"), field="unit")
        if f.unit.id not in unit_ids_below(session, visited.id):
            raise DomainError(
                _("责任单位 {unit} 不是被检查单位 {visited} 或其下级单位。").format(
                    unit=f.unit.name, visited=visited.name
                ),
                field="unit",
            )
        require(session, actor, "visits.record", f.unit)
        if f.owner is None:
            raise DomainError(_("请指定责任人。"), field="owner")
        if not f.owner.is_active:
            raise DomainError(
                _("责任人 {name} 的账号已停用。").format(name=f.owner.display_name), field="owner"
            )
        if f.owner.unit_id is None or f.owner.unit_id not in unit_ids_below(session, f.unit.id):
            raise DomainError(
                _("责任人 {name} 不属于责任单位 {unit}。").format(
                    name=f.owner.display_name, unit=f.unit.name
                ),
                field="owner",
            )
        if not isinstance(f.due_on, date):
            raise DomainError(_("请填写完成时限。"), field="due_on")
        if f.due_on < today:
            raise DomainError(_("完成时限不能早于今天。"), field="due_on")
    except DomainError as err:
        raise _in_row(n, err) from None


def record_visit(
    session: Session,
    *,
    kind: str,
    unit: Unit | None,
    visited_on,
    team: str,
    summary: str,
    findings: list[VisitFinding],
    actor,
    today: date | None = None,
) -> InspectionVisit:
    """Record a visit and turn each of its findings into a corrective action. Everything is
    checked before anything is written; a visit that found nothing is recorded as such."""
    today = today or date.today()
    if kind not in VISIT_KINDS:
        raise DomainError(_("未知的检查类型：{kind}。").format(kind=str(kind)[:30]), field="kind")
    if unit is None:
        raise DomainError(_("请选择被检查单位。"), field="unit")
    require(session, actor, "visits.record", unit)
    visited_on = core.check_past_date(
        visited_on, "visited_on", today=today, label=_label("visited_on")
    )
    team = core.check_text(team, "team", limit=TEAM_MAX, label=_label("team"))
    summary = core.check_text(summary, "summary", limit=TEXT_MAX, label=_label("summary"))
    if len(findings) > FINDINGS_MAX:
        raise DomainError(
            _("一次检查最多登记 {n} 个问题。").format(n=FINDINGS_MAX), field="findings"
        )
    for n, f in enumerate(findings, start=1):
        _check_finding(session, n, f, unit, today, actor)
    visit = InspectionVisit(
        kind=kind,
        unit=unit,
        visited_on=visited_on,
        team=team,
        summary=summary,
        created_by_id=getattr(actor, "id", None),
    )
    session.add(visit)
    for f in findings:
        visit.actions.append(
            CorrectiveAction(
                source="inspection",
                text=f.text.strip(),
                measures=(f.measures or "").strip(),
                leader=(f.leader or "").strip(),
                owner=f.owner,
                unit_id=f.unit.id,
                due_on=f.due_on,
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "visit.record",
        visit,
        unit_id=unit.id,
        after={
            "kind": kind,
            "visited_on": visited_on.isoformat(),
            "team": team,
            "findings": len(findings),
        },
    )
    for a in visit.actions:
        audit.record(
            session,
            actor,
            "action.create",
            a,
            unit_id=a.unit_id,
            after={
                "source": "inspection",
                "visit_id": visit.id,
                "owner": a.owner.username,
                "due_on": a.due_on.isoformat(),
            },
        )
    return visit


def visit_visible(session: Session, actor, visit: InspectionVisit) -> bool:
    """Whoever reads the unit visited, or any unit one of its findings belongs to."""
    units = {visit.unit_id, *(a.unit_id for a in visit.actions)}
    return any(can(session, actor, "visits.view", u) for u in units)

"""Drill records, corrective actions that only close with evidence and a second person,
drill requirements and compliance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, extract, func, or_, select
from sqlalchemy.orm import Session

from drills.models import (
    DRILL_KINDS,
    ELEMENTS,
    RATINGS,
    CorrectiveAction,
    Drill,
    DrillObjective,
    DrillRequirement,
    DueDateChange,
    Finding,
    drill_units,
)
from readiness import audit
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit, User
from readiness.permissions import require

TITLE_MAX = 200
TEXT_MAX = 5000


def _text(value, field: str, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    value = (value or "").strip() if isinstance(value, str) else value
    if value is None or value == "":
        if required:
            raise DomainError(_("请填写{field}。").format(field=_field_label(field)), field=field)
        return ""
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=field), field=field)
    if len(value) > limit:
        raise DomainError(
            _("{field}不能超过 {n} 个字。").format(field=_field_label(field), n=limit), field=field
        )
    return value


def _field_label(field: str) -> str:
    return {
        "title": _("标题"),
        "text": _("内容"),
        "evidence": _("整改证据"),
        "reason": _("原因"),
        "scenario": _("情景"),
    }.get(field, field)


def _count(value, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_("{field} 必须是整数。").format(field=field), field=field)
    if not 0 <= value <= maximum:
        raise DomainError(
            _("{field} 应在 0 到 {n} 之间。").format(field=field, n=maximum), field=field
        )
    return value


@dataclass(frozen=True)
class FindingInput:
    text: str
    owner: User | None = None
    due_on: date | None = None
    element: str = "planning"
    is_strength: bool = False


def create_drill(
    session: Session,
    *,
    title: str,
    kind: str,
    held_on: date,
    lead_unit: Unit,
    units: Sequence[Unit] = (),
    participants: int = 0,
    duration_minutes: int = 0,
    scenario: str = "",
    location: str = "",
    is_real_incident: bool = False,
    hands_on_training: bool = False,
    summary: str = "",
    findings: Sequence[FindingInput] = (),
    objectives: Sequence[tuple[str, str | None]] = (),
    actor,
    today: date | None = None,
) -> Drill:
    """Record a drill (planned if its date is still ahead) with its findings and actions."""
    require(session, actor, "drills.write", lead_unit)
    today = today or date.today()
    title = _text(title, "title", limit=TITLE_MAX)
    if kind not in DRILL_KINDS:
        raise DomainError(_("未知的演练类型：{kind}。").format(kind=str(kind)[:30]), field="kind")
    if not isinstance(held_on, date):
        raise DomainError(_("请填写演练日期。"), field="held_on")
    if held_on.year < 2000 or held_on > today + timedelta(days=366 * 2):
        raise DomainError(_("演练日期不合理。"), field="held_on")
    drill = Drill(
        title=title,
        kind=kind,
        form="tabletop" if kind == "tabletop" else "live",
        held_on=held_on,
        lead_unit=lead_unit,
        participants=_count(participants, "participants", 100_000),
        duration_minutes=_count(duration_minutes, "duration_minutes", 60 * 24 * 14),
        scenario=_text(scenario, "scenario", required=False),
        location=_text(location, "location", required=False, limit=200),
        is_real_incident=bool(is_real_incident),
        hands_on_training=bool(hands_on_training),
        summary=_text(summary, "summary", required=False),
        status="held" if held_on <= today else "planned",
        created_by_id=getattr(actor, "id", None),
    )
    drill.units = list({u.id: u for u in [lead_unit, *units]}.values())
    session.add(drill)
    for n, (objective, rating) in enumerate(objectives, start=1):
        objective = _text(objective, "text", limit=1000)
        if rating not in (None, "", *RATINGS):
            raise DomainError(
                _("第 {n} 个目标：评价只能是 P、S、M 或 U。").format(n=n), field="objectives"
            )
        drill.objectives.append(DrillObjective(text=objective, rating=rating or None))
    for n, f in enumerate(findings, start=1):
        try:
            add_finding(session, drill, f, actor=actor, audit_it=False)
        except DomainError as err:
            raise DomainError(
                _("第 {n} 条发现：{message}").format(n=n, message=err.message), field="findings"
            ) from None
    session.flush()
    audit.record(
        session,
        actor,
        "drill.create",
        drill,
        unit_id=lead_unit.id,
        after={
            "title": title,
            "kind": kind,
            "held_on": held_on.isoformat(),
            "findings": len(findings),
        },
    )
    return drill


def add_finding(
    session: Session, drill: Drill, f: FindingInput, *, actor, audit_it: bool = True
) -> Finding:
    """A strength, or an area for improvement with its corrective action."""
    require(session, actor, "drills.write", drill.lead_unit)
    text = _text(f.text, "text")
    finding = Finding(drill=drill, text=text, is_strength=bool(f.is_strength))
    session.add(finding)
    if not f.is_strength:
        if f.owner is None:
            raise DomainError(_("改进事项必须指定负责人。"), field="owner")
        if not f.owner.is_active:
            raise DomainError(
                _("负责人 {name} 的账号已停用。").format(name=f.owner.display_name), field="owner"
            )
        if not isinstance(f.due_on, date):
            raise DomainError(_("改进事项必须有完成期限。"), field="due_on")
        if f.element not in ELEMENTS:
            raise DomainError(
                _("未知的能力要素：{e}。").format(e=str(f.element)[:20]), field="element"
            )
        finding.actions.append(
            CorrectiveAction(
                text=text,
                element=f.element,
                owner=f.owner,
                unit_id=f.owner.unit_id or drill.lead_unit.id,
                due_on=f.due_on,
            )
        )
    session.flush()
    if audit_it:
        audit.record(
            session, actor, "finding.add", finding, unit_id=drill.lead_unit.id, after={"text": text}
        )
    return finding


# ---------------------------------------------------------------- corrective actions


def _action_snapshot(a: CorrectiveAction) -> dict:
    return {
        "status": a.status,
        "due_on": a.due_on.isoformat(),
        "evidence": a.evidence or None,
        "owner": a.owner.username,
    }


def start_action(session: Session, action: CorrectiveAction, *, actor) -> CorrectiveAction:
    """The owner starts work on an action."""
    _owner_or_command(session, action, actor)
    if action.status != "open":
        raise Conflict(_("只有未开始的整改事项可以标记为整改中。"))
    before = _action_snapshot(action)
    action.status = "in_progress"
    session.flush()
    audit.record(
        session,
        actor,
        "action.start",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_action_snapshot(action),
    )
    return action


def _owner_or_command(session: Session, action: CorrectiveAction, actor) -> None:
    if getattr(actor, "id", None) == action.owner_id:
        return
    require(session, actor, "drills.write", action.unit_id)


def mark_done(
    session: Session, action: CorrectiveAction, evidence: str, *, actor
) -> CorrectiveAction:
    """Report an action done; without evidence it is refused."""
    _owner_or_command(session, action, actor)
    if action.status not in ("open", "in_progress"):
        raise Conflict(
            _("该整改事项当前为“{status}”，不能再标记完成。").format(status=_status(action))
        )
    evidence = _text(evidence, "evidence")
    before = _action_snapshot(action)
    action.status = "done"
    action.evidence = evidence
    action.done_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "action.done",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_action_snapshot(action),
    )
    return action


def verify_action(session: Session, action: CorrectiveAction, *, actor) -> CorrectiveAction:
    """Confirm the fix is real: by command staff or an inspector who is not the owner."""
    require(session, actor, "actions.verify")
    if getattr(actor, "id", None) == action.owner_id:
        raise PermissionDenied(_("负责人不能验证自己的整改事项，须由他人核验。"))
    if action.status != "done":
        raise Conflict(
            _("只有已完成并附有证据的整改事项才能验证（当前为“{status}”）。").format(
                status=_status(action)
            )
        )
    before = _action_snapshot(action)
    action.status = "verified"
    action.verified_at = utcnow()
    action.verified_by_id = actor.id
    session.flush()
    audit.record(
        session,
        actor,
        "action.verify",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_action_snapshot(action),
    )
    return action


def move_due_date(
    session: Session, action: CorrectiveAction, new_due_on: date, reason: str, *, actor
) -> CorrectiveAction:
    """Move a deadline; the reason and the old date are kept."""
    _owner_or_command(session, action, actor)
    if action.status in ("verified", "cancelled"):
        raise Conflict(_("已销号或已取消的整改事项不能改期。"))
    reason = _text(reason, "reason", limit=500)
    if not isinstance(new_due_on, date):
        raise DomainError(_("请填写新的完成期限。"), field="due_on")
    if new_due_on == action.due_on:
        raise DomainError(_("新期限与原期限相同。"), field="due_on")
    before = _action_snapshot(action)
    session.add(
        DueDateChange(
            action=action,
            old_due_on=action.due_on,
            new_due_on=new_due_on,
            reason=reason,
            changed_by_id=getattr(actor, "id", None),
        )
    )
    action.due_on = new_due_on
    session.flush()
    audit.record(
        session,
        actor,
        "action.move_due",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_action_snapshot(action),
        summary=reason,
    )
    return action


def _status(action: CorrectiveAction) -> str:
    from drills.models import ACTION_STATUSES

    return str(ACTION_STATUSES.get(action.status, action.status))


def actions_query(
    *,
    status: str | None = None,
    owner: User | None = None,
    unit_ids: set[int] | None = None,
    overdue_on: date | None = None,
):
    """Corrective actions by status, owner, unit (subtree) or overdue on a date."""
    stmt = select(CorrectiveAction).order_by(CorrectiveAction.due_on, CorrectiveAction.id)
    if status:
        stmt = stmt.where(CorrectiveAction.status == status)
    if owner is not None:
        stmt = stmt.where(CorrectiveAction.owner_id == owner.id)
    if unit_ids is not None:
        stmt = stmt.where(CorrectiveAction.unit_id.in_(unit_ids))
    if overdue_on is not None:
        stmt = stmt.where(
            CorrectiveAction.due_on < overdue_on,
            CorrectiveAction.status.in_(("open", "in_progress")),
        )
    return stmt


def orphaned_actions(session: Session) -> list[CorrectiveAction]:
    """Unfinished actions whose owner's account is deactivated (moved post)."""
    return list(
        session.scalars(
            select(CorrectiveAction)
            .join(User, User.id == CorrectiveAction.owner_id)
            .where(
                User.is_active.is_(False),
                CorrectiveAction.status.in_(("open", "in_progress", "done")),
            )
            .order_by(CorrectiveAction.due_on)
        )
    )


# ---------------------------------------------------------------- requirements and compliance


@dataclass(frozen=True)
class RequirementInput:
    unit_kind: str
    drill_kind: str
    per_year: object


def set_requirements(
    session: Session, lines: Sequence[RequirementInput], *, actor
) -> list[DrillRequirement]:
    """Replace the drill requirements (how many drills of which kind per unit kind a year)."""
    require(session, actor, "drills.requirements")
    seen = set()
    rows = []
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=str(line.unit_kind)[:20]),
                field="lines",
            )
        if line.drill_kind not in DRILL_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的演练类型 {kind}。").format(n=n, kind=str(line.drill_kind)[:30]),
                field="lines",
            )
        per_year = line.per_year
        if isinstance(per_year, bool) or not isinstance(per_year, int) or not 1 <= per_year <= 365:
            raise DomainError(
                _("第 {n} 行：每年次数应为 1 到 365 的整数。").format(n=n), field="lines"
            )
        key = (line.unit_kind, line.drill_kind)
        if key in seen:
            raise DomainError(_("第 {n} 行重复。").format(n=n), field="lines")
        seen.add(key)
        rows.append(
            DrillRequirement(
                unit_kind=line.unit_kind, drill_kind=line.drill_kind, per_year=per_year
            )
        )
    before = {
        f"{r.unit_kind}/{r.drill_kind}": r.per_year
        for r in session.scalars(select(DrillRequirement))
    }
    session.execute(delete(DrillRequirement))
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_requirements.set",
        object_type="drill_requirements",
        object_id="all",
        before=before,
        after={f"{r.unit_kind}/{r.drill_kind}": r.per_year for r in rows},
    )
    return rows


@dataclass
class ComplianceRow:
    unit: Unit
    drill_kind: str
    required: int
    held: int
    last_held_on: date | None
    next_due_on: date | None
    status: str  # ok | due | overdue


def compliance(
    session: Session, year: int, *, unit_ids: set[int] | None = None, today: date | None = None
) -> list[ComplianceRow]:
    """Per unit and drill kind: required this year, held (led or took part; real incident
    responses count), last held, next due and whether it is ok, due or overdue."""
    today = today or date.today()
    reqs: dict[str, list[DrillRequirement]] = {}
    for r in session.scalars(select(DrillRequirement)):
        reqs.setdefault(r.unit_kind, []).append(r)
    units_stmt = select(Unit).where(Unit.is_active, Unit.kind.in_(list(reqs)))
    if unit_ids is not None:
        units_stmt = units_stmt.where(Unit.id.in_(unit_ids))
    units = session.scalars(units_stmt.order_by(Unit.code)).all()
    held_stmt = (
        select(drill_units.c.unit_id, Drill.kind, func.count(), func.max(Drill.held_on))
        .join(Drill, Drill.id == drill_units.c.drill_id)
        .where(
            extract("year", Drill.held_on) == year,
            or_(Drill.status != "planned", Drill.is_real_incident),
            Drill.held_on <= today,
        )
        .group_by(drill_units.c.unit_id, Drill.kind)
    )
    held = {(u, k): (n, last) for u, k, n, last in session.execute(held_stmt)}
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    out = []
    for unit in units:
        for r in reqs.get(unit.kind, []):
            n, last = held.get((unit.id, r.drill_kind), (0, None))
            interval = timedelta(days=math.floor(365 / r.per_year))
            next_due = (last or year_start - timedelta(days=1)) + interval
            next_due = min(next_due, year_end)
            if n >= r.per_year:
                status, next_due = "ok", None
            elif today > next_due or today > year_end:
                status = "overdue"
            else:
                status = "due"
            out.append(ComplianceRow(unit, r.drill_kind, r.per_year, n, last, next_due, status))
    order = {"overdue": 0, "due": 1, "ok": 2}
    out.sort(key=lambda row: (order[row.status], row.unit.code, row.drill_kind))
    return out

"""Drill records, corrective actions that only close with evidence and a second person,
drill requirements and compliance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from drills.models import (
    DRILL_STATUSES,
    ELEMENTS,
    FAMILIES,
    FORMS,
    RATINGS,
    SCOPES,
    CorrectiveAction,
    Drill,
    DrillKind,
    DrillObjective,
    DrillRequirement,
    DueDateChange,
    Finding,
    drill_units,
)
from inventory.models import Item
from readiness import audit
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit, User
from readiness.permissions import in_scope, require

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
        "name": _("名称"),
        "participants": _("参演人数"),
        "duration_minutes": _("时长（分钟）"),
        "hazard": _("灾种"),
        "location": _("地点"),
        "roster": _("参演人员名单"),
        "purpose": _("演练目的"),
        "summary": _("演练经过"),
        "problems": _("问题和原因"),
        "lessons": _("经验教训"),
    }.get(field, field)


def _count(value, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_("{field}必须是整数。").format(field=_field_label(field)), field=field)
    if not 0 <= value <= maximum:
        raise DomainError(
            _("{field}应在 0 到 {n} 之间。").format(field=_field_label(field), n=maximum),
            field=field,
        )
    return value


# ---------------------------------------------------------------- drill kinds


def drill_kinds(session: Session, *, active_only: bool = False) -> dict[str, tuple[str, str]]:
    """Drill kinds in display order: code -> (name in the user's language, family)."""
    stmt = select(DrillKind).order_by(DrillKind.position, DrillKind.code)
    if active_only:
        stmt = stmt.where(DrillKind.is_active)
    return {k.code: (k.label, k.family) for k in session.scalars(stmt)}


def _kind(session: Session, code, *, field: str = "kind", row: int | None = None) -> str:
    kind = session.get(DrillKind, code) if isinstance(code, str) else None
    if kind is None or not kind.is_active:
        message = _("未知的演练类型：{kind}。").format(kind=str(code)[:30])
        if row is not None:
            message = _("第 {n} 行：{message}").format(n=row, message=message)
        raise DomainError(message, field=field)
    return kind.code


def save_drill_kind(
    session: Session, *, code: str, name: str, family: str, is_active: bool = True, actor
) -> DrillKind:
    """Add a drill kind, or rename, re-map or retire one (codes never change: the API uses them)."""
    require(session, actor, "drills.requirements")
    code = (code or "").strip() if isinstance(code, str) else ""
    if not code or len(code) > 30 or not code.isascii() or not code.replace("_", "").isalnum():
        raise DomainError(_("类型代码只能用英文字母、数字和下划线，最多 30 个字符。"), field="code")
    name = _text(name, "name", limit=60)
    if family not in FAMILIES:
        raise DomainError(_("请选择国际通行的演练类别。"), field="family")
    kind = session.get(DrillKind, code)
    before = None
    if kind is None:
        kind = DrillKind(code=code, position=100)
        session.add(kind)
    else:
        before = {"name": kind.name, "family": kind.family, "is_active": kind.is_active}
    kind.name, kind.family, kind.is_active = name, family, bool(is_active)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_kind.save",
        object_type="drill_kind",
        object_id=code,
        before=before,
        after={"name": name, "family": family, "is_active": kind.is_active},
    )
    return kind


# ---------------------------------------------------------------- drills


class AlreadyRecorded(Conflict):
    """This form was already submitted: the drill it recorded is ``drill_id``."""

    def __init__(self, drill_id: int | None):
        super().__init__(_("这张表单已经登记过，未重复记录。"))
        self.drill_id = drill_id


def drill_visible(session: Session, actor, drill: Drill) -> bool:
    """A drill is seen by whoever may see its lead unit or any unit that took part."""
    return any(in_scope(session, actor, u) for u in [drill.lead_unit, *drill.units])


@dataclass(frozen=True)
class FindingInput:
    text: str
    owner: User | None = None
    due_on: date | None = None
    element: str = "planning"
    is_strength: bool = False
    objective: int | None = None  # 1-based position among the drill's objectives


def _duration(start: time | None, end: time | None, minutes) -> int:
    if start is None and end is None:
        return _count(minutes, "duration_minutes", 60 * 24 * 14)
    if start is None or end is None:
        raise DomainError(_("请同时填写开始和结束时间。"), field="start_time")
    if end <= start:
        raise DomainError(_("结束时间应晚于开始时间。"), field="end_time")
    if minutes:
        return _count(minutes, "duration_minutes", 60 * 24 * 14)
    span = datetime.combine(date.min, end) - datetime.combine(date.min, start)
    return span.seconds // 60


def _facts(
    session: Session,
    *,
    title,
    kind,
    held_on,
    participants,
    duration_minutes,
    start_time,
    end_time,
    form,
    scope,
    hazard,
    scenario,
    location,
    roster,
    is_real_incident,
    hands_on_training,
    today: date,
) -> dict:
    """The drill's facts, checked: the column values for a new or corrected record."""
    title = _text(title, "title", limit=TITLE_MAX)
    kind = _kind(session, kind)
    if not isinstance(held_on, date):
        raise DomainError(_("请填写演练日期。"), field="held_on")
    if held_on.year < 2000 or held_on > today + timedelta(days=366 * 2):
        raise DomainError(_("演练日期不合理。"), field="held_on")
    form = form or ("tabletop" if kind == "tabletop" else "live")
    if form not in FORMS:
        raise DomainError(_("演练形式只能是实战或桌面。"), field="form")
    if scope not in SCOPES:
        raise DomainError(_("演练范围只能是综合或单项。"), field="scope")
    return {
        "title": title,
        "kind": kind,
        "form": form,
        "scope": scope,
        "hazard": _text(hazard, "hazard", required=False, limit=100),
        "held_on": held_on,
        "start_time": start_time,
        "end_time": end_time,
        "participants": _count(participants, "participants", 100_000),
        "duration_minutes": _duration(start_time, end_time, duration_minutes),
        "scenario": _text(scenario, "scenario", required=False),
        "location": _text(location, "location", required=False, limit=200),
        "roster": _text(roster, "roster", required=False),
        "is_real_incident": bool(is_real_incident),
        "hands_on_training": bool(hands_on_training),
    }


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
    start_time: time | None = None,
    end_time: time | None = None,
    form: str | None = None,
    scope: str = "comprehensive",
    hazard: str = "",
    scenario: str = "",
    location: str = "",
    roster: str = "",
    items: Sequence[Item] = (),
    is_real_incident: bool = False,
    hands_on_training: bool = False,
    purpose: str = "",
    summary: str = "",
    problems: str = "",
    lessons: str = "",
    findings: Sequence[FindingInput] = (),
    objectives: Sequence[tuple[str, str | None]] = (),
    request_key: str | None = None,
    actor,
    today: date | None = None,
) -> Drill:
    """Record a drill (planned if its date is still ahead) with its findings and actions.
    The same ``request_key`` twice (a double-submitted form) records it once."""
    require(session, actor, "drills.write", lead_unit)
    if request_key:
        earlier = session.scalar(select(Drill.id).where(Drill.request_key == request_key))
        if earlier is not None:
            raise AlreadyRecorded(earlier)
    today = today or date.today()
    facts = _facts(
        session,
        title=title,
        kind=kind,
        held_on=held_on,
        participants=participants,
        duration_minutes=duration_minutes,
        start_time=start_time,
        end_time=end_time,
        form=form,
        scope=scope,
        hazard=hazard,
        scenario=scenario,
        location=location,
        roster=roster,
        is_real_incident=is_real_incident,
        hands_on_training=hands_on_training,
        today=today,
    )
    title, kind, held_on = facts["title"], facts["kind"], facts["held_on"]
    drill = Drill(
        **facts,
        lead_unit=lead_unit,
        purpose=_text(purpose, "purpose", required=False),
        summary=_text(summary, "summary", required=False),
        problems=_text(problems, "problems", required=False),
        lessons=_text(lessons, "lessons", required=False),
        status="held" if held_on <= today else "planned",
        request_key=(request_key or None) and str(request_key)[:64],
        created_by_id=getattr(actor, "id", None),
    )
    drill.units = list({u.id: u for u in [lead_unit, *units]}.values())
    drill.items = list({i.id: i for i in items}.values())
    session.add(drill)
    if request_key:
        try:
            session.flush()
        except IntegrityError:  # the same form, submitted at the same moment
            raise AlreadyRecorded(None) from None
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
            "participants": drill.participants,
            "units": [u.code for u in drill.units],
            "findings": len(findings),
        },
    )
    return drill


def _facts_snapshot(drill: Drill) -> dict:
    out = {}
    for name in FACT_FIELDS:
        value = getattr(drill, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    out["units"] = sorted(u.code for u in drill.units)
    out["items"] = sorted(i.code for i in drill.items)
    return out


FACT_FIELDS = (
    "title",
    "kind",
    "form",
    "scope",
    "hazard",
    "held_on",
    "start_time",
    "end_time",
    "participants",
    "duration_minutes",
    "scenario",
    "location",
    "roster",
    "is_real_incident",
    "hands_on_training",
)


def update_drill(
    session: Session,
    drill: Drill,
    *,
    units: Sequence[Unit],
    items: Sequence[Item],
    actor,
    today: date | None = None,
    **facts,
) -> Drill:
    """Correct a drill's facts (not its lead unit, findings or evaluation); the audit log
    keeps what they were. A filed drill is not changed any more."""
    require(session, actor, "drills.write", drill.lead_unit)
    if drill.status == "closed":
        raise Conflict(_("演练已归档，不能再修改。"))
    today = today or date.today()
    values = _facts(session, today=today, **facts)
    if drill.status != "planned" and values["held_on"] > today:
        raise DomainError(_("已实施的演练，日期不能晚于今天。"), field="held_on")
    before = _facts_snapshot(drill)
    for name, value in values.items():
        setattr(drill, name, value)
    drill.units = list({u.id: u for u in [drill.lead_unit, *units]}.values())
    drill.items = list({i.id: i for i in items}.values())
    session.flush()
    after = _facts_snapshot(drill)
    changed = {k for k in after if after[k] != before[k]}
    audit.record(
        session,
        actor,
        "drill.update",
        drill,
        unit_id=drill.lead_unit_id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return drill


def add_finding(
    session: Session, drill: Drill, f: FindingInput, *, actor, audit_it: bool = True
) -> Finding:
    """A strength, or an area for improvement with its corrective action."""
    require(session, actor, "drills.write", drill.lead_unit)
    if drill.status == "closed":
        raise Conflict(_("演练已归档，不能再添加发现。"))
    text = _text(f.text, "text")
    objective = None
    if f.objective is not None:
        if not isinstance(f.objective, int) or not 1 <= f.objective <= len(drill.objectives):
            raise DomainError(_("所关联的演练目标不存在。"), field="objective")
        objective = drill.objectives[f.objective - 1]
    finding = Finding(drill=drill, text=text, is_strength=bool(f.is_strength), objective=objective)
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
            session,
            actor,
            "finding.add",
            finding,
            unit_id=drill.lead_unit.id,
            after={
                "drill": drill.id,
                "text": text,
                "is_strength": finding.is_strength,
                "owner": f.owner.username if f.owner and not f.is_strength else None,
            },
        )
    return finding


def evaluate_drill(
    session: Session,
    drill: Drill,
    *,
    ratings: dict[int, str | None],
    new_objective: str = "",
    purpose: str | None = None,
    summary: str | None = None,
    problems: str | None = None,
    lessons: str | None = None,
    actor,
) -> Drill:
    """Rate the objectives P/S/M/U and write the summary (purpose, what happened, problems
    and causes, lessons); does not change the drill's status."""
    require(session, actor, "drills.write", drill.lead_unit)
    if drill.status == "closed":
        raise Conflict(_("演练已归档，不能再修改评估。"))
    before = _evaluation_snapshot(drill)
    by_id = {o.id: o for o in drill.objectives}
    for objective_id, rating in ratings.items():
        if objective_id not in by_id:
            raise DomainError(_("所关联的演练目标不存在。"), field="ratings")
        if rating not in (None, "", *RATINGS):
            raise DomainError(_("评价只能是 P、S、M 或 U。"), field="ratings")
        by_id[objective_id].rating = rating or None
    if (new_objective or "").strip():
        drill.objectives.append(DrillObjective(text=_text(new_objective, "text", limit=1000)))
    for name, value in (
        ("purpose", purpose),
        ("summary", summary),
        ("problems", problems),
        ("lessons", lessons),
    ):
        if value is not None:
            setattr(drill, name, _text(value, name, required=False))
    session.flush()
    audit.record(
        session,
        actor,
        "drill.evaluate",
        drill,
        unit_id=drill.lead_unit_id,
        before=before,
        after=_evaluation_snapshot(drill),
    )
    return drill


def _evaluation_snapshot(drill: Drill) -> dict:
    return {
        "ratings": {o.text[:40]: o.rating for o in drill.objectives},
        "summary_chars": sum(len(t) for t in (drill.purpose, drill.summary, drill.problems)),
        "lessons_chars": len(drill.lessons),
    }


DRILL_NEXT = {"planned": "held", "held": "evaluated", "evaluated": "closed"}


def advance_drill(
    session: Session, drill: Drill, to_status: str, *, actor, today: date | None = None
) -> Drill:
    """Move a drill on: planned → held (on or after its date) → evaluated (every objective
    rated) → closed (every corrective action verified or cancelled)."""
    require(session, actor, "drills.write", drill.lead_unit)
    today = today or date.today()
    if DRILL_NEXT.get(drill.status) != to_status:
        raise Conflict(
            _("演练当前为“{status}”，不能改为“{to}”。").format(
                status=DRILL_STATUSES[drill.status], to=DRILL_STATUSES.get(to_status, to_status)
            )
        )
    if to_status == "held" and drill.held_on > today:
        raise Conflict(_("演练日期 {d} 还没到。").format(d=drill.held_on.isoformat()))
    if to_status == "evaluated":
        if not drill.objectives:
            raise Conflict(_("请先填写演练目标并逐项评价。"))
        unrated = [o.text for o in drill.objectives if not o.rating]
        if unrated:
            raise Conflict(
                _("还有 {n} 个目标未评价：{names}。").format(
                    n=len(unrated), names=_("、").join(t[:20] for t in unrated[:3])
                )
            )
    if to_status == "closed":
        pending = [
            a
            for f in drill.findings
            for a in f.actions
            if a.status not in ("verified", "cancelled")
        ]
        if pending:
            raise Conflict(
                _("还有 {n} 项整改未经他人验证销号（如第 {id} 号），不能归档。").format(
                    n=len(pending), id=pending[0].id
                )
            )
    before = drill.status
    drill.status = to_status
    session.flush()
    audit.record(
        session,
        actor,
        "drill.status",
        drill,
        unit_id=drill.lead_unit_id,
        before={"status": before},
        after={"status": to_status},
    )
    return drill


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


def cancel_action(
    session: Session, action: CorrectiveAction, reason: str, *, actor
) -> CorrectiveAction:
    """Cancel an action that no longer applies (command staff only), with the reason kept on
    the record; an owner cannot cancel their own action."""
    require(session, actor, "actions.cancel")
    if getattr(actor, "id", None) == action.owner_id:
        raise PermissionDenied(_("负责人不能取消自己的整改事项。"))
    if action.status in ("verified", "cancelled"):
        raise Conflict(_("该整改事项当前为“{status}”，不能取消。").format(status=_status(action)))
    reason = _text(reason, "reason", limit=500)
    before = _action_snapshot(action)
    action.status = "cancelled"
    action.cancel_reason = reason
    session.flush()
    audit.record(
        session,
        actor,
        "action.cancel",
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
    """Corrective actions by status, owner, unit (subtree) or overdue on a date, with what
    every list shows (owner, unit, verifier, the drill) loaded in the same few queries."""
    stmt = (
        select(CorrectiveAction)
        .order_by(CorrectiveAction.due_on, CorrectiveAction.id)
        .options(
            joinedload(CorrectiveAction.owner),
            joinedload(CorrectiveAction.unit),
            joinedload(CorrectiveAction.verified_by),
            joinedload(CorrectiveAction.finding).joinedload(Finding.drill),
        )
    )
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


@dataclass(frozen=True)
class OverdueGroup:
    key: User | Unit
    count: int
    oldest_due_on: date


def overdue_by(
    session: Session, by: str, *, unit_ids: set[int] | None, today: date
) -> list[OverdueGroup]:
    """Open or in-progress actions past their due date, counted per owner or per unit,
    the most overdue first."""
    column = CorrectiveAction.owner_id if by == "owner" else CorrectiveAction.unit_id
    stmt = (
        select(column, func.count(), func.min(CorrectiveAction.due_on))
        .where(
            CorrectiveAction.due_on < today,
            CorrectiveAction.status.in_(("open", "in_progress")),
        )
        .group_by(column)
    )
    if unit_ids is not None:
        stmt = stmt.where(CorrectiveAction.unit_id.in_(unit_ids))
    rows = session.execute(stmt).all()
    model = User if by == "owner" else Unit
    keys = {
        k.id: k for k in session.scalars(select(model).where(model.id.in_([r[0] for r in rows])))
    }
    out = [OverdueGroup(keys[key_id], n, oldest) for key_id, n, oldest in rows]
    out.sort(key=lambda g: (g.oldest_due_on, -g.count))
    return out


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
    per_year: object = None
    interval_days: object = None


def _positive(value, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def set_requirements(
    session: Session, lines: Sequence[RequirementInput], *, actor
) -> list[DrillRequirement]:
    """Replace the drill requirements: per unit kind and drill kind, so many a year or one
    every so many days."""
    require(session, actor, "drills.requirements")
    seen = set()
    rows = []
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=str(line.unit_kind)[:20]),
                field="lines",
            )
        _kind(session, line.drill_kind, field="lines", row=n)
        per_year, interval = line.per_year, line.interval_days
        if (per_year is None) == (interval is None):
            raise DomainError(
                _("第 {n} 行：请填写每年次数或间隔天数（二者选一）。").format(n=n), field="lines"
            )
        if per_year is not None and not _positive(per_year, 1, 365):
            raise DomainError(
                _("第 {n} 行：每年次数应为 1 到 365 的整数。").format(n=n), field="lines"
            )
        if interval is not None and not _positive(interval, 1, 3650):
            raise DomainError(
                _("第 {n} 行：间隔天数应为 1 到 3650 的整数。").format(n=n), field="lines"
            )
        key = (line.unit_kind, line.drill_kind)
        if key in seen:
            raise DomainError(_("第 {n} 行重复。").format(n=n), field="lines")
        seen.add(key)
        rows.append(
            DrillRequirement(
                unit_kind=line.unit_kind,
                drill_kind=line.drill_kind,
                per_year=per_year,
                interval_days=interval,
            )
        )
    before = {
        _requirement_key(r): _requirement_text(r) for r in session.scalars(select(DrillRequirement))
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
        after={_requirement_key(r): _requirement_text(r) for r in rows},
    )
    return rows


def _requirement_key(r: DrillRequirement) -> str:
    return f"{r.unit_kind}/{r.drill_kind}"


def _requirement_text(r: DrillRequirement) -> str:
    return f"{r.per_year}/year" if r.per_year else f"every {r.interval_days} days"


DUE_SOON_DAYS = 30


@dataclass
class ComplianceRow:
    unit: Unit
    drill_kind: str
    required: int
    held: int
    last_held_on: date | None
    next_due_on: date | None
    status: str  # ok | due | overdue
    interval_days: int | None = None

    @property
    def is_due_soon(self) -> bool:
        """Not yet late, but the next one falls due within DUE_SOON_DAYS (for the page)."""
        return (
            self.status == "due"
            and self.next_due_on is not None
            and (self.next_due_on - date.today()).days <= DUE_SOON_DAYS
        )


def next_due(
    requirement: DrillRequirement, held: int, last_held_on: date | None, year: int
) -> date | None:
    """When the next drill of this requirement falls due in ``year`` (None when the year's
    requirement is met). Per-year requirements spread the year evenly; interval requirements
    count from the last drill, whenever it was."""
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    if requirement.interval_days:
        base = last_held_on or year_start - timedelta(days=1)
        due = base + timedelta(days=requirement.interval_days)
        if held >= requirement.required and due > year_end:
            return None
        return max(due, year_start) if last_held_on else min(due, year_end)
    if held >= requirement.required:
        return None
    interval = timedelta(days=math.floor(365 / requirement.per_year))
    return min((last_held_on or year_start - timedelta(days=1)) + interval, year_end)


def compliance_status(due: date | None, held: int, required: int, today: date, year: int) -> str:
    """ok when the year's requirement is met and nothing is due; overdue once the due date
    (or the year) has passed; due otherwise."""
    if due is None:
        return "ok"
    if today > due or today > date(year, 12, 31):
        return "overdue"
    return "ok" if held >= required else "due"


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
    counted = (
        select(drill_units.c.unit_id, Drill.kind, Drill.held_on)
        .join(Drill, Drill.id == drill_units.c.drill_id)
        .where(or_(Drill.status != "planned", Drill.is_real_incident), Drill.held_on <= today)
    )
    if unit_ids is not None:
        counted = counted.where(drill_units.c.unit_id.in_(unit_ids))
    counted = counted.subquery()
    in_year = counted.c.held_on.between(date(year, 1, 1), date(year, 12, 31))
    held_stmt = select(
        counted.c.unit_id,
        counted.c.kind,
        func.count().filter(in_year),
        func.max(counted.c.held_on).filter(in_year),
        # the last drill up to the end of that year, for interval requirements
        func.max(counted.c.held_on).filter(counted.c.held_on <= date(year, 12, 31)),
    ).group_by(counted.c.unit_id, counted.c.kind)
    held = {(u, k): (n, last, last_ever) for u, k, n, last, last_ever in session.execute(held_stmt)}
    out = []
    for unit in units:
        for r in reqs.get(unit.kind, []):
            n, last, last_ever = held.get((unit.id, r.drill_kind), (0, None, None))
            due = next_due(r, n, last_ever if r.interval_days else last, year)
            status = compliance_status(due, n, r.required, today, year)
            out.append(
                ComplianceRow(unit, r.drill_kind, r.required, n, last, due, status, r.interval_days)
            )
    order = {"overdue": 0, "due": 1, "ok": 2}
    out.sort(key=lambda row: (order[row.status], row.unit.code, row.drill_kind))
    return out

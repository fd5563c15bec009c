"""Drill records: a drill's facts, its objectives and their ratings, the units and people
that took part, its findings (each area for improvement opens a corrective action) and its
way from planned to closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from drills.checks import TITLE_MAX, check_count, check_kind, check_text
from drills.models import (
    DRILL_STATUSES,
    ELEMENTS,
    FORMS,
    RATINGS,
    SCOPES,
    CorrectiveAction,
    Drill,
    DrillObjective,
    Finding,
)
from inventory.models import Item
from readiness import audit
from readiness.errors import Conflict, DomainError
from readiness.models import Unit, User
from readiness.permissions import in_scope, require, same_bureau

# What a list of corrective actions loads to show each one's drill.
WITH_DRILL = (joinedload(CorrectiveAction.finding).joinedload(Finding.drill),)


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
        return check_count(minutes, "duration_minutes", 60 * 24 * 14)
    if start is None or end is None:
        raise DomainError(_("请同时填写开始和结束时间。"), field="start_time")
    if end <= start:
        raise DomainError(_("结束时间应晚于开始时间。"), field="end_time")
    if minutes:
        return check_count(minutes, "duration_minutes", 60 * 24 * 14)
    span = datetime.combine(date.min, end) - datetime.combine(date.min, start)
    return span.seconds // 60


def _facts(
    session: Session,
    *,
    lead_unit: Unit,
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
    title = check_text(title, "title", limit=TITLE_MAX)
    kind = check_kind(session, kind, unit=lead_unit)
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
        "hazard": check_text(hazard, "hazard", required=False, limit=100),
        "held_on": held_on,
        "start_time": start_time,
        "end_time": end_time,
        "participants": check_count(participants, "participants", 100_000),
        "duration_minutes": _duration(start_time, end_time, duration_minutes),
        "scenario": check_text(scenario, "scenario", required=False),
        "location": check_text(location, "location", required=False, limit=200),
        "roster": check_text(roster, "roster", required=False),
        "is_real_incident": bool(is_real_incident),
        "hands_on_training": bool(hands_on_training),
    }


def _check_same_bureau(session: Session, lead_unit: Unit, units) -> None:
    strangers = [u.name for u in units if not same_bureau(session, u, lead_unit)]
    if strangers:
        raise DomainError(
            _("参演单位 {names} 不属于{unit}所在的局。").format(
                names=_("、").join(strangers), unit=lead_unit.name
            ),
            field="units",
        )


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
        lead_unit=lead_unit,
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
        purpose=check_text(purpose, "purpose", required=False),
        summary=check_text(summary, "summary", required=False),
        problems=check_text(problems, "problems", required=False),
        lessons=check_text(lessons, "lessons", required=False),
        status="held" if held_on <= today else "planned",
        request_key=(request_key or None) and str(request_key)[:64],
        created_by_id=getattr(actor, "id", None),
    )
    _check_same_bureau(session, lead_unit, units)
    drill.units = list({u.id: u for u in [lead_unit, *units]}.values())
    drill.items = list({i.id: i for i in items}.values())
    session.add(drill)
    if request_key:
        try:
            session.flush()
        except IntegrityError:  # the same form, submitted at the same moment
            raise AlreadyRecorded(None) from None
    for n, (objective, rating) in enumerate(objectives, start=1):
        objective = check_text(objective, "text", limit=1000)
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
    values = _facts(session, lead_unit=drill.lead_unit, today=today, **facts)
    if drill.status != "planned" and values["held_on"] > today:
        raise DomainError(_("已实施的演练，日期不能晚于今天。"), field="held_on")
    before = _facts_snapshot(drill)
    for name, value in values.items():
        setattr(drill, name, value)
    _check_same_bureau(session, drill.lead_unit, units)
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
    text = check_text(f.text, "text")
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
        if f.owner.unit_id is None or not same_bureau(session, f.owner.unit_id, drill.lead_unit):
            raise DomainError(
                _("负责人 {name} 不属于{unit}所在的局。").format(
                    name=f.owner.display_name, unit=drill.lead_unit.name
                ),
                field="owner",
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
        drill.objectives.append(DrillObjective(text=check_text(new_objective, "text", limit=1000)))
    for name, value in (
        ("purpose", purpose),
        ("summary", summary),
        ("problems", problems),
        ("lessons", lessons),
    ):
        if value is not None:
            setattr(drill, name, check_text(value, name, required=False))
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

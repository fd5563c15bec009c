"""JSON API for drills, corrective actions, drill requirements and compliance."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

import pydantic_core
from flask import Blueprint, Flask, Response
from flask_babel import gettext as _
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema
from sqlalchemy import select

from drills import records as rec
from drills import requirements as req
from drills.models import CorrectiveAction, Drill
from drills.reports import compliance_download
from inventory.api import item_field
from readiness import paging
from readiness.api import (
    REPORT_FILES,
    ReportFormat,
    Whole,
    date_field,
    field,
    operation,
    report_scope,
    unit_field,
)
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.models import User
from readiness.openapi import (
    Answer,
    Body,
    Code,
    DateText,
    IsoDate,
    IsoDateTime,
    OptionalDateText,
    OptionalIsoDate,
    OptionalIsoDateTime,
    Query,
    Rows,
)
from readiness.paging import Paged, PagedAnswer
from readiness.params import YEAR_MAX, YEAR_MIN
from readiness.permissions import in_scope
from rectification import actions as act
from rectification.models import SOURCES

bp = Blueprint("drills_api", __name__, url_prefix="/api/v1")


# --- Answers ---


def _hh_mm(value: Any) -> Any:
    return value.strftime("%H:%M") if isinstance(value, time) else value


def _username(value: Any) -> Any:
    return getattr(value, "username", value)


# A time of day shown as HH:MM (None stays None).
HourMinute = Annotated[
    str | None,
    BeforeValidator(_hh_mm),
    WithJsonSchema({"type": ["string", "null"], "example": "09:00"}),
]
# A user shown by username.
Username = Annotated[str, BeforeValidator(_username)]
OptionalUsername = Annotated[str | None, BeforeValidator(_username)]
# A text the record keeps as "" and the API shows as null.
TextOrNull = Annotated[str | None, BeforeValidator(lambda v: v or None)]


class ActionExtensionAnswer(Answer):
    """A request to move a corrective action's due date, and its decision."""

    id: int
    action_id: int
    old_due_on: IsoDate
    due_on: IsoDate
    reason: str
    status: str = Field(json_schema_extra={"enum": ["pending", "approved", "rejected"]})
    requested_by: Username
    requested_at: IsoDateTime
    decided_by: OptionalUsername
    decided_at: OptionalIsoDateTime
    decision_reason: TextOrNull


class CorrectiveActionAnswer(Answer):
    id: int
    text: str
    owner: Username
    unit: Code
    due_on: IsoDate
    status: str
    evidence: TextOrNull
    verified_by: OptionalUsername
    cancel_reason: TextOrNull
    # who reported it done (null until then, and again once it is sent back)
    done_by: OptionalUsername = None
    # the register (issue 17): where the problem was found, the measures planned and the
    # responsible leader; an inspection visit's action names its visit
    source: str = "drill"
    measures: TextOrNull = None
    leader: TextOrNull = None
    visit_id: int | None = None
    pending_extension: ActionExtensionAnswer | None = None


class DrillObjectiveAnswer(Answer):
    id: int
    text: str
    rating: str | None


class DrillFindingAnswer(Answer):
    id: int
    text: str
    is_strength: bool
    actions: list[CorrectiveActionAnswer]


class DrillAnswer(Answer):
    id: int
    title: str
    kind: str
    status: str
    held_on: IsoDate
    start_time: HourMinute
    end_time: HourMinute
    form: str
    scope: str
    hazard: str
    lead_unit: Code
    units: list[Code]
    participants: int
    duration_minutes: int
    location: str
    scenario: str
    items: list[Code]
    hands_on_training: bool
    is_real_incident: bool
    purpose: str
    summary: str
    problems: str
    lessons: str
    objectives: list[DrillObjectiveAnswer]
    findings: list[DrillFindingAnswer]


class DrillCreated(Answer):
    id: int
    status: str
    actions: list[CorrectiveActionAnswer]


class CorrectiveActionList(PagedAnswer):
    actions: list[CorrectiveActionAnswer]


class DrillRequirementLine(Answer):
    unit_kind: str
    drill_kind: str
    per_year: int | None
    interval_days: int | None


class DrillRequirements(Answer):
    lines: list[DrillRequirementLine]


class DrillComplianceRow(Answer):
    unit: Code
    drill_kind: str
    required: int
    held: int
    last_held_on: OptionalIsoDate
    next_due_on: OptionalIsoDate
    status: str = Field(json_schema_extra={"enum": ["ok", "due", "overdue"]})


class DrillCompliance(Answer):
    year: int
    rows: list[DrillComplianceRow]


# --- Request bodies ---
# Rows of a list (findings, objectives, requirement lines) are checked one by one by the
# view, so that a refusal names the row or the field as it always has; their models below
# give the document their shape.


class DrillObjectiveRow(Body):
    """One objective of a new drill."""

    text: str
    rating: str | None = Field(default=None, json_schema_extra={"enum": ["P", "S", "M", "U"]})


class DrillFindingRow(Body):
    """One finding of a new drill; unless a strength, it needs an owner and a due date."""

    text: str
    owner: str | None = None
    due_on: OptionalDateText = None
    element: str | None = None
    is_strength: bool | None = None
    objective: int | None = Field(default=None, json_schema_extra={"minimum": 1})


class DrillRequirementRow(Body):
    """How many drills of a kind a kind of unit must hold: per year, or every N days."""

    unit_kind: str
    drill_kind: str
    per_year: int | None = Field(default=None, json_schema_extra={"minimum": 1})
    interval_days: int | None = Field(default=None, json_schema_extra={"minimum": 1})


FindingRows = Rows(DrillFindingRow, nullable=True)
ObjectiveRows = Rows(DrillObjectiveRow, nullable=True)
RequirementRows = Rows(DrillRequirementRow)
# Codes of units or items, each looked up by the view (its refusal names the field).
Codes = Annotated[
    list[Any] | None, WithJsonSchema({"type": ["array", "null"], "items": {"type": "string"}})
]


class NewDrill(Body):
    # In the order the old hand-written checks read them, so that of several values of the
    # wrong type the same one is refused first (the checks of rows, codes, dates and times
    # in the view now come after every type check).
    findings: FindingRows = None
    objectives: ObjectiveRows = None
    units: Codes = None
    items: Codes = None
    title: str
    kind: str
    held_on: DateText
    start_time: str | None = Field(default=None, json_schema_extra={"example": "09:00"})
    end_time: str | None = Field(default=None, json_schema_extra={"example": "12:00"})
    # Any value: unit_field refuses what is not a unit's code (as before).
    lead_unit: Any = Field(json_schema_extra={"type": "string"})
    participants: int | None = Field(default=None, json_schema_extra={"minimum": 0})
    duration_minutes: int | None = Field(default=None, json_schema_extra={"minimum": 0})
    form: str | None = Field(default=None, json_schema_extra={"enum": ["live", "tabletop", None]})
    scope: str | None = Field(
        default=None, json_schema_extra={"enum": ["comprehensive", "single", None]}
    )
    hazard: str | None = None
    scenario: str | None = None
    location: str | None = None
    roster: str | None = None
    purpose: str | None = None
    summary: str | None = None
    problems: str | None = None
    lessons: str | None = None
    is_real_incident: bool | None = None
    hands_on_training: bool | None = None


def _status_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["status"]
    schema["properties"]["status"].pop("default", None)


class DrillStatusChange(Body):
    # Any value here: the view checks it once the drill is found, so that an unknown drill
    # is a 404 whatever the body says (as before).
    model_config = ConfigDict(json_schema_extra=_status_required)

    status: Any = Field(
        default=None,
        json_schema_extra={"type": "string", "enum": ["held", "evaluated", "closed"]},
    )


class DrillRequirementsBody(Body):
    lines: RequirementRows


class ActionEvidence(Body):
    evidence: str | None = None


class ActionCancel(Body):
    reason: str | None = None


class ActionReason(Body):
    """Why an action is sent back, or an extension refused."""

    reason: str | None = None


class ActionExtensionRequest(Body):
    """The due date asked for (later than the current one, not before today) and why."""

    due_on: OptionalDateText = None
    reason: str | None = None


class DrillComplianceQuery(Query):
    year: Whole(YEAR_MIN, YEAR_MAX) = None  # type: ignore[valid-type]
    unit: str | None = None
    format: ReportFormat = "json"


class ActionQuery(Paged):
    status: str | None = None
    owner: str | None = Field(default=None, description="username")
    unit: str | None = Field(default=None, description="unit code (and the units below it)")
    overdue: str | None = Field(default=None, description="any value: only overdue actions")
    source: str | None = Field(
        default=None,
        description="where the problem was found",
        json_schema_extra={"enum": sorted(SOURCES)},
    )


# --- Checks of the rows, as before ---


def _user(username, name: str) -> User:
    if not isinstance(username, str) or not username:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DomainError(_("用户 {username} 不存在。").format(username=username[:40]), field=name)
    return user


def _time(raw: str | None, name: str) -> time | None:
    if not raw:
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise DomainError(
            _("{name} 必须是 HH:MM 格式的时间。").format(name=name), field=name
        ) from None


def _finding(n: int, raw) -> rec.FindingInput:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 条发现格式不正确。").format(n=n), field="findings")
    strength = field(raw, "is_strength", bool, required=False, default=False)
    return rec.FindingInput(
        text=field(raw, "text", str),
        owner=None if strength else _user(raw.get("owner"), "owner"),
        due_on=None if strength else date_field(field(raw, "due_on", str), "due_on"),
        element=field(raw, "element", str, required=False, default="planning"),
        is_strength=strength,
        objective=field(raw, "objective", int, required=False, default=None),
    )


def _objective(n: int, raw) -> tuple[str, str | None]:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 个目标格式不正确。").format(n=n), field="objectives")
    return field(raw, "text", str), field(raw, "rating", str, required=False, default=None)


def _requirement(n: int, raw) -> req.RequirementInput:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
    return req.RequirementInput(
        field(raw, "unit_kind", str),
        field(raw, "drill_kind", str),
        per_year=field(raw, "per_year", int, required=False, default=None),
        interval_days=field(raw, "interval_days", int, required=False, default=None),
    )


# --- Operations ---


@bp.route("/drills", methods=["POST"])
@permission("drills.write")
@operation(json=NewDrill, answers={201: DrillCreated}, errors=(400, 401, 403))
def create_drill(json: NewDrill):
    """Record a drill

    Its objectives and findings with it; each finding that is not a strength gets a
    corrective action owned by the named user, due on the given date.
    """
    findings = [_finding(n, raw) for n, raw in enumerate(json.findings or [], start=1)]
    objectives = [_objective(n, raw) for n, raw in enumerate(json.objectives or [], start=1)]
    units = [unit_field(code, "units") for code in json.units or []]
    items = [item_field(code, "items") for code in json.items or []]
    held_on = date_field(json.held_on, "held_on")
    start_time = _time(json.start_time, "start_time")
    end_time = _time(json.end_time, "end_time")
    drill = rec.create_drill(
        db.session,
        title=json.title,
        kind=json.kind,
        held_on=held_on,
        start_time=start_time,
        end_time=end_time,
        lead_unit=unit_field(json.lead_unit, "lead_unit"),
        units=units,
        participants=json.participants or 0,
        duration_minutes=json.duration_minutes or 0,
        form=json.form,
        scope=json.scope if json.scope is not None else "comprehensive",
        hazard=json.hazard or "",
        scenario=json.scenario or "",
        location=json.location or "",
        roster=json.roster or "",
        items=items,
        purpose=json.purpose or "",
        summary=json.summary or "",
        problems=json.problems or "",
        lessons=json.lessons or "",
        is_real_incident=bool(json.is_real_incident),
        hands_on_training=bool(json.hands_on_training),
        objectives=objectives,
        findings=findings,
        actor=current_actor(),
    )
    db.session.commit()
    actions = [a for f in drill.findings for a in f.actions]
    return DrillCreated(id=drill.id, status=drill.status, actions=actions), 201


def _drill(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None or not rec.drill_visible(db.session, current_actor(), drill):
        raise NotFound(_("演练第 {id} 号不存在。").format(id=drill_id))
    return drill


@bp.route("/drills/<int:drill_id>", methods=["GET"])
@permission("drills.view")
@operation(answers={200: DrillAnswer}, errors=(401, 403, 404))
def get_drill(drill_id: int):
    """One drill with its objectives, findings and corrective actions"""
    return DrillAnswer.model_validate(_drill(drill_id))


@bp.route("/drills/<int:drill_id>/status", methods=["POST"])
@permission("drills.write")
@operation(json=DrillStatusChange, answers={200: DrillAnswer}, errors=(400, 401, 403, 404, 409))
def drill_status(drill_id: int, json: DrillStatusChange):
    """Move a drill on (held, evaluated, closed)

    Evaluated needs every objective rated; closed needs every corrective action verified
    or cancelled.
    """
    drill = _drill(drill_id)
    status = field({"status": json.status}, "status", str)
    drill = rec.advance_drill(db.session, drill, status, actor=current_actor())
    db.session.commit()
    return DrillAnswer.model_validate(drill)


@bp.route("/drill-requirements", methods=["PUT"])
@permission("drills.requirements")
@operation(json=DrillRequirementsBody, answers={200: DrillRequirements}, errors=(400, 401, 403))
def put_requirements(json: DrillRequirementsBody):
    """Replace drill requirements (command)

    How many drills of each kind every kind of unit must hold a year, or how often.
    """
    lines = [_requirement(n, raw) for n, raw in enumerate(json.lines, start=1)]
    rows = req.set_requirements(db.session, lines, actor=current_actor())
    db.session.commit()
    return DrillRequirements(lines=rows)


@bp.route("/reports/drill-compliance", methods=["GET"])
@permission("drills.view")
@operation(
    query=DrillComplianceQuery,
    answers={200: DrillCompliance},
    errors=(400, 401, 403, 404),
    files=REPORT_FILES,
)
def drill_compliance(query: DrillComplianceQuery):
    """Drill compliance for a year

    Required vs held drills per unit and kind, with ok / due / overdue.
    """
    year = query.year if query.year is not None else date.today().year
    rows = req.compliance(db.session, year, unit_ids=report_scope(query.unit))
    if query.format != "json":
        return compliance_download(query.format, rows, req.drill_kinds(db.session), year)
    return Response(compliance_json(year, rows), mimetype="application/json")


def compliance_json(year: int, rows) -> bytes:
    """``DrillCompliance(year=year, rows=rows)`` as JSON, written straight from the rows
    (issue 21: validating a model per row cost as much as computing the report). Tests
    compare the two."""
    return pydantic_core.to_json(
        {
            "year": year,
            "rows": [
                {
                    "unit": r.unit.code,
                    "drill_kind": r.drill_kind,
                    "required": r.required,
                    "held": r.held,
                    "last_held_on": r.last_held_on,
                    "next_due_on": r.next_due_on,
                    "status": r.status,
                }
                for r in rows
            ],
        }
    )


# Earliest due first, as the register lists them.
ACTION_ORDER = paging.Order(
    "actions",
    paging.Key(date, CorrectiveAction.due_on),
    paging.Key(int, CorrectiveAction.id),
)


@bp.route("/actions", methods=["GET"])
@permission("drills.view")
@operation(query=ActionQuery, answers={200: CorrectiveActionList}, errors=(401, 403, 404, 422))
def list_actions(query: ActionQuery):
    """Corrective actions

    Filtered by ?status=, ?owner=USERNAME, ?unit=CODE, ?overdue=1; earliest due first, a
    page at a time (?limit=, ?cursor=).
    """
    owner = None
    if query.owner:
        owner = db.session.scalar(select(User).where(User.username == query.owner))
        if owner is None:
            return CorrectiveActionList(actions=[])
    if query.source and query.source not in SOURCES:
        raise DomainError(
            _("未知的整改来源：{source}。").format(source=query.source[:20]), field="source"
        )
    # plain rows, without the finding and drill the answer never names (issue 21)
    stmt = act.action_rows_query(
        source=query.source or None,
        status=query.status or None,
        owner=owner,
        unit_ids=report_scope(query.unit),
        overdue_on=date.today() if query.overdue else None,
    )
    rows, next_cursor = paging.page(db.session, stmt, ACTION_ORDER, query.limit, query.cursor)
    names = [column.key for column in stmt.selected_columns]
    actions = [_action_row(names, row) for row in rows]
    return CorrectiveActionList(actions=actions, next_cursor=next_cursor)


# What an extension request waiting for a decision says besides what the row reads.
_PENDING = {"status": "pending", "decided_by": None, "decided_at": None, "decision_reason": None}


def _action_row(names: list[str], values) -> dict:
    """An action read by ``actions.action_rows_query`` in the answer's shape."""
    row = dict(zip(names, values, strict=True))
    row["pending_extension"] = None
    if row["ext_id"] is not None:
        ext = {k[4:]: v for k, v in row.items() if k.startswith("ext_")}
        row["pending_extension"] = ext | _PENDING | {"action_id": row["id"]}
    return row


def _action(action_id: int) -> CorrectiveAction:
    action = db.session.get(CorrectiveAction, action_id)
    if action is None or not in_scope(db.session, current_actor(), action.unit_id):
        raise NotFound(_("整改事项第 {id} 号不存在。").format(id=action_id))
    return action


def _with_text(action_id: int, service, text: str | None) -> CorrectiveActionAnswer:
    """Run a one-text service on an action (done with evidence, cancel with a reason)."""
    action = service(db.session, _action(action_id), text or "", actor=current_actor())
    db.session.commit()
    return CorrectiveActionAnswer.model_validate(action)


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@permission("drills.write")
@operation(
    json=ActionEvidence,
    answers={200: CorrectiveActionAnswer},
    errors=(400, 401, 403, 404, 409),
)
def action_done(action_id: int, json: ActionEvidence):
    """Report an action done, with evidence"""
    return _with_text(action_id, act.mark_done, json.evidence)


@bp.route("/actions/<int:action_id>/verify", methods=["POST"])
@permission("actions.verify")
@operation(answers={200: CorrectiveActionAnswer}, errors=(401, 403, 404, 409))
def action_verify(action_id: int):
    """Verify a done action (not by its owner)"""
    action = act.verify_action(db.session, _action(action_id), actor=current_actor())
    db.session.commit()
    return CorrectiveActionAnswer.model_validate(action)


@bp.route("/actions/<int:action_id>/cancel", methods=["POST"])
@permission("actions.cancel")
@operation(
    json=ActionCancel,
    answers={200: CorrectiveActionAnswer},
    errors=(400, 401, 403, 404, 409),
)
def action_cancel(action_id: int, json: ActionCancel):
    """Cancel an action, with a reason (command staff)"""
    return _with_text(action_id, act.cancel_action, json.reason)


@bp.route("/actions/<int:action_id>/return", methods=["POST"])
@permission("actions.return")
@operation(
    json=ActionReason,
    answers={200: CorrectiveActionAnswer},
    errors=(400, 401, 403, 404, 409),
)
def action_return(action_id: int, json: ActionReason):
    """Send a done action back for rework, with the reason

    Command staff or an inspector, neither the owner nor whoever reported it done; the
    action is in progress again and the reason stays in its history.
    """
    return _with_text(action_id, act.return_action, json.reason)


@bp.route("/actions/<int:action_id>/extension", methods=["POST"])
@permission("drills.view")
@operation(
    json=ActionExtensionRequest,
    answers={201: ActionExtensionAnswer},
    errors=(400, 401, 403, 404, 409),
)
def action_extension(action_id: int, json: ActionExtensionRequest):
    """Ask for a later due date (the owner or a writer of the unit)

    The request waits for command staff or an inspector other than the requester; until
    then the old date stands and an overdue action stays overdue.
    """
    action = _action(action_id)
    due_on = date_field(json.due_on, "due_on")
    extension = act.request_extension(
        db.session, action, due_on, json.reason or "", actor=current_actor()
    )
    db.session.commit()
    return ActionExtensionAnswer.model_validate(extension), 201


@bp.route("/actions/<int:action_id>/extension/approve", methods=["POST"])
@permission("actions.approve_extension")
@operation(answers={200: ActionExtensionAnswer}, errors=(401, 403, 404, 409))
def action_extension_approve(action_id: int):
    """Approve the pending extension: the due date moves (not by the requester)"""
    extension = act.approve_extension(db.session, _action(action_id), actor=current_actor())
    db.session.commit()
    return ActionExtensionAnswer.model_validate(extension)


@bp.route("/actions/<int:action_id>/extension/reject", methods=["POST"])
@permission("actions.approve_extension")
@operation(
    json=ActionReason,
    answers={200: ActionExtensionAnswer},
    errors=(400, 401, 403, 404, 409),
)
def action_extension_reject(action_id: int, json: ActionReason):
    """Refuse the pending extension, with the reason: the due date stays"""
    extension = act.reject_extension(
        db.session, _action(action_id), json.reason or "", actor=current_actor()
    )
    db.session.commit()
    return ActionExtensionAnswer.model_validate(extension)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

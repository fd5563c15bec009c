"""JSON API for drills, corrective actions, drill requirements and compliance."""

from __future__ import annotations

from datetime import date, time

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from drills import actions as act
from drills import records as rec
from drills import requirements as req
from drills.models import CorrectiveAction, Drill
from drills.reports import compliance_download
from inventory.api import item_field
from readiness import openapi
from readiness.api import date_field, field, json_body, report_format, report_scope, unit_field
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.models import User
from readiness.params import year_arg
from readiness.permissions import in_scope

bp = Blueprint("drills_api", __name__, url_prefix="/api/v1")


def _user(username, name: str) -> User:
    if not isinstance(username, str) or not username:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DomainError(_("用户 {username} 不存在。").format(username=username[:40]), field=name)
    return user


def _time(data: dict, name: str) -> time | None:
    raw = field(data, name, str, required=False, default="")
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


def drill_json(d: Drill) -> dict:
    return {
        "id": d.id,
        "title": d.title,
        "kind": d.kind,
        "status": d.status,
        "held_on": d.held_on.isoformat(),
        "start_time": d.start_time.strftime("%H:%M") if d.start_time else None,
        "end_time": d.end_time.strftime("%H:%M") if d.end_time else None,
        "form": d.form,
        "scope": d.scope,
        "hazard": d.hazard,
        "lead_unit": d.lead_unit.code,
        "units": [u.code for u in d.units],
        "participants": d.participants,
        "duration_minutes": d.duration_minutes,
        "location": d.location,
        "scenario": d.scenario,
        "items": [i.code for i in d.items],
        "hands_on_training": d.hands_on_training,
        "is_real_incident": d.is_real_incident,
        "purpose": d.purpose,
        "summary": d.summary,
        "problems": d.problems,
        "lessons": d.lessons,
        "objectives": [{"id": o.id, "text": o.text, "rating": o.rating} for o in d.objectives],
        "findings": [
            {
                "id": f.id,
                "text": f.text,
                "is_strength": f.is_strength,
                "actions": [action_json(a) for a in f.actions],
            }
            for f in d.findings
        ],
    }


def action_json(a: CorrectiveAction) -> dict:
    return {
        "id": a.id,
        "text": a.text,
        "owner": a.owner.username,
        "unit": a.unit.code,
        "due_on": a.due_on.isoformat(),
        "status": a.status,
        "evidence": a.evidence or None,
        "verified_by": a.verified_by.username if a.verified_by else None,
        "cancel_reason": a.cancel_reason or None,
    }


@bp.route("/drills", methods=["POST"])
@permission("drills.write")
def create_drill():
    """Record a drill with its findings; each finding gets an owned corrective action."""
    data = json_body()
    findings = [
        _finding(n, raw)
        for n, raw in enumerate(field(data, "findings", list, required=False, default=[]), start=1)
    ]
    objectives = [
        _objective(n, raw)
        for n, raw in enumerate(
            field(data, "objectives", list, required=False, default=[]), start=1
        )
    ]
    units = [
        unit_field(code, "units") for code in field(data, "units", list, required=False, default=[])
    ]
    items = [
        item_field(code, "items") for code in field(data, "items", list, required=False, default=[])
    ]
    text = lambda name: field(data, name, str, required=False, default="")  # noqa: E731
    drill = rec.create_drill(
        db.session,
        title=field(data, "title", str),
        kind=field(data, "kind", str),
        held_on=date_field(field(data, "held_on", str), "held_on"),
        start_time=_time(data, "start_time"),
        end_time=_time(data, "end_time"),
        lead_unit=unit_field(data.get("lead_unit"), "lead_unit"),
        units=units,
        participants=field(data, "participants", int, required=False, default=0),
        duration_minutes=field(data, "duration_minutes", int, required=False, default=0),
        form=field(data, "form", str, required=False, default=None),
        scope=field(data, "scope", str, required=False, default="comprehensive"),
        hazard=text("hazard"),
        scenario=text("scenario"),
        location=text("location"),
        roster=text("roster"),
        items=items,
        purpose=text("purpose"),
        summary=text("summary"),
        problems=text("problems"),
        lessons=text("lessons"),
        is_real_incident=field(data, "is_real_incident", bool, required=False, default=False),
        hands_on_training=field(data, "hands_on_training", bool, required=False, default=False),
        objectives=objectives,
        findings=findings,
        actor=current_actor(),
    )
    db.session.commit()
    actions = [a for f in drill.findings for a in f.actions]
    return jsonify(
        {"id": drill.id, "status": drill.status, "actions": [action_json(a) for a in actions]}
    ), 201


def _drill(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None or not rec.drill_visible(db.session, current_actor(), drill):
        raise NotFound(_("演练第 {id} 号不存在。").format(id=drill_id))
    return drill


@bp.route("/drills/<int:drill_id>", methods=["GET"])
@permission("drills.view")
def get_drill(drill_id: int):
    """One drill with its objectives, findings and corrective actions."""
    return jsonify(drill_json(_drill(drill_id)))


@bp.route("/drills/<int:drill_id>/status", methods=["POST"])
@permission("drills.write")
def drill_status(drill_id: int):
    """Move a drill on: held, evaluated (objectives rated), closed (actions verified)."""
    data = json_body()
    drill = rec.advance_drill(
        db.session, _drill(drill_id), field(data, "status", str), actor=current_actor()
    )
    db.session.commit()
    return jsonify(drill_json(drill))


@bp.route("/drill-requirements", methods=["PUT"])
@permission("drills.requirements")
def put_requirements():
    """Replace how many drills of each kind every kind of unit must hold a year."""
    data = json_body()
    lines = []
    for n, raw in enumerate(field(data, "lines", list), start=1):
        if not isinstance(raw, dict):
            raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
        lines.append(
            req.RequirementInput(
                field(raw, "unit_kind", str),
                field(raw, "drill_kind", str),
                per_year=field(raw, "per_year", int, required=False, default=None),
                interval_days=field(raw, "interval_days", int, required=False, default=None),
            )
        )
    rows = req.set_requirements(db.session, lines, actor=current_actor())
    db.session.commit()
    return jsonify(
        {
            "lines": [
                {
                    "unit_kind": r.unit_kind,
                    "drill_kind": r.drill_kind,
                    "per_year": r.per_year,
                    "interval_days": r.interval_days,
                }
                for r in rows
            ]
        }
    )


@bp.route("/reports/drill-compliance", methods=["GET"])
@permission("drills.view")
def drill_compliance():
    """Required vs held drills per unit and kind for a year, with ok / due / overdue."""
    year = year_arg(default=date.today().year)
    fmt = report_format()
    rows = req.compliance(db.session, year, unit_ids=report_scope(request.args.get("unit")))
    if fmt != "json":
        return compliance_download(fmt, rows, req.drill_kinds(db.session), year)
    return jsonify(
        {
            "year": year,
            "rows": [
                {
                    "unit": r.unit.code,
                    "drill_kind": r.drill_kind,
                    "required": r.required,
                    "held": r.held,
                    "last_held_on": r.last_held_on.isoformat() if r.last_held_on else None,
                    "next_due_on": r.next_due_on.isoformat() if r.next_due_on else None,
                    "status": r.status,
                }
                for r in rows
            ],
        }
    )


@bp.route("/actions", methods=["GET"])
@permission("drills.view")
def list_actions():
    """Corrective actions, filtered by ?status=, ?owner=USERNAME, ?unit=CODE, ?overdue=1."""
    owner = None
    if request.args.get("owner"):
        owner = db.session.scalar(select(User).where(User.username == request.args["owner"]))
        if owner is None:
            return jsonify({"actions": []})
    stmt = act.actions_query(
        status=request.args.get("status") or None,
        owner=owner,
        unit_ids=report_scope(request.args.get("unit")),
        overdue_on=date.today() if request.args.get("overdue") else None,
    )
    return jsonify({"actions": [action_json(a) for a in db.session.scalars(stmt)]})


def _action(action_id: int) -> CorrectiveAction:
    action = db.session.get(CorrectiveAction, action_id)
    if action is None or not in_scope(db.session, current_actor(), action.unit_id):
        raise NotFound(_("整改事项第 {id} 号不存在。").format(id=action_id))
    return action


def _with_text(action_id: int, service, name: str):
    """Run a one-text service on an action (done with evidence, cancel with a reason)."""
    text = field(json_body(), name, str, required=False, default="")
    action = service(db.session, _action(action_id), text, actor=current_actor())
    db.session.commit()
    return jsonify(action_json(action))


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@permission("drills.write")
def action_done(action_id: int):
    """Report an action done, with evidence."""
    return _with_text(action_id, act.mark_done, "evidence")


@bp.route("/actions/<int:action_id>/verify", methods=["POST"])
@permission("actions.verify")
def action_verify(action_id: int):
    """Verify a done action (not by its owner)."""
    action = act.verify_action(db.session, _action(action_id), actor=current_actor())
    db.session.commit()
    return jsonify(action_json(action))


@bp.route("/actions/<int:action_id>/cancel", methods=["POST"])
@permission("actions.cancel")
def action_cancel(action_id: int):
    """Cancel an action that no longer applies, with a reason (command staff)."""
    return _with_text(action_id, act.cancel_action, "reason")


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from readiness.openapi import error_responses, json_content

    obj = {"type": "object"}
    ok = {"description": "OK", "content": json_content(obj)}
    action_id = {"name": "action_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    drill_id = {"name": "drill_id", "in": "path", "required": True, "schema": {"type": "integer"}}

    def one_text_post(summary: str, name: str) -> dict:
        body = {"type": "object", "required": [name], "properties": {name: {"type": "string"}}}
        return {
            "post": {
                "summary": summary,
                "parameters": [action_id],
                "requestBody": {"required": True, "content": json_content(body)},
                "responses": {"200": ok, **error_responses(400, 401, 403, 404, 409, 422)},
            }
        }

    def q(name, schema=None):
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema or {"type": "string"},
        }

    openapi.add_paths(
        {
            "/drills": {
                "post": {
                    "summary": "Record a drill",
                    "requestBody": {
                        "required": True,
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["title", "kind", "held_on", "lead_unit"],
                                "properties": {
                                    "title": {"type": "string"},
                                    "kind": {"type": "string"},
                                    "held_on": {"type": "string", "format": "date"},
                                    "lead_unit": {"type": "string"},
                                    "units": {"type": "array", "items": {"type": "string"}},
                                    "participants": {"type": "integer", "minimum": 0},
                                    "duration_minutes": {"type": "integer", "minimum": 0},
                                    "scenario": {"type": "string"},
                                    "is_real_incident": {"type": "boolean"},
                                    "start_time": {"type": "string", "example": "09:00"},
                                    "end_time": {"type": "string", "example": "12:00"},
                                    "form": {"type": "string", "enum": ["live", "tabletop"]},
                                    "scope": {
                                        "type": "string",
                                        "enum": ["comprehensive", "single"],
                                    },
                                    "hazard": {"type": "string"},
                                    "location": {"type": "string"},
                                    "roster": {"type": "string"},
                                    "items": {"type": "array", "items": {"type": "string"}},
                                    "hands_on_training": {"type": "boolean"},
                                    "purpose": {"type": "string"},
                                    "summary": {"type": "string"},
                                    "problems": {"type": "string"},
                                    "lessons": {"type": "string"},
                                    "objectives": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["text"],
                                            "properties": {
                                                "text": {"type": "string"},
                                                "rating": {
                                                    "type": "string",
                                                    "enum": ["P", "S", "M", "U"],
                                                },
                                            },
                                        },
                                    },
                                    "findings": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["text"],
                                            "properties": {
                                                "text": {"type": "string"},
                                                "owner": {"type": "string"},
                                                "due_on": {"type": "string", "format": "date"},
                                                "element": {"type": "string"},
                                                "is_strength": {"type": "boolean"},
                                                "objective": {"type": "integer", "minimum": 1},
                                            },
                                        },
                                    },
                                },
                            }
                        ),
                    },
                    "responses": {
                        "201": {"description": "Created", "content": json_content(obj)},
                        **error_responses(400, 401, 403, 422),
                    },
                }
            },
            "/drills/{drill_id}": {
                "get": {
                    "summary": "One drill with objectives, findings and actions",
                    "parameters": [drill_id],
                    "responses": {"200": ok, **error_responses(401, 403, 404)},
                }
            },
            "/drills/{drill_id}/status": {
                "post": {
                    "summary": "Move a drill on (held, evaluated, closed)",
                    "parameters": [drill_id],
                    "requestBody": {
                        "required": True,
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {
                                    "status": {
                                        "type": "string",
                                        "enum": ["held", "evaluated", "closed"],
                                    }
                                },
                            }
                        ),
                    },
                    "responses": {"200": ok, **error_responses(400, 401, 403, 404, 409, 422)},
                }
            },
            "/actions/{action_id}/cancel": one_text_post(
                "Cancel an action, with a reason (command staff)", "reason"
            ),
            "/drill-requirements": {
                "put": {
                    "summary": "Replace drill requirements (command)",
                    "requestBody": {
                        "required": True,
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["lines"],
                                "properties": {
                                    "lines": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["unit_kind", "drill_kind"],
                                            "properties": {
                                                "unit_kind": {"type": "string"},
                                                "drill_kind": {"type": "string"},
                                                "per_year": {"type": "integer", "minimum": 1},
                                                "interval_days": {"type": "integer", "minimum": 1},
                                            },
                                        },
                                    }
                                },
                            }
                        ),
                    },
                    "responses": {"200": ok, **error_responses(400, 401, 403, 422)},
                }
            },
            "/reports/drill-compliance": {
                "get": {
                    "summary": "Drill compliance for a year",
                    "parameters": [
                        q("year", {"type": "integer"}),
                        q("unit"),
                        q("format", {"type": "string", "enum": ["json", "csv", "xlsx", "pdf"]}),
                    ],
                    "responses": {"200": ok, **error_responses(400, 401, 403, 404)},
                }
            },
            "/actions": {
                "get": {
                    "summary": "Corrective actions",
                    "parameters": [q("status"), q("owner"), q("unit"), q("overdue")],
                    "responses": {"200": ok, **error_responses(401, 403, 404)},
                }
            },
            "/actions/{action_id}/done": one_text_post(
                "Report an action done, with evidence", "evidence"
            ),
            "/actions/{action_id}/verify": {
                "post": {
                    "summary": "Verify a done action (not by its owner)",
                    "parameters": [action_id],
                    "responses": {"200": ok, **error_responses(401, 403, 404, 409)},
                }
            },
        }
    )

"""JSON API for allocation requests."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Flask, current_app, jsonify
from flask_babel import gettext as _

from inventory import allocations as alloc
from inventory.models import Allocation
from readiness import openapi
from readiness import services as core
from readiness.api import field, json_body
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.permissions import in_scope

bp = Blueprint("allocations_api", __name__, url_prefix="/api/v1")


def threshold() -> Decimal:
    return Decimal(str(current_app.config["COLLECTIVE_DECISION_THRESHOLD"]))


def allocation_json(a: Allocation) -> dict:
    return {
        "id": a.id,
        "status": a.status,
        "from": a.from_unit.code,
        "to": a.to_unit.code,
        "reason": a.reason,
        "emergency": a.is_emergency,
        "approval_pending": a.approved_at is None and a.status not in ("rejected", "cancelled"),
        "lines": [
            {
                "item": ln.item.code,
                "requested": ln.requested,
                "approved": ln.approved,
                "dispatched": ln.dispatched,
                "received": ln.received,
            }
            for ln in a.lines
        ],
        "approvals": [ap.approver.username for ap in a.approvals],
        "approvals_needed": alloc.approvals_needed(a, threshold()),
        "value": str(alloc.value_of(a)),
    }


def visible(a: Allocation) -> bool:
    actor = current_actor()
    return in_scope(db.session, actor, a.from_unit) or in_scope(db.session, actor, a.to_unit)


def load(allocation_id: int) -> Allocation:
    a = db.session.get(Allocation, allocation_id)
    if a is None or not visible(a):
        raise NotFound(_("调拨单第 {id} 号不存在。").format(id=allocation_id))
    return a


def _unit(code, name):
    if not isinstance(code, str) or not code:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    try:
        return core.get_unit(db.session, code)
    except NotFound as err:
        raise DomainError(err.message, field=name) from None


def _lines_and_reason(required_reason: bool = False) -> tuple[dict | None, str]:
    data = json_body() if _has_body() else {}
    raw = field(data, "lines", list, required=False)
    quantities = None
    if raw is not None:
        quantities = {}
        for n, line in enumerate(raw, start=1):
            if not isinstance(line, dict):
                raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
            quantities[field(line, "item", str)] = field(line, "qty", int)
    reason = field(data, "reason", str, required=required_reason, default="")
    return quantities, reason


def _has_body() -> bool:
    from flask import request

    return bool(request.get_data())


@bp.route("/allocations", methods=["POST"])
@permission("allocations.request")
def create():
    """Request stock for a unit (submitted unless "draft": true)."""
    data = json_body()
    raw = field(data, "lines", list)
    lines = []
    for n, line in enumerate(raw, start=1):
        if not isinstance(line, dict):
            raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
        lines.append(alloc.LineInput(field(line, "item", str), field(line, "qty", int)))
    a = alloc.create_allocation(
        db.session,
        from_unit=_unit(data.get("from"), "from"),
        to_unit=_unit(data.get("to"), "to"),
        lines=lines,
        reason=field(data, "reason", str),
        emergency=field(data, "emergency", bool, required=False, default=False),
        draft=field(data, "draft", bool, required=False, default=False),
        actor=current_actor(),
    )
    db.session.commit()
    return jsonify({"id": a.id, "status": a.status}), 201


@bp.route("/allocations/<int:allocation_id>", methods=["GET"])
@permission("allocations.view")
def get(allocation_id: int):
    """One request with its lines and approvals."""
    return jsonify(allocation_json(load(allocation_id)))


def _done(a: Allocation):
    db.session.commit()
    return jsonify(allocation_json(a))


@bp.route("/allocations/<int:allocation_id>/submit", methods=["POST"])
@permission("allocations.request")
def submit(allocation_id: int):
    """Send a draft for approval."""
    return _done(alloc.submit_allocation(db.session, load(allocation_id), actor=current_actor()))


@bp.route("/allocations/<int:allocation_id>/approve", methods=["POST"])
@permission("allocations.approve")
def approve(allocation_id: int):
    """Approve, optionally reducing lines (then a reason is required)."""
    quantities, reason = _lines_and_reason()
    a = alloc.approve_allocation(
        db.session,
        load(allocation_id),
        actor=current_actor(),
        threshold=threshold(),
        quantities=quantities,
        note=reason,
    )
    return _done(a)


@bp.route("/allocations/<int:allocation_id>/reject", methods=["POST"])
@permission("allocations.approve")
def reject(allocation_id: int):
    """Refuse a request, with a reason."""
    _quantities, reason = _lines_and_reason()
    return _done(
        alloc.reject_allocation(db.session, load(allocation_id), actor=current_actor(), note=reason)
    )


@bp.route("/allocations/<int:allocation_id>/dispatch", methods=["POST"])
@permission("allocations.dispatch")
def dispatch(allocation_id: int):
    """Send the stock from the source (earliest expiry first)."""
    quantities, _reason = _lines_and_reason()
    return _done(
        alloc.dispatch_allocation(
            db.session, load(allocation_id), actor=current_actor(), quantities=quantities
        )
    )


@bp.route("/allocations/<int:allocation_id>/receive", methods=["POST"])
@permission("allocations.receive")
def receive(allocation_id: int):
    """Take delivery; a short receipt needs a reason."""
    quantities, reason = _lines_and_reason()
    return _done(
        alloc.receive_allocation(
            db.session,
            load(allocation_id),
            actor=current_actor(),
            quantities=quantities,
            note=reason,
        )
    )


@bp.route("/allocations/<int:allocation_id>/cancel", methods=["POST"])
@permission("allocations.request")
def cancel(allocation_id: int):
    """Withdraw a request before dispatch."""
    _quantities, reason = _lines_and_reason()
    return _done(
        alloc.cancel_allocation(db.session, load(allocation_id), actor=current_actor(), note=reason)
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from readiness.openapi import error_responses, json_content

    obj = {"type": "object"}
    path_id = {
        "name": "allocation_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    action_body = {
        "required": False,
        "content": json_content(
            {
                "type": "object",
                "properties": {
                    "lines": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["item", "qty"],
                            "properties": {
                                "item": {"type": "string"},
                                "qty": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                    "reason": {"type": "string"},
                },
            }
        ),
    }
    paths = {
        "/allocations": {
            "post": {
                "summary": "Request an allocation",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["from", "to", "lines", "reason"],
                            "properties": {
                                "from": {"type": "string"},
                                "to": {"type": "string"},
                                "lines": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["item", "qty"],
                                        "properties": {
                                            "item": {"type": "string"},
                                            "qty": {"type": "integer", "minimum": 1},
                                        },
                                    },
                                },
                                "reason": {"type": "string"},
                                "emergency": {"type": "boolean"},
                                "draft": {"type": "boolean"},
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
        "/allocations/{allocation_id}": {
            "get": {
                "summary": "One allocation",
                "parameters": [path_id],
                "responses": {
                    "200": {"description": "OK", "content": json_content(obj)},
                    **error_responses(401, 404),
                },
            }
        },
    }
    for action in ("submit", "approve", "reject", "dispatch", "receive", "cancel"):
        paths[f"/allocations/{{allocation_id}}/{action}"] = {
            "post": {
                "summary": f"{action.capitalize()} an allocation",
                "parameters": [path_id],
                "requestBody": action_body,
                "responses": {
                    "200": {"description": "OK", "content": json_content(obj)},
                    **error_responses(400, 401, 403, 404, 409, 422),
                },
            }
        }
    openapi.add_paths(paths)

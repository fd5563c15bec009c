"""JSON API for allocation requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from flask import Blueprint, Flask, current_app
from flask_babel import gettext as _
from pydantic import BeforeValidator, Field

from inventory import allocations as alloc
from inventory.models import Allocation
from readiness import services as core
from readiness.api import field, operation
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body, Code, DecimalText, Rows
from readiness.permissions import in_scope

bp = Blueprint("allocations_api", __name__, url_prefix="/api/v1")


def threshold() -> Decimal:
    return Decimal(str(current_app.config["COLLECTIVE_DECISION_THRESHOLD"]))


class AllocationLineAnswer(Answer):
    item: Code
    requested: int
    approved: int | None
    dispatched: int | None
    received: int | None


def _username(approval: Any) -> Any:
    approver = getattr(approval, "approver", None)
    return approval if approver is None else approver.username


class AllocationAnswer(Answer):
    id: int
    status: str
    from_: Code = Field(alias="from")
    to: Code
    reason: str
    emergency: bool
    approval_pending: bool
    lines: list[AllocationLineAnswer]
    approvals: list[Annotated[str, BeforeValidator(_username)]] = Field(
        description="Usernames of those who approved, in order"
    )
    approvals_needed: int
    value: DecimalText


class AllocationCreated(Answer):
    id: int
    status: str


def allocation_answer(a: Allocation) -> AllocationAnswer:
    return AllocationAnswer(
        id=a.id,
        status=a.status,
        from_=a.from_unit,
        to=a.to_unit,
        reason=a.reason,
        emergency=a.is_emergency,
        approval_pending=a.approved_at is None and a.status not in ("rejected", "cancelled"),
        lines=a.lines,
        approvals=a.approvals,
        approvals_needed=alloc.approvals_needed(a, threshold()),
        value=alloc.value_of(a),
    )


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


class AllocationLineRow(Body):
    """One line of an allocation: an item and a quantity (checked by the view row by row; a
    refusal names the line's own field, as before)."""

    item: str
    qty: int = Field(json_schema_extra={"minimum": 1})


class ApprovedLineRow(AllocationLineRow):
    """A line's approved quantity: 0 or more (less than asked needs a reason)."""

    qty: int = Field(json_schema_extra={"minimum": 0})


def _line_quantities(raw: list) -> list[tuple[str, int]]:
    """(item code, quantity) of each line, refusing the first line that is not an object or
    lacks a field of the right type."""
    out = []
    for n, line in enumerate(raw, start=1):
        if not isinstance(line, dict):
            raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
        out.append((field(line, "item", str), field(line, "qty", int)))
    return out


class NewAllocation(Body):
    # In the order the hand-written checks read them: the first wrong one is refused.
    lines: Rows(AllocationLineRow)
    from_: Any = Field(alias="from", json_schema_extra={"type": "string"})
    to: Any = Field(json_schema_extra={"type": "string"})
    reason: str
    emergency: bool | None = False
    draft: bool | None = Field(default=False, description="Keep as a draft, not yet submitted")


class AllocationAction(Body):
    """Optional: the quantities line by line, and a reason (a reduction or a short receipt
    needs one)."""

    lines: Rows(ApprovedLineRow, nullable=True) = None
    reason: str | None = None


def _action(json: AllocationAction | None) -> tuple[dict[str, int] | None, str]:
    json = json or AllocationAction()
    quantities = None if json.lines is None else dict(_line_quantities(json.lines))
    return quantities, json.reason or ""


ACTION = {
    "json": AllocationAction,
    "optional_body": True,
    "answers": {200: AllocationAnswer},
    "errors": (400, 401, 403, 404, 409),
}


@bp.route("/allocations", methods=["POST"])
@permission("allocations.request")
@operation(json=NewAllocation, answers={201: AllocationCreated}, errors=(400, 401, 403, 409))
def create(json: NewAllocation):
    """Request stock for a unit (submitted unless "draft": true)"""
    lines = [alloc.LineInput(item, qty) for item, qty in _line_quantities(json.lines)]
    a = alloc.create_allocation(
        db.session,
        from_unit=_unit(json.from_, "from"),
        to_unit=_unit(json.to, "to"),
        lines=lines,
        reason=json.reason,
        emergency=bool(json.emergency),
        draft=bool(json.draft),
        actor=current_actor(),
    )
    db.session.commit()
    return AllocationCreated(id=a.id, status=a.status), 201


@bp.route("/allocations/<int:allocation_id>", methods=["GET"])
@permission("allocations.view")
@operation(answers={200: AllocationAnswer}, errors=(401, 403, 404))
def get(allocation_id: int):
    """One request with its lines and approvals"""
    return allocation_answer(load(allocation_id))


def _done(a: Allocation) -> AllocationAnswer:
    db.session.commit()
    return allocation_answer(a)


class DraftLines(Body):
    """Every line the draft should hold: new items are added, others changed or removed."""

    lines: Rows(AllocationLineRow)


@bp.route("/allocations/<int:allocation_id>/lines", methods=["PUT"])
@permission("allocations.request")
@operation(json=DraftLines, answers={200: AllocationAnswer}, errors=(400, 401, 403, 404, 409))
def set_draft_lines(allocation_id: int, json: DraftLines):
    """Set the lines of a draft (add, change, remove)"""
    lines = [alloc.LineInput(item, qty) for item, qty in _line_quantities(json.lines)]
    a = alloc.edit_draft_lines(db.session, load(allocation_id), lines=lines, actor=current_actor())
    return _done(a)


@bp.route("/allocations/<int:allocation_id>/submit", methods=["POST"])
@permission("allocations.request")
@operation(answers={200: AllocationAnswer}, errors=(401, 403, 404, 409))
def submit(allocation_id: int):
    """Send a draft for approval"""
    return _done(alloc.submit_allocation(db.session, load(allocation_id), actor=current_actor()))


@bp.route("/allocations/<int:allocation_id>/approve", methods=["POST"])
@permission("allocations.approve")
@operation(**ACTION)
def approve(allocation_id: int, json: AllocationAction):
    """Approve, optionally reducing lines (then a reason is required)"""
    quantities, reason = _action(json)
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
@operation(**ACTION)
def reject(allocation_id: int, json: AllocationAction):
    """Refuse a request, with a reason"""
    _quantities, reason = _action(json)
    return _done(
        alloc.reject_allocation(db.session, load(allocation_id), actor=current_actor(), note=reason)
    )


@bp.route("/allocations/<int:allocation_id>/dispatch", methods=["POST"])
@permission("allocations.dispatch")
@operation(**ACTION)
def dispatch(allocation_id: int, json: AllocationAction):
    """Send the stock from the source (earliest expiry first)"""
    quantities, _reason = _action(json)
    return _done(
        alloc.dispatch_allocation(
            db.session, load(allocation_id), actor=current_actor(), quantities=quantities
        )
    )


@bp.route("/allocations/<int:allocation_id>/receive", methods=["POST"])
@permission("allocations.receive")
@operation(**ACTION)
def receive(allocation_id: int, json: AllocationAction):
    """Take delivery; a short receipt needs a reason"""
    quantities, reason = _action(json)
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
@operation(**ACTION)
def cancel(allocation_id: int, json: AllocationAction):
    """Withdraw a request before dispatch"""
    _quantities, reason = _action(json)
    return _done(
        alloc.cancel_allocation(db.session, load(allocation_id), actor=current_actor(), note=reason)
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

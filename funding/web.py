"""What the pages and the API of the money feature share: the house policy from the settings,
and loading a record within the caller's reach (another bureau's is simply not found)."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from funding.decisions import Policy
from funding.models import Decision, PurchaseLine, PurchaseRequest, Subsidy
from readiness import services as core
from readiness.auth import current_actor
from readiness.errors import DomainError, NotFound
from readiness.extensions import db
from readiness.models import Unit
from readiness.permissions import bureau_of, in_scope


def policy() -> Policy:
    return Policy.of(
        current_app.config["COLLECTIVE_DECISION_THRESHOLD"], current_app.config["DECISION_QUORUM"]
    )


def _in_reach(obj, unit_id: int | None, message: str):
    if obj is None or not in_scope(db.session, current_actor(), unit_id):
        raise NotFound(message)
    return obj


def purchase_in_reach(request_id: int) -> PurchaseRequest:
    # its lines with their units and items in two reads (two per line otherwise: issue 21)
    found = db.session.get(
        PurchaseRequest,
        request_id,
        options=[
            selectinload(PurchaseRequest.lines).selectinload(PurchaseLine.unit),
            selectinload(PurchaseRequest.lines).selectinload(PurchaseLine.item),
        ],
    )
    return _in_reach(
        found,
        found.unit_id if found else None,
        _("没有第 {id} 号购置申请。").format(id=request_id),
    )


def decision_in_reach(decision_id: int) -> Decision:
    found = db.session.get(Decision, decision_id)
    return _in_reach(
        found,
        found.unit_id if found else None,
        _("没有第 {id} 号集体决策。").format(id=decision_id),
    )


def subsidy_in_reach(subsidy_id: int) -> Subsidy:
    found = db.session.get(Subsidy, subsidy_id)
    return _in_reach(
        found,
        found.unit_id if found else None,
        _("没有第 {id} 号补助。").format(id=subsidy_id),
    )


def bureau_in_reach(code: str) -> Unit:
    """A bureau named by code, within the caller's reach; a unit that is not a bureau's own
    top is refused (its money is its bureau's)."""
    unit = core.get_unit(db.session, code)
    if not in_scope(db.session, current_actor(), unit):
        raise NotFound(_("没有单位 {code}。").format(code=code))
    if bureau_of(db.session, unit.id) != unit.id:
        raise DomainError(
            _("{name} 不是局级单位：储备金按局设立。").format(name=unit.name), field="bureau"
        )
    return unit


def own_bureau() -> Unit | None:
    """The bureau of the signed-in user (None for the administrator)."""
    actor = current_actor()
    if actor is None or actor.unit_id is None:
        return None
    return db.session.get(Unit, bureau_of(db.session, actor.unit_id))

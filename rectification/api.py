"""JSON API for inspection visits: record one with its findings (each becomes a corrective
action in the register), read one with its progress."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import Blueprint, Flask
from flask_babel import gettext as _
from pydantic import BeforeValidator, Field
from sqlalchemy import select

from readiness.api import date_field, field, operation, unit_field
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.models import User
from readiness.openapi import Answer, Body, DateText, IsoDate, OptionalDateText, Rows
from readiness.services import visible_unit_ids
from rectification import actions as act
from rectification import visits as vis
from rectification.models import VISIT_KINDS, InspectionVisit

bp = Blueprint("visits_api", __name__, url_prefix="/api/v1")

Username = Annotated[str, BeforeValidator(lambda v: getattr(v, "username", v))]
UnitCode = Annotated[str, BeforeValidator(lambda v: getattr(v, "code", v))]
# The team as names: a list, or one text ("王督察、李督察").
Team = Annotated[list[str] | str | None, Field(default=None)]


class VisitFindingRow(Body):
    """One problem found: the responsible unit and person, the due date and the measures."""

    text: str
    unit: str
    owner: str
    due_on: DateText
    measures: str | None = None
    leader: str | None = None


class NewVisit(Body):
    findings: Rows(VisitFindingRow, nullable=True) = None
    kind: str = Field(json_schema_extra={"enum": sorted(VISIT_KINDS)})
    unit: str
    visited_on: OptionalDateText = None
    team: Team = None
    summary: str | None = None


class VisitAction(Answer):
    id: int
    text: str
    measures: str
    leader: str
    unit: UnitCode
    owner: Username
    due_on: IsoDate
    status: str


class VisitProgress(Answer):
    total: int
    closed: int
    open: int
    overdue: int
    rate: float


class VisitCreated(Answer):
    id: int
    actions: list[VisitAction]
    message: str | None = None


class VisitAnswer(Answer):
    id: int
    kind: str
    unit: UnitCode
    visited_on: IsoDate
    team: str
    summary: str
    actions: list[VisitAction]
    progress: VisitProgress


def _owner(n: int, username: Any) -> User:
    user = db.session.scalar(select(User).where(User.username == str(username)))
    if user is None:
        raise DomainError(
            _("第 {n} 个问题：责任人 {name} 不存在。").format(n=n, name=str(username)[:40]),
            field="findings",
        )
    return user


def _finding(n: int, raw) -> vis.VisitFinding:
    """One row of "findings", checked on its own so that a refusal names the row."""
    try:
        if not isinstance(raw, dict):
            raise DomainError(_("格式不正确。"), field="findings")
        text = field(raw, "text", str)
        unit = unit_field(field(raw, "unit", str), "unit")
        owner_name = field(raw, "owner", str)
        due_on = date_field(field(raw, "due_on", str), "due_on")
        measures = field(raw, "measures", str, required=False, default="")
        leader = field(raw, "leader", str, required=False, default="")
    except DomainError as err:
        raise DomainError(
            _("第 {n} 个问题：{message}").format(n=n, message=err.message), field="findings"
        ) from None
    return vis.VisitFinding(
        text=text,
        unit=unit,
        owner=_owner(n, owner_name),
        due_on=due_on,
        measures=measures,
        leader=leader,
    )


def _answer(visit: InspectionVisit) -> VisitAnswer:
    # a reader sees the problems of the units they reach (a station: its own, not its
    # neighbours' of a bureau-wide visit), and the progress of those
    actions = vis.actions_in(visit, visible_unit_ids(db.session, current_actor()))
    p = vis.progress(visit, date.today(), actions)
    return VisitAnswer(
        id=visit.id,
        kind=visit.kind,
        unit=visit.unit.code,
        visited_on=visit.visited_on,
        team=visit.team,
        summary=visit.summary,
        actions=[VisitAction.model_validate(a) for a in actions],
        progress=VisitProgress(
            total=p.total, closed=p.closed, open=p.open, overdue=p.overdue, rate=p.rate
        ),
    )


@bp.route("/inspection-visits", methods=["POST"])
@permission("visits.record")
@operation(json=NewVisit, answers={201: VisitCreated}, errors=(400, 401, 403))
def create_visit(json: NewVisit):
    """Record an inspection visit and its findings

    Each finding becomes a corrective action of its unit, owned by the named person,
    due on the given date. A visit that found nothing is recorded and says so.
    """
    findings = [_finding(n, row) for n, row in enumerate(json.findings or [], start=1)]
    team = json.team if isinstance(json.team, str) else _("、").join(json.team or [])
    visit = vis.record_visit(
        db.session,
        kind=json.kind,
        unit=unit_field(json.unit, "unit"),
        visited_on=date_field(json.visited_on, "visited_on"),
        team=team,
        summary=json.summary or "",
        findings=findings,
        actor=current_actor(),
    )
    db.session.commit()
    message = None if findings else _("本次检查未发现问题，已登记。")
    actions = [VisitAction.model_validate(a) for a in visit.actions]
    return VisitCreated(id=visit.id, actions=actions, message=message), 201


@bp.route("/inspection-visits/<int:visit_id>", methods=["GET"])
@permission("visits.view")
@operation(answers={200: VisitAnswer}, errors=(401, 403, 404))
def get_visit(visit_id: int):
    """One inspection visit, its findings as actions and their progress"""
    visit = db.session.get(InspectionVisit, visit_id)
    if visit is None or not vis.visit_visible(db.session, current_actor(), visit):
        raise NotFound(_("检查记录第 {id} 号不存在。").format(id=visit_id))
    return _answer(visit)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)


# ---------------------------------------------------------------- self-inspection (自查)


class NewSelfInspection(Body):
    """A problem a unit found itself: its responsible person, due date and measures."""

    source: str = Field(json_schema_extra={"enum": ["self"]})
    text: str
    unit: str
    owner: str
    due_on: DateText
    measures: str | None = None
    leader: str | None = None


class SelfAction(VisitAction):
    source: str


@bp.route("/actions", methods=["POST"])
@permission("actions.self")
@operation(json=NewSelfInspection, answers={201: SelfAction}, errors=(400, 401, 403))
def create_self_inspection(json: NewSelfInspection):
    """Record a problem found by self-inspection (自查)

    The unit's own people (clerk, keeper, command staff) put it in the register for a
    responsible person of the unit, due on the given date.
    """
    if json.source != "self":
        raise DomainError(_("这里只能登记自查问题（source 为 self）。"), field="source")
    owner = db.session.scalar(select(User).where(User.username == str(json.owner)))
    if owner is None:
        raise DomainError(
            _("责任人 {name} 不存在。").format(name=str(json.owner)[:40]), field="owner"
        )
    action = act.record_self_inspection(
        db.session,
        text=json.text,
        unit=unit_field(json.unit, "unit"),
        owner=owner,
        due_on=date_field(json.due_on, "due_on"),
        measures=json.measures or "",
        leader=json.leader or "",
        actor=current_actor(),
    )
    db.session.commit()
    return SelfAction.model_validate(action), 201

"""JSON API for shelter subsidies (避灾安置场所补助, issue 20 item 7)."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_babel import gettext as _
from pydantic import Field

from funding import subsidies
from funding.models import SUBSIDY_STATUSES
from funding.web import policy, subsidy_in_reach
from readiness import paging
from readiness import services as core
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import NotFound
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body, Code, DecimalText, IsoDate
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope, unit_ids_below

bp = Blueprint("subsidies_api", __name__, url_prefix="/api/v1")


class SubsidyOut(Answer):
    id: int
    inspection: int = Field(description="The inspection that proposed it")
    inspected_on: IsoDate
    site: str = Field(description="The shelter site's name")
    site_id: int
    unit: Code = Field(description="The town's code: the subsidy goes to it")
    year: int = Field(description="The year it counts in (the inspection's)")
    amount: DecimalText = Field(description="Yuan")
    status: str = Field(json_schema_extra={"enum": list(SUBSIDY_STATUSES)})
    decision: int | None = Field(description="The collective decision it was approved against")
    fund_entry: int | None = Field(description="The fund's ledger line that paid it")
    reason: str = Field(description="Why it was refused")
    proposed_by: str | None
    decided_by: str | None


class TotalOut(Answer):
    unit: Code
    year: int
    approved: DecimalText = Field(description="Yuan approved and paid")
    proposed: DecimalText = Field(description="Yuan still awaiting approval")


class SubsidyList(PagedAnswer):
    rows: list[SubsidyOut] = Field(description="A page of subsidies, newest inspection first")
    totals: list[TotalOut] = Field(description="Every town and year in scope")


def subsidy_answer(s, inspection) -> SubsidyOut:
    return SubsidyOut(
        id=s.id,
        inspection=s.inspection_id,
        inspected_on=inspection.inspected_on,
        site=inspection.shelter.name,
        site_id=inspection.shelter_id,
        unit=s.unit,
        year=s.year,
        amount=s.amount,
        status=s.status,
        decision=s.decision_id,
        fund_entry=s.fund_entry_id,
        reason=s.reason,
        proposed_by=s.proposed_by.username if s.proposed_by else None,
        decided_by=s.decided_by.username if s.decided_by else None,
    )


def _answer(subsidy) -> SubsidyOut:
    return subsidy_answer(
        subsidy, subsidies.inspections_of(db.session, [subsidy])[subsidy.inspection_id]
    )


class SubsidyQuery(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and the towns below)")
    year: int | None = Field(default=None, ge=2000, le=2100, description="The subsidies' year")


@bp.route("/subsidies", methods=["GET"])
@permission("subsidies.view")
@operation(query=SubsidyQuery, answers={200: SubsidyList}, errors=(400, 401, 403, 404, 422))
def list_subsidies(query: SubsidyQuery):
    """Shelter subsidies of the towns in reach, and their totals by town and year

    Rows newest inspection first, a page at a time; totals (on every page, whole) count
    approved (paid) and proposed (awaiting approval) apart, refused ones nowhere.
    """
    actor = current_actor()
    if query.unit:
        unit = core.get_unit(db.session, query.unit)
        if not in_scope(db.session, actor, unit):
            raise NotFound(_("没有单位 {code}。").format(code=query.unit))
        scope = unit_ids_below(db.session, unit.id)
    else:
        scope = core.visible_unit_ids(db.session, actor)
    rows, next_cursor = paging.page(
        db.session,
        subsidies.subsidies_query(scope, year=query.year),
        subsidies.SUBSIDY_ORDER,
        query.limit,
        query.cursor,
    )
    inspections = subsidies.inspections_of(db.session, rows)
    by_town, _by_year = subsidies.totals(db.session, scope, year=query.year)
    return SubsidyList(
        next_cursor=next_cursor,
        rows=[subsidy_answer(s, inspections[s.inspection_id]) for s in rows],
        totals=[
            TotalOut(unit=t.unit, year=t.year, approved=t.approved, proposed=t.proposed)
            for t in by_town
        ],
    )


class SubsidyApproval(Body):
    decision: int | None = Field(
        default=None,
        description="The collective decision's id: required when the amount reaches the "
        "threshold (409 without it)",
    )
    booked_on: str | None = Field(
        default=None, description="The fund's booking date, YYYY-MM-DD; default today"
    )
    version: int | None = Field(
        default=None, description="The version the client saw; refused (409) if it changed"
    )


@bp.route("/subsidies/<int:subsidy_id>/approve", methods=["POST"])
@permission("subsidies.approve")
@operation(json=SubsidyApproval, answers={200: SubsidyOut}, errors=(400, 401, 403, 404, 409, 422))
def approve_subsidy(subsidy_id: int, json: SubsidyApproval):
    """Approve a proposed subsidy (not one's own) and pay it from the fund

    From the threshold up a collective decision of the bureau is needed (409 without it);
    refused (409) when the fund is too low.
    """
    subsidy = subsidy_in_reach(subsidy_id)
    subsidies.approve_subsidy(
        db.session,
        subsidy,
        decision=json.decision,
        booked_on=json.booked_on,
        version=json.version,
        policy=policy(),
        actor=current_actor(),
    )
    db.session.commit()
    return _answer(subsidy)


class SubsidyRefusal(Body):
    reason: str = Field(description="Why it is not approved")
    version: int | None = None


@bp.route("/subsidies/<int:subsidy_id>/refuse", methods=["POST"])
@permission("subsidies.approve")
@operation(json=SubsidyRefusal, answers={200: SubsidyOut}, errors=(400, 401, 403, 404, 409, 422))
def refuse_subsidy(subsidy_id: int, json: SubsidyRefusal):
    """Refuse a proposed subsidy (not one's own), saying why"""
    subsidy = subsidy_in_reach(subsidy_id)
    subsidies.refuse_subsidy(
        db.session, subsidy, json.reason, version=json.version, actor=current_actor()
    )
    db.session.commit()
    return _answer(subsidy)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

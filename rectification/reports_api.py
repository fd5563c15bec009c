"""JSON API of the rectification list (整改清单): its rows and totals, or its files."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask
from pydantic import Field

from readiness import paging
from readiness.api import REPORT_FILES, Day, ReportFormat, Whole, operation
from readiness.auth import permission
from readiness.extensions import csrf
from readiness.openapi import Answer, IsoDate
from readiness.paging import Paged, PagedAnswer
from rectification import reports as rep
from rectification import reports_views as views
from rectification.models import SOURCES

bp = Blueprint("rectification_reports_api", __name__, url_prefix="/api/v1")


class RectificationQuery(Paged):
    unit: str | None = Field(default=None, description="unit code (and the units below it)")
    source: str | None = Field(default=None, json_schema_extra={"enum": sorted(SOURCES)})
    visit: Whole(1, views.ID_MAX) = Field(  # type: ignore[valid-type]
        default=None, description="inspection visit id"
    )
    from_: Day = Field(default=None, alias="from", description="found on or after (YYYY-MM-DD)")
    to: Day = Field(default=None, description="found on or before (YYYY-MM-DD)")
    format: ReportFormat = "json"


class RectificationRow(Answer):
    no: int
    action_id: int
    problem: str
    measures: str
    unit: str
    owner: str
    leader: str
    due_on: IsoDate
    status: str
    evidence: str
    verified_by: str | None
    closed_on: IsoDate | None
    overdue: bool
    source: str
    visit_id: int | None


class RectificationAnswer(PagedAnswer):
    rows: list[RectificationRow] = Field(description="A page of the list, by action id")
    # the totals are the whole list's, on every page
    total: int
    closed: int
    open: int
    overdue: int
    rate: float


def _row(r) -> RectificationRow:
    a = r.action
    return RectificationRow(
        no=r.no,
        action_id=a.id,
        problem=a.text,
        measures=a.measures,
        unit=a.unit.code,
        owner=a.owner.username,
        leader=a.leader,
        due_on=a.due_on,
        status=a.status,
        evidence=a.evidence,
        verified_by=a.verified_by.username if a.verified_by else None,
        closed_on=r.closed_on,
        overdue=r.overdue,
        source=a.source,
        visit_id=a.visit_id,
    )


# The list's order: by action id (as numbered).
LIST_ORDER = paging.Order("rectification", paging.Key(int))


@bp.route("/reports/rectification", methods=["GET"])
@permission("drills.view")
@operation(
    query=RectificationQuery,
    answers={200: RectificationAnswer},
    errors=(400, 401, 403, 404, 422),
    files=REPORT_FILES,
)
def rectification_list(query: RectificationQuery):
    """The rectification list (整改清单)

    Every corrective action of a unit subtree within the caller's reach, filtered by
    ?source=, ?visit=, and ?from= / ?to= (the day found: an inspection visit's date, else the
    day it entered the register), with the totals: closed means verified or cancelled;
    rate = closed ÷ total. The rows come a page at a time (?limit=, ?cursor=; ``no`` numbers
    a row in the whole list), the totals whole; ?format=csv|xlsx|pdf gives the list as
    handed in, whole.
    """
    start: date | None = query.from_
    filters = views.read_filters(query.unit, query.source, query.visit, start, query.to)
    data, heading = views.build(filters)
    if query.format != "json":
        return rep.list_download(query.format, data, heading)
    rows, next_cursor = paging.page_of_rows(
        data.rows, LIST_ORDER, lambda r: (r.action.id,), query.limit, query.cursor
    )
    return RectificationAnswer(
        next_cursor=next_cursor,
        rows=[_row(r) for r in rows],
        total=data.total,
        closed=data.closed,
        open=data.open,
        overdue=data.overdue,
        rate=data.rate,
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

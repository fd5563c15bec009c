"""The rectification list page (/rectification) and its downloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Blueprint, render_template, request
from flask_babel import get_timezone
from flask_babel import gettext as _

from readiness import services as core
from readiness.api import date_field, report_scope
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import db
from readiness.params import whole_number
from rectification import reports as rep
from rectification import visits as vis
from rectification.models import SOURCES, VISIT_KINDS, InspectionVisit

bp = Blueprint("rectification_reports", __name__)

ID_MAX = 2**31 - 1


@dataclass(frozen=True)
class Filters:
    unit: str | None
    source: str | None
    visit: InspectionVisit | None
    start: date | None
    end: date | None


def visit_label(visit: InspectionVisit) -> str:
    return _("{date} {kind}（{unit}，第 {id} 号）").format(
        date=visit.visited_on.isoformat(),
        kind=str(VISIT_KINDS[visit.kind]),
        unit=visit.unit.name,
        id=visit.id,
    )


def read_filters(unit: str | None, source: str | None, visit_id: int | None, start, end) -> Filters:
    """The list's filters checked: an unknown source or a period ending before it starts is
    refused naming the field; a visit the caller cannot see is not found."""
    source = rep.check_source(source)
    rep.check_period(start, end)
    visit = None
    if visit_id is not None:
        visit = db.session.get(InspectionVisit, visit_id)
        if visit is None or not vis.visit_visible(db.session, current_actor(), visit):
            raise NotFound(_("检查记录第 {id} 号不存在。").format(id=visit_id))
    return Filters(unit or None, source, visit, start, end)


def whose(unit_code: str | None) -> str:
    """Whose list it is, in words: the unit asked for, or the caller's reach."""
    actor = current_actor()
    if unit_code:
        unit = core.get_unit(db.session, unit_code)
    elif core.visible_unit_ids(db.session, actor) is not None and actor.unit is not None:
        unit = actor.unit
    else:
        return _("全部单位")
    return _("{unit}及其下级单位").format(unit=unit.name)


def build(filters: Filters) -> tuple[rep.RectificationList, rep.Heading]:
    """The list within the caller's reach and how its files name it."""
    tz = get_timezone()
    data = rep.rectification_list(
        db.session,
        unit_ids=report_scope(filters.unit),
        source=filters.source,
        visit_id=filters.visit.id if filters.visit else None,
        start=filters.start,
        end=filters.end,
        today=date.today(),
        tz=tz,
    )
    actor = current_actor()
    heading = rep.Heading(
        unit=whose(filters.unit),
        source=filters.source,
        visit=visit_label(filters.visit) if filters.visit else None,
        start=filters.start,
        end=filters.end,
        generated_by=actor.display_name,
        generated_at=datetime.now(UTC),
        tz=tz,
    )
    return data, heading


@bp.route("/rectification")
@permission("drills.view")
def rectification_list():
    """整改清单: problems, measures, who is responsible, where each stands, and the totals."""
    args = request.args
    try:
        filters = read_filters(
            args.get("unit"),
            args.get("source"),
            whole_number(args.get("visit"), "visit", 1, ID_MAX),
            date_field(args.get("from"), "from"),
            date_field(args.get("to"), "to"),
        )
    except DomainError as err:
        if err.status == 404:
            raise
        return render_template(
            "rectification/list.html", error=err.message, data=None, args=args, sources=SOURCES
        ), err.status
    data, heading = build(filters)
    response = rep.list_download(args.get("format", "html"), data, heading)
    if response is not None:
        return response
    query = {
        "unit": filters.unit,
        "source": filters.source,
        "visit": filters.visit.id if filters.visit else None,
        "from": filters.start.isoformat() if filters.start else None,
        "to": filters.end.isoformat() if filters.end else None,
    }
    return render_template(
        "rectification/list.html",
        error=None,
        data=data,
        heading=heading,
        totals=rep.totals_sentence(data),
        state=rep.state,
        person=rep.person,
        query={k: v for k, v in query.items() if v is not None},
        args=args,
        sources=SOURCES,
        visit=filters.visit,
    )

"""JSON API for maintenance and function tests of serial equipment."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask
from pydantic import Field
from sqlalchemy import select

from inventory import maintenance
from readiness import paging
from readiness import services as core
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import PermissionDenied
from readiness.extensions import csrf, db
from readiness.models import Unit
from readiness.openapi import Answer, Body, Code, IsoDate
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope, unit_ids_below

bp = Blueprint("maintenance_api", __name__, url_prefix="/api/v1")


class NewMaintenance(Body):
    asset: str = Field(description="The piece's serial number")
    item: str | None = Field(default=None, description="The item's code, if serials repeat")
    kind: str = Field(json_schema_extra={"enum": ["service", "function_test", "repair"]})
    done_on: str = Field(description="YYYY-MM-DD, not in the future")
    result: str = Field(json_schema_extra={"enum": ["pass", "fail"]})
    note: str | None = None
    readings: str | None = None
    vendor: str | None = None
    sent_on: str | None = Field(default=None, description="A repair: the day it was sent")
    cost: str | float | None = Field(default=None, description="Yuan, two decimals at most")
    request_key: str | None = Field(
        default=None, description="A one-time key: the same record sent again is kept once"
    )


class MaintenanceAnswer(Answer):
    id: int
    asset: str
    item: Code
    unit: str
    kind: str
    done_on: IsoDate
    result: str
    note: str
    readings: str
    vendor: str
    sent_on: IsoDate | None
    cost: str | None
    status: str = Field(description="The piece's status after the record")


def _answer(entry) -> MaintenanceAnswer:
    asset = entry.asset
    return MaintenanceAnswer(
        id=entry.id,
        asset=asset.serial,
        item=asset.item,
        unit=maintenance.unit_of(db.session, entry).code,
        kind=entry.kind,
        done_on=entry.done_on,
        result=entry.result,
        note=entry.note,
        readings=entry.readings,
        vendor=entry.vendor,
        sent_on=entry.sent_on,
        cost=str(entry.cost) if entry.cost is not None else None,
        status=asset.status,
    )


@bp.route("/maintenance", methods=["POST"])
@permission("stock.write")
@operation(json=NewMaintenance, answers={201: MaintenanceAnswer}, errors=(400, 401, 403, 404, 409))
def create_maintenance(json: NewMaintenance):
    """Record a service, function test or repair

    A failed function test takes the piece out of service (it stops counting as on hand);
    a repair that passes puts it back in service.
    """
    asset = maintenance.find_asset(db.session, json.asset, json.item)
    if asset.unit_id is not None and not in_scope(db.session, current_actor(), asset.unit_id):
        raise PermissionDenied(maintenance.out_of_reach())
    entry = maintenance.record(
        db.session,
        asset,
        kind=json.kind,
        done_on=json.done_on,
        result=json.result,
        note=json.note or "",
        readings=json.readings or "",
        vendor=json.vendor or "",
        sent_on=json.sent_on,
        cost=json.cost,
        request_key=json.request_key,
        actor=current_actor(),
    )
    db.session.commit()
    return _answer(entry), 201


class MaintenanceFilter(Paged):
    asset: str | None = Field(default=None, description="A serial number")
    unit: str | None = Field(default=None, description="A unit's code (and the units below)")


class MaintenanceList(PagedAnswer):
    rows: list[MaintenanceAnswer]


def _scope(unit_code: str | None) -> set[int] | None:
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    if not unit_code:
        return visible
    unit = core.get_unit(db.session, unit_code)
    if not in_scope(db.session, actor, unit):
        raise PermissionDenied(maintenance.out_of_reach())
    return unit_ids_below(db.session, unit.id)


@bp.route("/maintenance", methods=["GET"])
@permission("stock.view")
@operation(query=MaintenanceFilter, answers={200: MaintenanceList}, errors=(400, 401, 403, 404))
def list_maintenance(query: MaintenanceFilter):
    """Maintenance records

    Newest first, of one piece or of the units in reach, a page at a time.
    """
    scope = _scope(query.unit)
    asset = maintenance.find_asset(db.session, query.asset) if query.asset else None
    if (
        asset is not None
        and asset.unit_id is not None
        and not in_scope(db.session, current_actor(), asset.unit_id)
    ):
        raise PermissionDenied(maintenance.out_of_reach())
    entries, next_cursor = paging.page(
        db.session,
        maintenance.records_query(scope, asset),
        maintenance.RECORD_ORDER,
        query.limit,
        query.cursor,
    )
    # the records' units in one read, held while the rows are written so that naming each
    # one finds it loaded (the session keeps only weak references): issue 21
    units = db.session.scalars(select(Unit).where(Unit.id.in_({e.unit_id for e in entries}))).all()
    answer = MaintenanceList(rows=[_answer(e) for e in entries], next_cursor=next_cursor)
    del units
    return answer


class DueFilter(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and the units below)")


class DueRow(Answer):
    asset: str
    item: Code
    unit: Code
    kind: str = Field(json_schema_extra={"enum": ["service", "function_test"]})
    due_on: IsoDate
    overdue: bool
    last_on: IsoDate | None
    status: str


class DueList(PagedAnswer):
    rows: list[DueRow]


@bp.route("/maintenance/due", methods=["GET"])
@permission("stock.view")
@operation(query=DueFilter, answers={200: DueList}, errors=(400, 401, 403, 404))
def due_maintenance(query: DueFilter):
    """Services and function tests due

    Each scheduled piece's next service and function test due within 14 days, overdue
    first, a page at a time.
    """
    rows, next_cursor = paging.page_of_rows(
        maintenance.due_rows(db.session, _scope(query.unit), today=date.today()),
        maintenance.DUE_ORDER,
        maintenance.due_key,
        query.limit,
        query.cursor,
    )
    return DueList(
        next_cursor=next_cursor,
        rows=[
            DueRow(
                asset=d.asset.serial,
                item=d.asset.item,
                unit=d.asset.unit,
                kind=d.kind,
                due_on=d.due_on,
                overdue=d.overdue,
                last_on=d.last_on,
                status=d.asset.status,
            )
            for d in rows
        ],
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

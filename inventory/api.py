"""JSON API for items, the standard, movements, stock, counts and the reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pydantic_core
from flask import Blueprint, Flask, Response
from flask_babel import gettext as _
from pydantic import BeforeValidator, Field, WithJsonSchema
from sqlalchemy import select

from inventory import catalog, checks, counts, ledger, reports, standard, stock
from inventory.models import MANUAL_KINDS, Count, Item
from inventory.shortfall import shortfall
from readiness import paging
from readiness.api import (
    REPORT_FILES,
    Day,
    ReportFormat,
    Whole,
    date_field,
    field,
    operation,
    report_scope,
    unit_field,
)
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import csrf, db
from readiness.openapi import (
    Answer,
    Body,
    Code,
    DateText,
    DecimalText,
    IsoDate,
    Number,
    OptionalCode,
    OptionalDateText,
    OptionalIsoDate,
    Query,
    Rows,
)
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope

bp = Blueprint("inventory_api", __name__, url_prefix="/api/v1")

# The downloads a report sends besides JSON (?format=csv|xlsx|pdf).


def item_field(code, name: str = "item") -> Item:
    if not isinstance(code, str) or not code:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    try:
        return catalog.get_item(db.session, code)
    except NotFound as err:
        raise DomainError(err.message, field=name) from None


def code_field() -> Any:
    """A field naming a row by code that the view looks up itself (unit_field, item_field):
    any value reaches the lookup, whose refusal names the field; the document shows a code."""
    return Field(json_schema_extra={"type": "string"})


SCOPE = "A unit's code: that unit and the units below it (default: all the caller may see)"
# Doc-only rules: checked (and refused with their messages) by the services.
QTY = {"minimum": 1, "maximum": checks.MAX_QTY}


# --- items ---


class ItemAnswer(Answer):
    code: str
    name: str
    category: str
    uom: str
    # The English (issue 22): an empty string where none is kept.
    name_en: str
    category_en: str
    uom_en: str
    unit_cost: DecimalText
    shelf_life_days: int | None
    tracking: str
    is_active: bool


class ItemList(PagedAnswer):
    items: list[ItemAnswer]


class NewItem(Body):
    # In the order the hand-written checks read them: the first wrong one is refused.
    unit_cost: int | float | str = Field(json_schema_extra={"minimum": 0})
    code: str
    name: str
    category: str
    uom: str
    shelf_life_days: int | None = None
    tracking: str | None = Field(default="bulk", json_schema_extra={"enum": ["bulk", "serial"]})
    name_en: str | None = Field(default=None, json_schema_extra={"maxLength": 100})
    category_en: str | None = Field(default=None, json_schema_extra={"maxLength": 40})
    uom_en: str | None = Field(default=None, json_schema_extra={"maxLength": 20})


# The catalog by category, then code (unique).
ITEM_ORDER = paging.Order("items", paging.Key(str, Item.category), paging.Key(str, Item.code))


@bp.route("/items", methods=["GET"])
@permission("items.view")
@operation(query=Paged, answers={200: ItemList}, errors=(401,))
def list_items(query: Paged):
    """The item catalog, by category and code, a page at a time"""
    items, next_cursor = paging.page(
        db.session, select(Item), ITEM_ORDER, query.limit, query.cursor
    )
    return ItemList(items=items, next_cursor=next_cursor)


@bp.route("/items", methods=["POST"])
@permission("items.manage")
@operation(json=NewItem, answers={201: ItemAnswer}, errors=(400, 401, 403, 409))
def create_item(json: NewItem):
    """Add an item to the catalog (administrators)"""
    item = catalog.create_item(
        db.session,
        code=json.code,
        name=json.name,
        category=json.category,
        uom=json.uom,
        unit_cost=json.unit_cost,
        shelf_life_days=json.shelf_life_days,
        tracking="bulk" if json.tracking is None else json.tracking,
        name_en=json.name_en or "",
        category_en=json.category_en or "",
        uom_en=json.uom_en or "",
        actor=current_actor(),
    )
    db.session.commit()
    return ItemAnswer.model_validate(item), 201


class ItemEdit(Body):
    # In the order the hand-written checks read them: the first wrong one is refused.
    unit_cost: int | float | str = Field(json_schema_extra={"minimum": 0})
    name: str
    category: str
    uom: str
    shelf_life_days: int | None = None
    is_active: bool | None = Field(default=None, description="Absent: as it is")
    name_en: str | None = Field(
        default=None,
        description="Absent: as it is; empty: none",
        json_schema_extra={"maxLength": 100},
    )
    category_en: str | None = Field(
        default=None,
        description="Absent: as it is; empty: none",
        json_schema_extra={"maxLength": 40},
    )
    uom_en: str | None = Field(
        default=None,
        description="Absent: as it is; empty: none",
        json_schema_extra={"maxLength": 20},
    )


@bp.route("/items/<item_code>", methods=["PUT"])
@permission("items.manage")
@operation(json=ItemEdit, answers={200: ItemAnswer}, errors=(400, 401, 403, 404))
def put_item(item_code: str, json: ItemEdit):
    """Replace an item's description, price and shelf life (administrators); its code and
    tracking stay, and the English fields left out stay as they are"""
    item = catalog.get_item(db.session, item_code)
    catalog.update_item(
        db.session,
        item,
        name=json.name,
        category=json.category,
        uom=json.uom,
        unit_cost=json.unit_cost,
        shelf_life_days=json.shelf_life_days,
        is_active=item.is_active if json.is_active is None else json.is_active,
        name_en=json.name_en,
        category_en=json.category_en,
        uom_en=json.uom_en,
        actor=current_actor(),
    )
    db.session.commit()
    return ItemAnswer.model_validate(item)


# --- the standard ---


class StandardLineAnswer(Answer):
    unit_kind: str
    item: Code
    base_qty: Number
    per_officer: Number


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class StandardAnswer(Answer):
    """The edition in force; with no edition yet, id and effective_from are null, no note.
    unit is the code of the unit that published it (it applies to that unit and the units
    below it), null for an edition that applies everywhere."""

    id: int | None
    effective_from: OptionalIsoDate
    unit: OptionalCode = None
    # Absent (not null) when there is no edition.
    note: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        default=None, exclude_if=lambda note: note is None, json_schema_extra=_no_default
    )
    lines: list[StandardLineAnswer]


def standard_answer(version) -> StandardAnswer:
    if version is None:
        return StandardAnswer(id=None, effective_from=None, lines=[])
    return StandardAnswer.model_validate(version)


class StandardAsOf(Query):
    as_of: Day = None
    unit: str | None = Field(
        default=None,
        description="A unit's code: the edition in force for it (default: the caller's unit)",
    )


class StandardLineInput(Body):
    unit_kind: str
    item: str
    base_qty: int | float | str = Field(json_schema_extra={"minimum": 0})
    per_officer: int | float | str = Field(json_schema_extra={"minimum": 0})


class NewStandard(Body):
    effective_from: DateText
    lines: list[StandardLineInput]
    note: str | None = None


@bp.route("/standard", methods=["GET"])
@permission("standard.view")
@operation(query=StandardAsOf, answers={200: StandardAnswer}, errors=(401, 403))
def get_standard(query: StandardAsOf):
    """The standard in force today, or on ?as_of=YYYY-MM-DD, for the caller's unit or ?unit="""
    on = query.as_of or date.today()
    actor = current_actor()
    unit = actor.unit
    if query.unit:
        unit = unit_field(query.unit)
        if not standard.in_reach(db.session, actor, unit.id):
            raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return standard_answer(standard.standard_as_of(db.session, on, unit))


@bp.route("/standard", methods=["PUT"])
@permission("standard.manage")
@operation(json=NewStandard, answers={201: StandardAnswer}, errors=(400, 401, 403))
def put_standard(json: NewStandard):
    """Publish a new edition of the standard for the caller's unit and the units below it
    (command staff)"""
    effective_from = date_field(json.effective_from, "effective_from")
    version = standard.publish_standard(
        db.session,
        effective_from=effective_from,
        lines=[
            standard.StandardLineInput(ln.unit_kind, ln.item, ln.base_qty, ln.per_officer)
            for ln in json.lines
        ],
        note=json.note or "",
        actor=current_actor(),
    )
    db.session.commit()
    return standard_answer(version), 201


# --- movements and stock ---


class NewMovement(Body):
    unit: Any = code_field()
    item: Any = code_field()
    kind: str = Field(json_schema_extra={"enum": list(MANUAL_KINDS)})
    qty: int = Field(json_schema_extra=QTY)
    lot: str | None = None
    expires_on: OptionalDateText = None
    note: str | None = None
    reason: str | None = None
    serials: list[Any] | None = Field(default=None, json_schema_extra={"items": {"type": "string"}})
    request_key: str | None = None


class MovementPart(Answer):
    """One ledger line a request wrote: its lot (null: stock kept without a lot), the signed
    quantity and that position's balance after it."""

    id: int
    lot: str | None
    qty: int
    balance: int


class MovementAnswer(Answer):
    """The movement recorded (201), or the one already recorded under the same request_key
    (200), with the balance after it and any warnings (e.g. an expired lot received).
    An issue or write-off without a lot may take several lots, earliest expiry first: id and
    balance describe the first ledger line, movements lists every one, and unit_total is
    the unit's whole balance of the item afterwards, every lot together."""

    id: int
    balance: int
    warnings: list[str]
    unit_total: int
    movements: list[MovementPart]


@bp.route("/movements", methods=["POST"])
@permission("stock.write")
@operation(
    json=NewMovement,
    answers={201: MovementAnswer, 200: MovementAnswer},
    errors=(400, 401, 403, 409),
)
def create_movement(json: NewMovement):
    """Record a receipt, issue or write-off; 409 if the balance would go below zero"""
    unit = unit_field(json.unit)
    item = item_field(json.item)
    if json.kind not in MANUAL_KINDS:
        raise DomainError(_("kind 只能是 receipt、issue 或 write_off。"), field="kind")
    result = ledger.record_movement(
        db.session,
        unit=unit,
        item=item,
        kind=json.kind,
        qty=json.qty,
        lot_code=json.lot,
        expires_on=date_field(json.expires_on, "expires_on"),
        note=json.note or "",
        reason=json.reason or "",
        serials=json.serials,
        request_key=json.request_key,
        actor=current_actor(),
    )
    db.session.commit()
    answer = MovementAnswer(
        id=result.movement.id,
        balance=result.balance,
        warnings=result.warnings,
        unit_total=result.unit_total,
        movements=[
            MovementPart(
                id=m.id, lot=m.lot.code if m.lot else None, qty=m.qty, balance=m.balance_after
            )
            for m in result.movements
        ],
    )
    return answer, 200 if result.replayed else 201


class Scope(Query):
    unit: str | None = Field(default=None, description=SCOPE)


class StockRow(Answer):
    unit: str
    item: str
    lot: str | None
    expires_on: OptionalIsoDate
    qty: int


class StockList(PagedAnswer):
    rows: list[StockRow]


class StockQuery(Scope, Paged):
    pass


@bp.route("/stock", methods=["GET"])
@permission("stock.view")
@operation(query=StockQuery, answers={200: StockList}, errors=(401, 403, 404))
def get_stock(query: StockQuery):
    """Balances by unit, item and lot (?unit=CODE for one unit and the units below it), a
    page at a time"""
    rows, next_cursor = stock.stock_rows_for_api(
        db.session, report_scope(query.unit), limit=query.limit, cursor=query.cursor
    )
    return StockList(rows=rows, next_cursor=next_cursor)


# --- stocktakes ---


class CountLineAnswer(Answer):
    """One position. While a blind count is still being counted, book and variance are
    null: the counter does not see the book until the count is submitted."""

    item: Code
    lot: OptionalCode
    book: int | None
    counted: int | None
    variance: int | None
    not_counted_reason: str | None


class CountAnswer(Answer):
    id: int
    unit: Code
    status: str
    lines: list[CountLineAnswer]
    partial: bool = Field(description="Submitted with positions marked not counted")
    blind: bool = Field(description="Book quantities hidden from the counter until submitted")
    return_reason: str | None = Field(description="Why it was last returned for recount")


class ApprovedCount(CountAnswer):
    adjustments: int = Field(description="Adjusting movements posted for the variances")


def count_answer(count: Count, answer: type[CountAnswer] = CountAnswer, **extra) -> CountAnswer:
    """A count in the API's shape, book quantities hidden while a blind count is counted."""
    book = counts.shows_book(count)
    return answer(
        id=count.id,
        unit=count.unit,
        status=count.status,
        lines=[
            CountLineAnswer(
                item=ln.item,
                lot=ln.lot,
                book=ln.book if book else None,
                counted=ln.counted,
                variance=ln.variance if book else None,
                not_counted_reason=ln.not_counted_reason,
            )
            for ln in count.lines
        ],
        partial=count.is_partial,
        blind=count.is_blind,
        return_reason=count.return_reason or None,
        **extra,
    )


class CountLineRow(Body):
    """One position: counted, or not counted with a reason (checked by the view row by row,
    with the stocktake's messages)."""

    item: str
    lot: str | None = None
    counted: int | None = Field(default=None, json_schema_extra={"minimum": 0})
    not_counted_reason: str | None = None


class NewCount(Body):
    """Every position with stock must be counted or given a not_counted_reason (422 lists
    those that are neither)."""

    unit: Any = code_field()
    # Each line is checked by the view, in order, with the stocktake's own messages.
    lines: Rows(CountLineRow, max_items=10_000)
    note: str | None = None


class CountReturn(Body):
    reason: str


def _api_count(count_id: int) -> Count:
    count = counts.count_with_lines(db.session, count_id)
    if count is None or not in_scope(db.session, current_actor(), count.unit_id):
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    return count


@bp.route("/counts", methods=["POST"])
@permission("counts.write")
@operation(json=NewCount, answers={201: CountAnswer}, errors=(400, 401, 403, 409))
def create_count(json: NewCount):
    """Record a whole stocktake at once: snapshot, counted lines, submitted for approval"""
    unit = unit_field(json.unit)
    if len(json.lines) > 10_000:
        raise DomainError(_("一次最多 10000 行。"), field="lines")
    actor = current_actor()
    count = counts.start_count(db.session, unit, actor=actor, note=json.note or "")
    for n, raw in enumerate(json.lines, start=1):
        if not isinstance(raw, dict):
            raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
        item = item_field(raw.get("item"))
        lot = None
        lot_code = field(raw, "lot", str, required=False)
        if lot_code:
            lot = ledger.find_lot(db.session, item, lot_code)
            if lot is None:
                raise DomainError(
                    _("{item} 没有批次 {lot}。").format(item=item.name, lot=lot_code), field="lines"
                )
        counted = raw.get("counted")
        reason = (field(raw, "not_counted_reason", str, required=False) or "").strip()
        if counted is None:
            # Neither counted nor explained (a blank reason is none): submit_count lists it.
            if reason:
                counts.mark_not_counted(db.session, count, item, lot, reason, actor=actor)
            continue
        if reason:
            raise DomainError(
                _("第 {n} 行：清点数量和未清点原因只能填一个。").format(n=n), field="lines"
            )
        if isinstance(counted, bool) or not isinstance(counted, int):
            raise DomainError(_("第 {n} 行：清点数量必须是整数。").format(n=n), field="lines")
        counts.enter_count(db.session, count, item, lot, counted, actor=actor)
    counts.submit_count(db.session, count, actor=actor)
    db.session.commit()
    return count_answer(count), 201


@bp.route("/counts/<int:count_id>", methods=["GET"])
@permission("stock.view")
@operation(answers={200: CountAnswer}, errors=(401, 403, 404))
def get_count(count_id: int):
    """One stocktake with book, counted and variance per line (no book while a blind count
    is being counted)"""
    return count_answer(_api_count(count_id))


@bp.route("/counts/<int:count_id>/approve", methods=["POST"])
@permission("counts.approve")
@operation(answers={200: ApprovedCount}, errors=(401, 403, 404, 409))
def approve_count(count_id: int):
    """Approve a submitted count (not by its counter): variances become adjustments"""
    count = db.session.get(Count, count_id)
    if count is None:
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    moves = counts.approve_count(db.session, count, actor=current_actor())
    db.session.commit()
    return count_answer(count, ApprovedCount, adjustments=len(moves))


@bp.route("/counts/<int:count_id>/return", methods=["POST"])
@permission("counts.approve")
@operation(json=CountReturn, answers={200: CountAnswer}, errors=(400, 401, 403, 404, 409))
def return_count(count_id: int, json: CountReturn):
    """Return a submitted count for recount, with a reason (not by its counter); the typed
    quantities stay"""
    count = db.session.get(Count, count_id)
    if count is None:
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    counts.return_count(db.session, count, json.reason, actor=current_actor())
    db.session.commit()
    return count_answer(count)


# --- reports ---


def _coverage(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


class ShortfallRow(Answer):
    unit: Code
    item: Code
    required: int
    on_hand: int
    expired: int
    inbound: int
    gap: int
    uncovered: int
    coverage: Annotated[float, BeforeValidator(_coverage)]
    on_order: int = Field(
        description="Approved purchase requests not yet delivered (uncovered is net of it)"
    )


class ShortfallItem(Answer):
    item: Code
    gap: int
    uncovered: int
    unit_cost: DecimalText
    cost: DecimalText
    transferable: int
    to_buy: int
    to_buy_cost: DecimalText


class SuggestedTransfer(Answer):
    from_: Code = Field(alias="from")
    to: Code
    item: Code
    qty: int


class ShortfallAnswer(Answer):
    as_of: IsoDate
    # The edition when every unit of the report has the same one in force, else null.
    standard_version: int | None
    # Every edition in force for some unit of the report (each unit follows its nearest).
    standard_versions: list[int]
    rows: list[ShortfallRow]
    items: list[ShortfallItem]
    budget_total: DecimalText
    to_buy_total: DecimalText
    transfers: list[SuggestedTransfer]


class ShortfallQuery(Query):
    # In the order they were read: a wrong format is refused before a wrong date.
    format: ReportFormat = "json"
    unit: str | None = Field(default=None, description=SCOPE)
    category: str | None = None
    item: str | None = Field(default=None, description="An item's code")
    as_of: Day = None


def shortfall_answer(report) -> ShortfallAnswer:
    """The shortfall report in the API's shape (units and items by code)."""
    return ShortfallAnswer(
        as_of=report.as_of,
        standard_version=report.version.id if report.version else None,
        standard_versions=[v.id for v in report.versions],
        rows=report.rows,
        items=[
            ShortfallItem(
                item=t.item,
                gap=t.gap,
                uncovered=t.uncovered,
                unit_cost=t.item.unit_cost,
                cost=t.cost,
                transferable=t.transferable,
                to_buy=t.to_buy,
                to_buy_cost=t.to_buy_cost,
            )
            for t in report.items
        ],
        budget_total=report.budget_total,
        to_buy_total=report.to_buy_total,
        transfers=[
            SuggestedTransfer(from_=t.source, to=t.target, item=t.item, qty=t.qty)
            for t in report.transfers
        ],
    )


@bp.route("/reports/shortfall", methods=["GET"])
@permission("reports.view")
@operation(
    query=ShortfallQuery,
    answers={200: ShortfallAnswer},
    errors=(400, 401, 403, 404),
    files=REPORT_FILES,
)
def shortfall_report(query: ShortfallQuery):
    """The shortfall report as JSON (or ?format=csv|xlsx|pdf)"""
    report = shortfall(
        db.session,
        unit_ids=report_scope(query.unit),
        category=query.category or None,
        item_code=query.item or None,
        as_of=query.as_of,
    )
    if query.format != "json":
        return reports.shortfall_download(query.format, report)
    return Response(shortfall_json(report), mimetype="application/json")


def shortfall_json(report) -> bytes:
    """``shortfall_answer(report)`` as JSON, the same keys and values, written straight from
    the report (issue 21): tens of thousands of rows validated as models one by one cost the
    API more than computing the report. Tests compare the two."""
    return pydantic_core.to_json(
        {
            "as_of": report.as_of.isoformat(),
            "standard_version": report.version.id if report.version else None,
            "standard_versions": [v.id for v in report.versions],
            "rows": [
                {
                    "unit": r.unit.code,
                    "item": r.item.code,
                    "required": r.required,
                    "on_hand": r.on_hand,
                    "expired": r.expired,
                    "inbound": r.inbound,
                    "gap": r.gap,
                    "uncovered": r.uncovered,
                    "coverage": round(r.coverage, 4),
                    "on_order": r.on_order,
                }
                for r in report.rows
            ],
            "items": [
                {
                    "item": t.item.code,
                    "gap": t.gap,
                    "uncovered": t.uncovered,
                    "unit_cost": str(t.item.unit_cost),
                    "cost": str(t.cost),
                    "transferable": t.transferable,
                    "to_buy": t.to_buy,
                    "to_buy_cost": str(t.to_buy_cost),
                }
                for t in report.items
            ],
            "budget_total": str(report.budget_total),
            "to_buy_total": str(report.to_buy_total),
            "transfers": [
                {"from": t.source.code, "to": t.target.code, "item": t.item.code, "qty": t.qty}
                for t in report.transfers
            ],
        }
    )


class ExpiryRow(Answer):
    unit: Code
    item: Code
    lot: Code
    expires_on: IsoDate
    days_left: int = Field(description="Negative once expired")
    qty: int


class ExpiryList(PagedAnswer):
    rows: list[ExpiryRow]


class ExpiryQuery(Paged):
    format: ReportFormat = "json"
    days: Whole(1, 3650) = Field(default=None, description="Expiring within (default 90)")
    unit: str | None = Field(default=None, description=SCOPE)


@bp.route("/reports/expiry", methods=["GET"])
@permission("reports.view")
@operation(
    query=ExpiryQuery,
    answers={200: ExpiryList},
    errors=(400, 401, 403, 404),
    files=REPORT_FILES,
)
def expiry_report(query: ExpiryQuery):
    """Lots expiring within ?days= (default 90) and already expired

    Soonest first; the JSON answer a page at a time (?limit=, ?cursor=), a download
    (?format=csv|xlsx|pdf) whole.
    """
    days = 90 if query.days is None else query.days
    today = date.today()
    scope = report_scope(query.unit)
    if query.format != "json":
        rows = stock.expiring_lots(db.session, scope, today=today, within_days=days)
        return reports.expiry_download(query.format, rows, days, today)
    rows, next_cursor = stock.expiring_page(
        db.session, scope, today=today, within_days=days, limit=query.limit, cursor=query.cursor
    )
    return ExpiryList(
        next_cursor=next_cursor,
        rows=[
            ExpiryRow(
                unit=r.position.unit,
                item=r.position.item,
                lot=r.position.lot,
                expires_on=r.position.lot.expires_on,
                days_left=r.days_left,
                qty=r.position.qty,
            )
            for r in rows
        ],
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

"""JSON API for items, the standard, movements, stock, counts and the reports."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from inventory import catalog, checks, counts, ledger, reports, standard, stock
from inventory.models import MANUAL_KINDS, Count, Item
from inventory.shortfall import report_json, shortfall
from readiness import openapi
from readiness.api import (
    date_field,
    field,
    json_body,
    report_format,
    report_scope,
    unit_field,
)
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.params import int_arg
from readiness.permissions import in_scope

bp = Blueprint("inventory_api", __name__, url_prefix="/api/v1")


def item_field(code, name: str = "item") -> Item:
    if not isinstance(code, str) or not code:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    try:
        return catalog.get_item(db.session, code)
    except NotFound as err:
        raise DomainError(err.message, field=name) from None


def item_json(item: Item) -> dict:
    return {
        "code": item.code,
        "name": item.name,
        "category": item.category,
        "uom": item.uom,
        "unit_cost": str(item.unit_cost),
        "shelf_life_days": item.shelf_life_days,
        "tracking": item.tracking,
        "is_active": item.is_active,
    }


@bp.route("/items", methods=["GET"])
@permission("items.view")
def list_items():
    """The item catalog."""
    items = db.session.scalars(select(Item).order_by(Item.category, Item.code))
    return jsonify({"items": [item_json(i) for i in items]})


@bp.route("/items", methods=["POST"])
@permission("items.manage")
def create_item():
    """Add an item to the catalog (administrators)."""
    data = json_body()
    cost = field(data, "unit_cost", (int, float, str))
    item = catalog.create_item(
        db.session,
        code=field(data, "code", str),
        name=field(data, "name", str),
        category=field(data, "category", str),
        uom=field(data, "uom", str),
        unit_cost=cost,
        shelf_life_days=field(data, "shelf_life_days", int, required=False),
        tracking=field(data, "tracking", str, required=False, default="bulk"),
        actor=current_actor(),
    )
    db.session.commit()
    return jsonify(item_json(item)), 201


def standard_json(version) -> dict:
    if version is None:
        return {"id": None, "effective_from": None, "lines": []}
    return {
        "id": version.id,
        "effective_from": version.effective_from.isoformat(),
        "note": version.note,
        "lines": [
            {
                "unit_kind": ln.unit_kind,
                "item": ln.item.code,
                "base_qty": float(ln.base_qty),
                "per_officer": float(ln.per_officer),
            }
            for ln in version.lines
        ],
    }


@bp.route("/standard", methods=["GET"])
@permission("standard.view")
def get_standard():
    """The standard in force today, or on ?as_of=YYYY-MM-DD."""
    on = date_field(request.args.get("as_of"), "as_of") or date.today()
    return jsonify(standard_json(standard.standard_as_of(db.session, on)))


@bp.route("/standard", methods=["PUT"])
@permission("standard.manage")
def put_standard():
    """Publish a new edition of the standard (command staff)."""
    data = json_body()
    effective_from = date_field(field(data, "effective_from", str), "effective_from")
    raw_lines = field(data, "lines", list)
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        if not isinstance(raw, dict):
            raise DomainError(_("第 {n} 行格式不正确。").format(n=n), field="lines")
        try:
            lines.append(
                standard.StandardLineInput(
                    field(raw, "unit_kind", str),
                    field(raw, "item", str),
                    field(raw, "base_qty", (int, float, str)),
                    field(raw, "per_officer", (int, float, str)),
                )
            )
        except DomainError as err:
            raise DomainError(
                _("第 {n} 行：{message}").format(n=n, message=err.message), field="lines"
            ) from None
    version = standard.publish_standard(
        db.session,
        effective_from=effective_from,
        lines=lines,
        note=field(data, "note", str, required=False, default=""),
        actor=current_actor(),
    )
    db.session.commit()
    return jsonify(standard_json(version)), 201


@bp.route("/movements", methods=["POST"])
@permission("stock.write")
def create_movement():
    """Record a receipt, issue or write-off; 409 if the balance would go below zero."""
    data = json_body()
    unit = unit_field(data.get("unit"))
    item = item_field(data.get("item"))
    kind = field(data, "kind", str)
    if kind not in MANUAL_KINDS:
        raise DomainError(_("kind 只能是 receipt、issue 或 write_off。"), field="kind")
    result = ledger.record_movement(
        db.session,
        unit=unit,
        item=item,
        kind=kind,
        qty=field(data, "qty", int),
        lot_code=field(data, "lot", str, required=False),
        expires_on=date_field(data.get("expires_on"), "expires_on"),
        note=field(data, "note", str, required=False, default=""),
        reason=field(data, "reason", str, required=False, default=""),
        serials=field(data, "serials", list, required=False),
        request_key=field(data, "request_key", str, required=False),
        actor=current_actor(),
    )
    db.session.commit()
    body = {"id": result.movement.id, "balance": result.balance, "warnings": result.warnings}
    return jsonify(body), 200 if result.replayed else 201


@bp.route("/stock", methods=["GET"])
@permission("stock.view")
def get_stock():
    """Balances by unit, item and lot (?unit=CODE for one unit and the units below it)."""
    return jsonify(
        {"rows": stock.stock_rows_for_api(db.session, report_scope(request.args.get("unit")))}
    )


def count_json(count: Count) -> dict:
    return {
        "id": count.id,
        "unit": count.unit.code,
        "status": count.status,
        "lines": [
            {
                "item": ln.item.code,
                "lot": ln.lot.code if ln.lot else None,
                "book": ln.book,
                "counted": ln.counted,
                "variance": ln.variance,
            }
            for ln in count.lines
        ],
    }


@bp.route("/counts", methods=["POST"])
@permission("counts.write")
def create_count():
    """Record a whole stocktake at once: snapshot, counted lines, submitted for approval."""
    data = json_body()
    unit = unit_field(data.get("unit"))
    raw_lines = field(data, "lines", list)
    if len(raw_lines) > 10_000:
        raise DomainError(_("一次最多 10000 行。"), field="lines")
    actor = current_actor()
    count = counts.start_count(
        db.session, unit, actor=actor, note=field(data, "note", str, required=False, default="")
    )
    for n, raw in enumerate(raw_lines, start=1):
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
        if isinstance(counted, bool) or not isinstance(counted, int):
            raise DomainError(_("第 {n} 行：清点数量必须是整数。").format(n=n), field="lines")
        counts.enter_count(db.session, count, item, lot, counted, actor=actor)
    counts.submit_count(db.session, count, actor=actor)
    db.session.commit()
    return jsonify(count_json(count)), 201


@bp.route("/counts/<int:count_id>", methods=["GET"])
@permission("stock.view")
def get_count(count_id: int):
    """One stocktake with book, counted and variance per line."""
    count = db.session.get(Count, count_id)
    if count is None or not in_scope(db.session, current_actor(), count.unit_id):
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    return jsonify(count_json(count))


@bp.route("/counts/<int:count_id>/approve", methods=["POST"])
@permission("counts.approve")
def approve_count(count_id: int):
    """Approve a submitted count (not by its counter): variances become adjustments."""
    count = db.session.get(Count, count_id)
    if count is None:
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    moves = counts.approve_count(db.session, count, actor=current_actor())
    db.session.commit()
    return jsonify({**count_json(count), "adjustments": len(moves)})


@bp.route("/reports/shortfall", methods=["GET"])
@permission("reports.view")
def shortfall_report():
    """The shortfall report as JSON (or ?format=csv|xlsx|pdf)."""
    fmt = report_format()
    report = shortfall(
        db.session,
        unit_ids=report_scope(request.args.get("unit")),
        category=request.args.get("category") or None,
        item_code=request.args.get("item") or None,
        as_of=date_field(request.args.get("as_of"), "as_of"),
    )
    if fmt != "json":
        return reports.shortfall_download(fmt, report)
    return jsonify(report_json(report))


@bp.route("/reports/expiry", methods=["GET"])
@permission("reports.view")
def expiry_report():
    """Lots expiring within ?days= (default 90) and already expired."""
    fmt = report_format()
    days = int_arg("days", 90, low=1, high=3650)
    today = date.today()
    rows = stock.expiring_lots(
        db.session, report_scope(request.args.get("unit")), today=today, within_days=days
    )
    if fmt != "json":
        return reports.expiry_download(fmt, rows, days, today)
    return jsonify(
        {
            "rows": [
                {
                    "unit": r.position.unit.code,
                    "item": r.position.item.code,
                    "lot": r.position.lot.code,
                    "expires_on": r.position.lot.expires_on.isoformat(),
                    "days_left": r.days_left,
                    "qty": r.position.qty,
                }
                for r in rows
            ]
        }
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    openapi.add_paths(*_openapi())


def _openapi():
    from readiness.openapi import error_responses, json_content

    obj = {"type": "object"}
    ok = {"description": "OK", "content": json_content(obj)}
    created = {"description": "Created", "content": json_content(obj)}
    files = {
        "description": "JSON, or CSV/XLSX/PDF with ?format=",
        "content": {
            "application/json": {"schema": obj},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }

    def q(name, schema=None, required=False):
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema or {"type": "string"},
        }

    fmt = q("format", {"type": "string", "enum": ["json", "csv", "xlsx", "pdf"]})
    day = {"type": "string", "format": "date"}
    qty = {"type": "integer", "minimum": 1, "maximum": checks.MAX_QTY}
    count_id = {"name": "count_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths = {
        "/items": {
            "get": {"summary": "Item catalog", "responses": {"200": ok, **error_responses(401)}},
            "post": {
                "summary": "Create an item (admin)",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["code", "name", "category", "uom", "unit_cost"],
                            "properties": {
                                "code": {"type": "string"},
                                "name": {"type": "string"},
                                "category": {"type": "string"},
                                "uom": {"type": "string"},
                                "unit_cost": {"type": ["number", "string"]},
                                "shelf_life_days": {"type": ["integer", "null"]},
                                "tracking": {"type": "string", "enum": ["bulk", "serial"]},
                            },
                        }
                    ),
                },
                "responses": {"201": created, **error_responses(400, 401, 403, 409, 422)},
            },
        },
        "/standard": {
            "get": {
                "summary": "Standard in force",
                "parameters": [q("as_of", day)],
                "responses": {"200": ok, **error_responses(401, 403, 422)},
            },
            "put": {
                "summary": "Publish a new edition (command)",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["effective_from", "lines"],
                            "properties": {
                                "effective_from": day,
                                "note": {"type": "string"},
                                "lines": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": [
                                            "unit_kind",
                                            "item",
                                            "base_qty",
                                            "per_officer",
                                        ],
                                        "properties": {
                                            "unit_kind": {"type": "string"},
                                            "item": {"type": "string"},
                                            "base_qty": {"type": "number", "minimum": 0},
                                            "per_officer": {"type": "number", "minimum": 0},
                                        },
                                    },
                                },
                            },
                        }
                    ),
                },
                "responses": {"201": created, **error_responses(400, 401, 403, 422)},
            },
        },
        "/movements": {
            "post": {
                "summary": "Record a receipt, issue or write-off",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["unit", "item", "kind", "qty"],
                            "properties": {
                                "unit": {"type": "string"},
                                "item": {"type": "string"},
                                "kind": {"type": "string", "enum": list(MANUAL_KINDS)},
                                "qty": qty,
                                "lot": {"type": ["string", "null"]},
                                "expires_on": {"type": ["string", "null"], "format": "date"},
                                "note": {"type": "string"},
                                "reason": {"type": "string"},
                                "serials": {"type": "array", "items": {"type": "string"}},
                                "request_key": {"type": "string"},
                            },
                        }
                    ),
                },
                "responses": {
                    "201": created,
                    "200": {
                        "description": "Already recorded (same request_key)",
                        "content": json_content(obj),
                    },
                    **error_responses(400, 401, 403, 409, 422),
                },
            }
        },
        "/stock": {
            "get": {
                "summary": "Balances",
                "parameters": [q("unit")],
                "responses": {"200": ok, **error_responses(401, 403, 404)},
            }
        },
        "/counts": {
            "post": {
                "summary": "Record and submit a stocktake",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["unit", "lines"],
                            "properties": {
                                "unit": {"type": "string"},
                                "lines": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["item", "counted"],
                                        "properties": {
                                            "item": {"type": "string"},
                                            "lot": {"type": ["string", "null"]},
                                            "counted": {"type": "integer", "minimum": 0},
                                        },
                                    },
                                },
                            },
                        }
                    ),
                },
                "responses": {"201": created, **error_responses(400, 401, 403, 409, 422)},
            }
        },
        "/counts/{count_id}": {
            "get": {
                "summary": "One stocktake",
                "parameters": [count_id],
                "responses": {"200": ok, **error_responses(401, 404)},
            }
        },
        "/counts/{count_id}/approve": {
            "post": {
                "summary": "Approve a stocktake (not by its counter)",
                "parameters": [count_id],
                "responses": {"200": ok, **error_responses(401, 403, 404, 409)},
            }
        },
        "/reports/shortfall": {
            "get": {
                "summary": "Shortfall report",
                "parameters": [q("unit"), q("category"), q("item"), q("as_of", day), fmt],
                "responses": {"200": files, **error_responses(400, 401, 403, 404, 422)},
            }
        },
        "/reports/expiry": {
            "get": {
                "summary": "Lots expiring or expired",
                "parameters": [q("unit"), q("days", {"type": "integer"}), fmt],
                "responses": {"200": files, **error_responses(400, 401, 403, 404, 422)},
            }
        },
    }
    return paths, None

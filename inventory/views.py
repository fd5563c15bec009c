"""Pages for items, the standard, stock, the ledger, stocktakes and reports."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from inventory import reports, stock
from inventory.catalog import create_item, get_item, update_item
from inventory.counts import (
    approve_count,
    cancel_count,
    clear_count_line,
    count_policy,
    count_with_lines,
    counts_due,
    enter_count,
    mark_not_counted,
    missing_positions,
    open_count_for,
    position_name,
    return_count,
    set_count_policy,
    set_variance_threshold,
    shows_book,
    start_count,
    submit_count,
    variance_threshold,
)
from inventory.forms import (
    WRITE_OFF_REASON_LABELS,
    CountEntryForm,
    IntervalForm,
    ItemForm,
    LedgerFilterForm,
    MovementForm,
    OverrideForm,
    ReturnCountForm,
    ShortfallFilterForm,
    StandardForm,
    StartCountAtForm,
    StartCountForm,
)
from inventory.ledger import RepeatedMovement, find_lot, record_movement, set_asset_status
from inventory.models import (
    ASSET_STATUSES,
    COUNT_STATUSES,
    EDITABLE_COUNT_STATUSES,
    MOVEMENT_KINDS,
    TRACKING,
    Asset,
    Count,
    Item,
    Lot,
    Movement,
    Position,
    StandardLine,
    StandardVersion,
)
from inventory.notes import line_notes
from inventory.shortfall import shortfall
from inventory.standard import (
    StandardLineInput,
    editions_for,
    in_reach,
    may_see_edition,
    publish_standard,
    requirements_for_unit,
    set_override,
    standard_as_of,
)
from readiness import exports, lists, paging
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.exports import table_response
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.i18n import in_language, in_language_sql, is_english
from readiness.models import UNIT_KINDS, Unit
from readiness.pages import (
    active_units_in_reach,
    confirmed_action,
    form_error,
    paginate,
    paginate_rows,
    submit,
)
from readiness.params import int_arg
from readiness.pdf import pdf_table
from readiness.permissions import can, in_scope, unit_ids_below

bp = Blueprint("inventory", __name__)


# ---------------------------------------------------------------- helpers


def _unit_in_scope(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        abort(404)
    if not in_scope(db.session, current_actor(), unit):
        abort(403)
    return unit


def _item(code: str) -> Item:
    item = db.session.scalar(select(Item).where(Item.code == code))
    if item is None:
        abort(404)
    return item


def _scope_ids() -> set[int] | None:
    return core.visible_unit_ids(db.session, current_actor())


def _unit_filter_choices(blank: str) -> list[tuple[str, str]]:
    actor = current_actor()
    visible = _scope_ids()
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    return [("", blank)] + [
        (u.code, "\u00a0\u00a0" * depth + u.name)
        for u, depth in core.unit_tree(db.session, roots)
        if u.is_active
    ]


def _picked_scope(code: str | None) -> set[int] | None:
    """Unit ids under the chosen unit, limited to what the user may see."""
    visible = _scope_ids()
    if code:
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            abort(404)
        if not in_scope(db.session, current_actor(), unit):
            abort(403)
        return unit_ids_below(db.session, unit.id)
    return visible


def _fmt() -> str:
    return request.args.get("format", "html")


def _active_items() -> list[Item]:
    return list(
        db.session.scalars(select(Item).where(Item.is_active).order_by(Item.category, Item.code))
    )


# ---------------------------------------------------------------- items


# rows of a computed report shown a page at a time (downloads hold them all)
REPORT_PAGE_ROWS = 100


def _item_list() -> lists.ListSpec:
    """The catalog list: searched in both languages, names sorted as the reader reads them."""
    english = is_english()
    name = in_language_sql(Item.name, Item.name_en, english)
    category = in_language_sql(Item.category, Item.category_en, english)
    uom = in_language_sql(Item.uom, Item.uom_en, english)
    return lists.ListSpec(
        search=(Item.code, Item.name, Item.name_en, Item.category, Item.category_en),
        columns=(
            # by category, then code, as the catalog always read
            lists.Column("category", (category, Item.code)),
            lists.Column("code", (Item.code,)),
            lists.Column("name", (name,)),
            lists.Column("uom", (uom,)),
            lists.Column("unit_cost", (Item.unit_cost,)),
            lists.Column("shelf_life", (Item.shelf_life_days,)),
            lists.Column("tracking", (Item.tracking,)),
            lists.Column("status", (Item.is_active,)),
        ),
        tiebreak=Item.id,
    )


ITEM_STATUSES = {"active": _l("在用"), "inactive": _l("已停用")}


def _categories(stmt=None) -> list[tuple[str, str]]:
    """The categories in use (of the catalog, or those ``stmt`` selects with their English),
    each as kept (the filter's value) and as the reader reads it."""
    if stmt is None:
        stmt = select(Item.category, func.max(Item.category_en)).group_by(Item.category)
    pairs = db.session.execute(stmt).all()
    return sorted(((zh, in_language(zh, en)) for zh, en in pairs), key=lambda p: p[1])


@bp.route("/items")
@permission("items.view")
def items():
    """The item catalog: searched (code, name in either language, category), filtered by
    category, tracking and state, sorted by any column, as the URL says; a page at a time,
    or every matching item as CSV or XLSX."""
    spec = _item_list()
    shown = lists.shown(spec)
    categories = _categories()
    stmt = select(Item)
    category = lists.choice_filter("category", {zh for zh, _shown in categories}, _("类别"))
    if category is not None:
        stmt = stmt.where(Item.category == category)
    tracking = lists.choice_filter("tracking", TRACKING, _("管理方式"))
    if tracking is not None:
        stmt = stmt.where(Item.tracking == tracking)
    status = lists.choice_filter("status", ITEM_STATUSES, _("状态"))
    if status is not None:
        stmt = stmt.where(Item.is_active.is_(status == "active"))
    stmt = lists.apply(stmt, spec, shown)
    if _fmt() in ("csv", "xlsx"):
        header = [
            _("代码"),
            _("名称"),
            _("类别"),
            _("计量单位"),
            _("单价（元）"),
            _("保质期（天）"),
            _("管理方式"),
            _("状态"),
        ]
        rows = (
            [
                i.code,
                i.shown_name,
                i.shown_category,
                i.shown_uom,
                i.unit_cost,
                i.shelf_life_days or "",
                str(TRACKING[i.tracking]),
                str(ITEM_STATUSES["active" if i.is_active else "inactive"]),
            ]
            for i in db.session.scalars(stmt)
        )
        return table_response(_fmt(), "items", header, rows)
    listing = paginate(stmt)
    return render_template(
        "inventory/items.html",
        items=listing.rows,
        listing=listing,
        shown=shown,
        categories=categories,
        statuses=ITEM_STATUSES,
        tracking=TRACKING,
        english=is_english(),
        may_manage=can(db.session, current_actor(), "items.manage"),
    )


@bp.route("/items/new", methods=["GET", "POST"])
@permission("items.manage")
def item_new():
    """Add an item to the catalog."""
    form = ItemForm()
    if form.validate_on_submit():
        item = submit(
            form,
            lambda: create_item(
                db.session,
                code=form.code.data,
                name=form.name.data,
                category=form.category.data,
                uom=form.uom.data,
                unit_cost=form.unit_cost.data,
                shelf_life_days=form.shelf_life_days.data,
                tracking=form.tracking.data,
                name_en=form.name_en.data or "",
                category_en=form.category_en.data or "",
                uom_en=form.uom_en.data or "",
                actor=current_actor(),
            ),
        )
        if item is not None:
            flash(_("已添加物资 {name}。").format(name=item.shown_name), "success")
            return redirect(url_for("inventory.items"))
    return render_template("inventory/item_form.html", form=form, item=None)


@bp.route("/items/<code>/edit", methods=["GET", "POST"])
@permission("items.manage")
def item_edit(code: str):
    """Change an item's name, category, unit, price or shelf life."""
    item = _item(code)
    form = ItemForm(obj=None if request.method == "POST" else item)
    form.code.data = item.code
    form.tracking.data = item.tracking
    if form.validate_on_submit():
        done = submit(
            form,
            lambda: update_item(
                db.session,
                item,
                name=form.name.data,
                category=form.category.data,
                uom=form.uom.data,
                unit_cost=form.unit_cost.data,
                shelf_life_days=form.shelf_life_days.data,
                is_active=form.is_active.data,
                name_en=form.name_en.data or "",
                category_en=form.category_en.data or "",
                uom_en=form.uom_en.data or "",
                actor=current_actor(),
            ),
        )
        if done is not None:
            flash(_("已保存物资 {name}。").format(name=item.shown_name), "success")
            return redirect(url_for("inventory.items"))
    return render_template("inventory/item_form.html", form=form, item=item)


# ---------------------------------------------------------------- standard


@bp.route("/standard")
@permission("standard.view")
def standard():
    """The standard in force on a date (today by default), and every published edition."""
    try:
        on = (
            date.fromisoformat(request.args.get("as_of", ""))
            if request.args.get("as_of")
            else date.today()
        )
    except ValueError:
        on = date.today()
    actor = current_actor()
    # The edition in force for a unit (?unit=CODE, by default the user's own).
    unit = actor.unit
    if request.args.get("unit"):
        unit = db.session.scalar(select(Unit).where(Unit.code == request.args["unit"]))
        if unit is None:
            abort(404)
        if not in_reach(db.session, actor, unit.id):
            abort(403)
    version_id = int_arg("version")
    version = (
        db.session.get(StandardVersion, version_id)
        if version_id
        else standard_as_of(db.session, on, unit)
    )
    if version_id and (version is None or not may_see_edition(db.session, actor, version)):
        abort(404)
    by_kind: dict[str, list] = {}
    if version is not None:
        # the lines with their items in one query (one query per line before: issue 21)
        lines = db.session.scalars(
            select(StandardLine)
            .where(StandardLine.version_id == version.id)
            .options(joinedload(StandardLine.item))
            .order_by(StandardLine.id)
        )
        for line in lines:
            by_kind.setdefault(line.unit_kind, []).append(line)
    versions = editions_for(db.session, actor)
    line_counts = dict(
        db.session.execute(
            select(StandardLine.version_id, func.count())
            .where(StandardLine.version_id.in_([v.id for v in versions]))
            .group_by(StandardLine.version_id)
        ).all()
    )
    return render_template(
        "inventory/standard.html",
        version=version,
        versions=versions,
        line_counts=line_counts,
        by_kind=by_kind,
        kinds=UNIT_KINDS,
        as_of=on,
        unit=unit,
        may_manage=can(db.session, actor, "standard.manage", actor.unit),
    )


@bp.route("/standard/new", methods=["GET", "POST"])
@permission("standard.manage")
def standard_new():
    """Publish a new edition, starting from the one in force."""
    items = _active_items()
    form = StandardForm()
    actor = current_actor()
    if request.method == "GET":
        current = standard_as_of(db.session, date.today(), actor.unit)
        existing = [
            {
                "unit_kind": ln.unit_kind,
                "item": ln.item.code,
                "base_qty": f"{ln.base_qty.normalize():f}",
                "per_officer": f"{ln.per_officer.normalize():f}",
            }
            for ln in (current.lines if current else [])
        ]
        form = StandardForm(data={"effective_from": date.today(), "lines": existing + [{}] * 8})
    form.set_choices(items)
    if form.validate_on_submit():
        lines = [
            StandardLineInput(
                e.form.unit_kind.data,
                e.form.item.data,
                (e.form.base_qty.data or "0").strip(),
                (e.form.per_officer.data or "0").strip(),
            )
            for e in form.lines
            if e.form.unit_kind.data and e.form.item.data
        ]
        try:
            version = publish_standard(
                db.session,
                effective_from=form.effective_from.data,
                lines=lines,
                note=form.note.data or "",
                actor=actor,
            )
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            flash(
                _("已发布标准第 {id} 版，{date} 起生效。").format(
                    id=version.id, date=version.effective_from.isoformat()
                ),
                "success",
            )
            return redirect(url_for("inventory.standard", version=version.id))
    return render_template("inventory/standard_form.html", form=form, unit=actor.unit)


@bp.route("/units/<code>/requirements", methods=["GET", "POST"])
@permission("standard.view")
def requirements(code: str):
    """How each required quantity of a unit is derived; command staff may override one."""
    unit = _unit_in_scope(code)
    actor = current_actor()
    may_manage = can(db.session, actor, "standard.manage", unit)
    form = OverrideForm()
    form.item.choices = [(i.code, f"{i.shown_name} ({i.code})") for i in _active_items()]
    if request.method == "POST":
        if not may_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                set_override(
                    db.session,
                    unit,
                    get_item(db.session, form.item.data or ""),
                    form.qty.data,
                    reason=form.reason.data or "",
                    actor=actor,
                )
            except DomainError as err:
                db.session.rollback()
                form_error(form, err, "qty")
            else:
                db.session.commit()
                flash(_("已保存 {unit} 的应配数量调整。").format(unit=unit.name), "success")
                return redirect(url_for("inventory.requirements", code=unit.code))
    on = date.today()
    return render_template(
        "inventory/requirements.html",
        unit=unit,
        reqs=requirements_for_unit(db.session, unit, on),
        version=standard_as_of(db.session, on, unit),
        form=form,
        may_manage=may_manage,
    )


# ---------------------------------------------------------------- stock


def _unit_totals():
    """Each unit's stock on the books (pieces of every item together)."""
    return (
        select(Position.unit_id, func.sum(Position.qty).label("total"))
        .group_by(Position.unit_id)
        .subquery()
    )


_TOTALS = _unit_totals()
# The stock index when searched or sorted (else the tree): issue 22.
STOCK_UNIT_LIST = lists.ListSpec(
    search=(Unit.name, Unit.code),
    columns=(
        lists.Column("name", (Unit.name,)),
        lists.Column("code", (Unit.code,)),
        lists.Column("total", (func.coalesce(_TOTALS.c.total, 0),)),
    ),
    tiebreak=Unit.id,
)


@bp.route("/stock")
@permission("stock.view")
def stock_index():
    """Units whose stock the user may see, as a tree; searched (name or code) or sorted (name,
    code, stock on the books), a flat list of the matching units. A user who sees only their
    own unit goes straight to it."""
    actor = current_actor()
    visible = _scope_ids()
    if visible is not None and actor.unit is not None and len(visible) <= 1:
        return redirect(url_for("inventory.unit_stock", code=actor.unit.code))
    shown = lists.shown(STOCK_UNIT_LIST)
    as_tree = not (shown.q or "sort" in shown.args)
    listing = None
    if as_tree:
        roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
        tree = [(u, d) for u, d in core.unit_tree(db.session, roots) if u.is_active]
    else:
        stmt = (
            select(Unit)
            .outerjoin(_TOTALS, _TOTALS.c.unit_id == Unit.id)
            .where(Unit.is_active.is_(True))
        )
        if visible is not None:
            stmt = stmt.where(Unit.id.in_(visible))
        listing = paginate(lists.apply(stmt, STOCK_UNIT_LIST, shown))
        tree = [(u, 0) for u in listing.rows]
    totals_stmt = select(_TOTALS.c.unit_id, _TOTALS.c.total)
    if visible is not None:
        totals_stmt = totals_stmt.where(_TOTALS.c.unit_id.in_(visible))
    totals = dict(db.session.execute(totals_stmt).all())
    return render_template(
        "inventory/stock_index.html",
        tree=tree,
        totals=totals,
        as_tree=as_tree,
        listing=listing,
        shown=shown,
    )


def _unit_stock_list() -> lists.ListSpec:
    """A unit's stock: searched by item (code, name in either language) or lot; sorted by a
    column, names as the reader reads them."""
    english = is_english()
    name = in_language_sql(Item.name, Item.name_en, english)
    category = in_language_sql(Item.category, Item.category_en, english)
    return lists.ListSpec(
        search=(Item.code, Item.name, Item.name_en, Lot.code),
        columns=(
            # by category, item and expiry, as the page always read
            lists.Column("category", (category, Item.code, Lot.expires_on, Lot.code)),
            lists.Column("item", (name, Item.code, Lot.expires_on, Lot.code)),
            lists.Column("lot", (Lot.code,)),
            lists.Column("expires", (Lot.expires_on,)),
            lists.Column("qty", (Position.qty,)),
            lists.Column("reserved", (Position.reserved,)),
        ),
        tiebreak=Position.id,
    )


EXPIRY_LABELS = {"expired": _l("已过期"), "soon": _l("临期"), "ok": _l("未临期")}


@bp.route("/stock/<code>")
@permission("stock.view")
def unit_stock(code: str):
    """What a unit holds: by item and lot, expiry flags, serial pieces; searched, filtered
    (category, expiry) and sorted as the URL says. Those who print labels tick lots and
    pieces and print their labels."""
    unit = _unit_in_scope(code)
    actor = current_actor()
    today = date.today()
    spec = _unit_stock_list()
    shown = lists.shown(spec)
    held = (
        select(Item.category, func.max(Item.category_en))
        .join(Position, Position.item_id == Item.id)
        .where(Position.unit_id == unit.id)
        .group_by(Item.category)
    )
    categories = _categories(held)
    category = lists.choice_filter("category", {zh for zh, _shown in categories}, _("类别"))
    expiry = lists.choice_filter("expiry", EXPIRY_LABELS, _("有效期"))
    stmt = stock.unit_stock_query(unit)
    if category is not None:
        stmt = stmt.where(Item.category == category)
    if expiry is not None:
        stmt = stock.where_expiry(stmt, expiry, today=today)
    rows = stock.stock_rows(db.session, lists.apply(stmt, spec, shown), today=today)
    assets_stmt = (
        select(Asset)
        .join(Item, Item.id == Asset.item_id)
        .where(Asset.unit_id == unit.id)
        .options(joinedload(Asset.item))
        .order_by(Asset.item_id, Asset.serial)
    )
    if shown.q:
        assets_stmt = assets_stmt.where(
            or_(
                *(
                    col.icontains(shown.q, autoescape=True)
                    for col in (Item.code, Item.name, Item.name_en, Asset.serial)
                )
            )
        )
    if category is not None:
        assets_stmt = assets_stmt.where(Item.category == category)
    # a serial piece has no expiry: a list filtered by expiry shows none
    assets = [] if expiry is not None else db.session.scalars(assets_stmt).all()
    return render_template(
        "inventory/unit_stock.html",
        unit=unit,
        rows=rows,
        assets=assets,
        asset_statuses=ASSET_STATUSES,
        shown=shown,
        categories=categories,
        expiry_states=EXPIRY_LABELS,
        open_count=open_count_for(db.session, unit),
        may_write=can(db.session, actor, "stock.write", unit),
        may_count=can(db.session, actor, "counts.write", unit),
        may_print=can(db.session, actor, "labels.print", unit),
        start_form=StartCountForm(),
        confirm=ConfirmForm(),
    )


def _lot_choices(unit: Unit, item_code: str | None) -> list[tuple]:
    """The lots a unit holds (of one item, when chosen), earliest expiry first, for an issue
    or write-off to pick from; the first choice leaves the pick to earliest expiry first.
    Each lot says its item (data-item): the page offers only the chosen item's lots."""
    stmt = (
        select(Position)
        .join(Lot, Lot.id == Position.lot_id)
        .join(Item, Item.id == Position.item_id)
        .where(Position.unit_id == unit.id, Position.qty > 0)
        .options(joinedload(Position.item), joinedload(Position.lot))
        .order_by(Item.code, Lot.expires_on.is_(None), Lot.expires_on, Lot.code)
    )
    if item_code:
        stmt = stmt.where(Item.code == item_code)
    choices = [("", _("不指定批次（先到期先出）"))]
    for p in db.session.scalars(stmt):
        text = _("{item} · 批次 {lot} · 余 {qty} {uom}").format(
            item=p.item.shown_name, lot=p.lot.code, qty=p.qty, uom=p.item.shown_uom
        )
        if p.lot.expires_on:
            text += " · " + _("{date} 到期").format(date=p.lot.expires_on.isoformat())
        choices.append((p.lot.code, text, {"data-item": p.item.code}))
    return choices


def _item_choices(items: list[Item]) -> list[tuple]:
    """The item picker's choices: none chosen at first; each option says how the item is
    tracked (data-tracking), so the page shows 序列号 only for items tracked by piece."""
    return [("", _("请选择物资"))] + [
        (i.code, f"{i.shown_name} ({i.code}) · {i.shown_uom}", {"data-tracking": i.tracking})
        for i in items
    ]


def _movement_input(form: MovementForm) -> dict:
    """What the chosen kind and item use from the form. Without JavaScript every field is
    on the page: a lot typed on an issue, a reason on a receipt or serial numbers for an
    item counted by quantity are ignored, not refused."""
    item = get_item(db.session, form.item.data or "")
    kind = form.kind.data
    by_lot = not item.is_serial
    if kind == "receipt":
        lot_code = form.lot.data if by_lot else None
    else:
        lot_code = form.lot_pick.data if by_lot else None
    return {
        "item": item,
        "kind": kind,
        "qty": form.qty.data,
        "lot_code": lot_code,
        "expires_on": form.expires_on.data if kind == "receipt" and by_lot else None,
        "reason": (form.reason.data or "") if kind == "write_off" else "",
        "serials": form.serials.data if item.is_serial else None,
        "note": form.note.data or "",
    }


@bp.route("/stock/<code>/record", methods=["GET", "POST"])
@permission("stock.write")
def record(code: str):
    """Record a receipt, issue or write-off for a unit. The same movement again within two
    minutes (Back, then submit) is asked about before it is recorded."""
    unit = _unit_in_scope(code)
    if not can(db.session, current_actor(), "stock.write", unit):
        abort(403)
    form = MovementForm()
    items = (
        _active_items()
        if request.method == "GET"
        else list(db.session.scalars(select(Item).order_by(Item.category, Item.code)))
    )
    form.item.choices = _item_choices(items)
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "receipt")
        form.item.data = request.args.get("item") or ""
        form.lot.data = request.args.get("lot")
        form.lot_pick.data = request.args.get("lot") or ""
        form.request_key.data = secrets.token_urlsafe(16)
    form.lot_pick.choices = _lot_choices(unit, form.item.data)
    repeat_question = None
    if form.validate_on_submit():
        try:
            result = record_movement(
                db.session,
                unit=unit,
                **_movement_input(form),
                request_key=form.request_key.data or None,
                allow_repeat=request.form.get("confirm_repeat") == "1",
                actor=current_actor(),
            )
        except RepeatedMovement as err:
            db.session.rollback()
            repeat_question = err.message
        except DomainError as err:
            db.session.rollback()
            form_error(form, err)
        else:
            db.session.commit()
            if result.replayed:
                flash(_("这张表单已经登记过，未重复记账。"), "warning")
            else:
                flash(result.summary(), "success")
            for warning in result.warnings:
                flash(warning, "warning")
            return redirect(url_for("inventory.unit_stock", code=unit.code))
    return render_template(
        "inventory/record.html", form=form, unit=unit, repeat_question=repeat_question
    )


@bp.route("/assets/<int:asset_id>/status", methods=["POST"])
@permission("stock.write")
def asset_status(asset_id: int):
    """Mark a serial piece in service or under repair."""
    asset = db.session.get(Asset, asset_id)
    if asset is None:
        abort(404)
    if asset.unit_id is None or not in_scope(db.session, current_actor(), asset.unit_id):
        abort(403)
    code = asset.unit.code
    confirmed_action(
        lambda _version: set_asset_status(
            db.session, asset, request.form.get("status", ""), actor=current_actor()
        ),
        lambda _result: _("{item} {serial} 已设为{status}。").format(
            item=asset.item.shown_name, serial=asset.serial, status=ASSET_STATUSES[asset.status]
        ),
    )
    return redirect(url_for("inventory.unit_stock", code=code))


@bp.route("/stock/<code>/items/<item_code>")
@permission("stock.view")
def item_history(code: str, item_code: str):
    """The ledger of one item at one unit with its running balance."""
    unit = _unit_in_scope(code)
    item = _item(item_code)
    movements = stock.item_history(db.session, unit, item)
    return render_template(
        "inventory/item_history.html",
        unit=unit,
        item=item,
        movements=movements,
        totals=stock.unit_totals_after(db.session, movements),
        notes=line_notes(db.session, movements),
        kinds=MOVEMENT_KINDS,
        reasons=WRITE_OFF_REASON_LABELS,
    )


# Rows on one page of the ledger and of the expiry report.
PAGE_ROWS = 100

# A PDF is for printing and signing: longer ledgers are downloaded as CSV or XLSX.
LEDGER_PDF_MAX_ROWS = 2000


# The ledger's search and sort arguments (issue 22). The page is paged by keyset, so its
# orders are readiness.paging orders (stock.ledger_order); this spec only reads the URL.
LEDGER_LIST = lists.ListSpec(
    search=(Movement.note,),
    columns=(
        lists.Column("time", (Movement.id,)),
        lists.Column("item", (Item.name,)),
        lists.Column("unit", (Unit.name,)),
        lists.Column("kind", (Movement.kind,)),
        lists.Column("qty", (Movement.qty,)),
    ),
    tiebreak=Movement.id,
    default_desc=True,
)


@bp.route("/ledger")
@permission("stock.view")
def ledger():
    """The in/out ledger (出入库台账) for a unit and the units below it: searched (item, lot,
    note, document), filtered (days, kind, item) and sorted as the URL says, newest first by
    default; CSV/XLSX/PDF hold the same lines in the same order."""
    form = LedgerFilterForm(request.args)
    form.unit.choices = _unit_filter_choices(_("全部单位"))
    form.kind.choices = [("", _("全部类型"))] + [(k, str(v)) for k, v in MOVEMENT_KINDS.items()]
    all_items = db.session.scalars(select(Item).order_by(Item.code)).all()
    form.item.choices = [("", _("全部物资"))] + [
        (i.code, f"{i.shown_name} ({i.code})") for i in all_items
    ]
    form.validate()
    shown = lists.shown(LEDGER_LIST)
    # a cursor marks a line in one order: a new sort or a download starts from the top
    shown.args.pop("after", None)
    kind = lists.choice_filter("kind", MOVEMENT_KINDS, _("类型"))
    item = None
    if form.item.data:
        item = next((i for i in all_items if i.code == form.item.data), None)
        if item is None:
            lists.unknown_filter(_("物资"), form.item.data)
    narrowing = stock.LedgerNarrowing(kind=kind, item_id=item.id if item else None, q=shown.q)
    order = stock.ledger_order(shown.sort, shown.desc, english=is_english())
    scope = _picked_scope(form.unit.data)
    stmt = stock.ledger_query(scope, form.date_from.data, form.date_to.data, narrowing)
    header = [
        _("编号"),
        _("时间"),
        _("单位"),
        _("物资"),
        _("批次"),
        _("类型"),
        _("数量"),
        _("结存"),
        _("本单位合计"),
        _("经办人"),
        _("原因"),
        _("单据"),
        _("备注"),
        _("手机记录时间"),
    ]

    if _fmt() in ("xlsx", "pdf"):
        n = stock.ledger_count(db.session, scope, form.date_from.data, form.date_to.data, narrowing)
        limit = exports.XLSX_MAX_ROWS if _fmt() == "xlsx" else LEDGER_PDF_MAX_ROWS
        if n > limit:
            # Refused before any row is written: the page says why and keeps the filters.
            message = (
                exports.too_many_rows().message
                if _fmt() == "xlsx"
                else _(
                    "台账超过 {limit} 行，无法生成 PDF：请缩小单位或日期范围，或下载 CSV。"
                ).format(limit=f"{LEDGER_PDF_MAX_ROWS:,}")
            )
            flash(message, "error")
            args = {k: v for k, v in request.args.items() if k != "format"}
            return redirect(url_for("inventory.ledger", **args))
    rows = stock.ledger_export_rows(
        db.session,
        scope,
        form.date_from.data,
        form.date_to.data,
        kinds={k: str(v) for k, v in MOVEMENT_KINDS.items()},
        reasons={k: str(v) for k, v in WRITE_OFF_REASON_LABELS.items()},
        narrowing=narrowing,
        order=order,
        english=is_english(),
    )
    response = table_response(
        _fmt(),
        "ledger",
        header,
        rows,
        pdf=lambda: pdf_table(
            _("出入库台账"),
            [
                _("单位：{unit}；日期：{start} 至 {end}").format(
                    unit=dict(form.unit.choices).get(form.unit.data or "", "").strip(),
                    start=form.date_from.data or "—",
                    end=form.date_to.data or "—",
                )
            ],
            header,
            rows,
        ),
    )
    if response is not None:
        return response
    # A page at a time by keyset (?after= the last line shown), never OFFSET: the last page
    # costs what the first does. The old ?page= is ignored.
    movements, next_cursor = paging.page(
        db.session,
        stmt,
        order,
        PAGE_ROWS,
        request.args.get("after") or None,
        name="after",
    )
    args = {k: v for k, v in request.args.items() if k not in ("page", "format", "after")}
    return render_template(
        "inventory/ledger.html",
        form=form,
        shown=shown,
        movements=movements,
        totals=stock.unit_totals_after(db.session, movements),
        notes=line_notes(db.session, movements),
        reasons=WRITE_OFF_REASON_LABELS,
        kinds=MOVEMENT_KINDS,
        next_cursor=next_cursor,
        is_first=not request.args.get("after"),
        args=args,
    )


# ---------------------------------------------------------------- counts


def _countable_units() -> list[tuple[str, str]]:
    """The units the user may start a count of (their reach), for the counts page's
    picker; empty for a role that may not count."""
    if not can(db.session, current_actor(), "counts.write"):
        return []
    return _unit_filter_choices(_("请选择单位"))


# The recent stocktakes: searched by unit, filtered by state and unit, sorted (issue 22).
COUNT_LIST = lists.ListSpec(
    search=(Unit.name, Unit.code),
    columns=(
        lists.Column("date", (Count.started_at,)),
        lists.Column("unit", (Unit.name,)),
        lists.Column("status", (Count.status,)),
    ),
    tiebreak=Count.id,
    default_desc=True,
)


class _CountsShown(lists.Shown):
    """The counts list's arguments; its links lead to the counts page also from the page
    shown again after a refused start (a POST to another address)."""

    def sort_url(self, key: str) -> str:
        return url_for("inventory.counts", **self.sort_args(key))

    def download_url(self, fmt: str) -> str:
        return url_for("inventory.counts", **(self.args | {"format": fmt}))


def _recent_counts(scope: set[int] | None):
    """The stocktakes in reach as the URL asks (searched, filtered, sorted), the list's
    arguments and the units its filter offers."""
    shown = _CountsShown(**vars(lists.shown(COUNT_LIST)))
    stmt = select(Count).join(Unit, Unit.id == Count.unit_id).options(contains_eager(Count.unit))
    if scope is not None:
        stmt = stmt.where(Count.unit_id.in_(scope))
    if request.method == "GET":
        status = lists.choice_filter("status", COUNT_STATUSES, _("状态"))
        units = active_units_in_reach(reach=scope)
        unit = lists.unit_filter(units)
    else:
        status, units, unit = None, active_units_in_reach(reach=scope), None
    if status is not None:
        stmt = stmt.where(Count.status == status)
    if unit is not None:
        stmt = stmt.where(Count.unit_id.in_(unit_ids_below(db.session, unit.id)))
    return lists.apply(stmt, COUNT_LIST, shown), shown, units


def _counts_page(start_form: StartCountAtForm | None = None, status: int = 200):
    """Counts due and overdue, recent stocktakes (searched, filtered, sorted and paged as the
    URL says; CSV or XLSX as shown), and (for those who may count) a form to start one;
    after a refusal, with what was typed and the refusal on its field."""
    scope = _scope_ids()
    today = date.today()
    stmt, shown, unit_choices = _recent_counts(scope)
    if request.method == "GET" and _fmt() in ("csv", "xlsx"):
        header = [_("编号"), _("单位"), _("状态"), _("部分盘点"), _("开始时间")]
        rows = (
            [
                c.id,
                c.unit.name,
                str(COUNT_STATUSES[c.status]),
                _("是") if c.is_partial else "",
                c.started_at.isoformat(timespec="minutes"),
            ]
            for c in db.session.scalars(stmt)
        )
        return table_response(_fmt(), "counts", header, rows)
    listing = paginate(stmt)
    due = counts_due(db.session, scope, today=today)
    units = _countable_units()
    if units:
        start_form = start_form or StartCountAtForm(formdata=None)
        start_form.unit.choices = units
    return render_template(
        "inventory/counts.html",
        due=due,
        recent=listing.rows,
        listing=listing,
        shown=shown,
        unit_choices=unit_choices,
        statuses=COUNT_STATUSES,
        today=today,
        start_form=start_form if units else None,
        may_set_intervals=can(db.session, current_actor(), "standard.manage"),
    ), status


@bp.route("/counts")
@permission("stock.view")
def counts():
    """Counts due and overdue, and recent stocktakes."""
    return _counts_page()


@bp.route("/counts/start", methods=["POST"])
@permission("counts.write")
def count_start_picked():
    """Start a count of the unit picked on the counts page (what the stock page's start
    takes, with the unit as a field); a refusal shows the page again with what was typed."""
    form = StartCountAtForm()
    form.unit.choices = _countable_units()
    if form.validate_on_submit():
        unit = db.session.scalar(select(Unit).where(Unit.code == form.unit.data))

        def start():
            if unit is None:
                raise DomainError(_("请选择要盘点的单位。"), field="unit")
            return start_count(db.session, unit, actor=current_actor(), note=form.note.data)

        count = submit(form, start, "unit")
        if count is not None:
            flash(_("已开始盘点第 {id} 号。").format(id=count.id), "success")
            return redirect(url_for("inventory.count_detail", count_id=count.id))
    return _counts_page(form, status=422)


@bp.route("/stock/<code>/counts", methods=["POST"])
@permission("counts.write")
def count_start(code: str):
    """Start a stocktake of a unit."""
    unit = _unit_in_scope(code)
    form = StartCountForm()
    if form.validate_on_submit():
        try:
            count = start_count(db.session, unit, actor=current_actor(), note=form.note.data)
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            flash(_("已开始盘点第 {id} 号。").format(id=count.id), "success")
            return redirect(url_for("inventory.count_detail", count_id=count.id))
    return redirect(url_for("inventory.unit_stock", code=unit.code))


def _count(count_id: int) -> Count:
    count = count_with_lines(db.session, count_id)
    if count is None:
        abort(404)
    if not in_scope(db.session, current_actor(), count.unit_id):
        abort(403)
    return count


def _count_page(count: Count, form=None, *, typed=None, errors=None, status: int = 200):
    """The count sheet; after a refusal, with what was typed and each bad row marked."""
    actor = current_actor()
    form = form or CountEntryForm()
    form.extra_item.choices = [("", "—")] + [
        (i.code, f"{i.shown_name} ({i.code})") for i in _active_items()
    ]
    editable = count.status in EDITABLE_COUNT_STATUSES
    return render_template(
        "inventory/count.html",
        count=count,
        form=form,
        confirm=ConfirmForm(),
        return_form=ReturnCountForm(),
        statuses=COUNT_STATUSES,
        shows_book=shows_book(count),
        typed=typed or {},
        errors=errors or {},
        may_enter=editable and can(db.session, actor, "counts.write", count.unit_id),
        may_approve=count.status == "submitted"
        and can(db.session, actor, "counts.approve", count.unit_id),
    ), status


@bp.route("/counts/<int:count_id>")
@permission("stock.view")
def count_detail(count_id: int):
    """A stocktake: counted (or why not) for every position; book and variance once
    submitted (at once when the count is not blind)."""
    return _count_page(_count(count_id))


def _save_sheet(count: Count, form: CountEntryForm) -> tuple[int, dict, dict]:
    """Save every row of the sheet that can be saved; return how many changed, what was
    typed and the refusal of each row that could not (named by item and lot)."""
    actor = current_actor()
    typed: dict = {}
    errors: dict = {}
    saved = 0
    for line in list(count.lines):
        raw = request.form.get(f"line-{line.id}")
        reason = request.form.get(f"reason-{line.id}")
        if raw is None and reason is None:
            continue
        raw, reason = (raw or "").strip(), (reason or "").strip()
        typed[line.id] = (raw, reason)
        item = db.session.get(Item, line.item_id)
        try:
            if raw and reason:
                raise DomainError(_("清点数量和未清点原因只能填一个。"))
            if raw:
                if line.counted is not None and raw == str(line.counted):
                    continue
                enter_count(db.session, count, item, line.lot, raw, actor=actor)
            elif reason:
                if reason == line.not_counted_reason:
                    continue
                mark_not_counted(db.session, count, item, line.lot, reason, actor=actor)
            elif line.counted is not None or line.not_counted_reason is not None:
                clear_count_line(db.session, count, line, actor=actor)
            else:
                continue
        except (PermissionDenied, Conflict):
            raise
        except DomainError as err:
            errors[line.id] = _("{name}：{message}").format(
                name=position_name(line), message=err.message
            )
            continue
        saved += 1
    extra_code = form.extra_item.data
    if extra_code:
        typed["extra"] = (request.form.get("extra_counted", "").strip(), "")
        try:
            if form.extra_counted.errors or form.extra_lot.errors:
                raise DomainError(next(iter(form.extra_counted.errors + form.extra_lot.errors)))
            if form.extra_counted.data is None:
                raise DomainError(_("请填写账上没有的物资的清点数量。"))
            item = get_item(db.session, extra_code)
            lot = None
            if form.extra_lot.data and form.extra_lot.data.strip():
                lot = find_lot(db.session, item, form.extra_lot.data.strip())
                if lot is None:
                    raise DomainError(
                        _("{item} 没有批次 {lot}。").format(
                            item=item.shown_name, lot=form.extra_lot.data
                        )
                    )
            enter_count(db.session, count, item, lot, form.extra_counted.data, actor=actor)
            saved += 1
        except (PermissionDenied, Conflict):
            raise
        except DomainError as err:
            errors["extra"] = err.message
    return saved, typed, errors


def _count_sheet(count_id: int, *, then_submit: bool):
    count = _count(count_id)
    form = CountEntryForm()
    form.extra_item.choices = [("", "—")]
    form.validate_on_submit()
    if form.csrf_token.errors:
        flash(form.csrf_token.errors[0], "error")
        return redirect(url_for("inventory.count_detail", count_id=count.id))
    try:
        saved, typed, errors = _save_sheet(count, form)
        if errors:
            db.session.commit()
            flash(
                _("有 {bad} 行没有保存，请改正标出的行；其余 {n} 行已保存。").format(
                    bad=len(errors), n=saved
                )
                + (" " + _("尚未提交审批。") if then_submit else ""),
                "error",
            )
            return _count_page(count, form, typed=typed, errors=errors, status=422)
        if then_submit:
            try:
                submit_count(db.session, count, actor=current_actor())
            except (PermissionDenied, Conflict):
                raise
            except DomainError as err:
                db.session.commit()  # what was typed is saved; only the submission is refused
                missing = {ln.id for ln in missing_positions(count)}
                marked = {
                    ln.id: _("{name}：请填写清点数量或未清点原因。").format(name=position_name(ln))
                    for ln in count.lines
                    if ln.id in missing
                }
                flash(err.message + " " + _("已保存填写的数量，尚未提交审批。"), "error")
                return _count_page(count, form, typed=typed, errors=marked, status=422)
            db.session.commit()
            flash(_("盘点第 {id} 号已提交审批。").format(id=count.id), "success")
        else:
            db.session.commit()
            flash(_("已保存 {n} 行清点数量。").format(n=saved), "success")
    except Conflict as err:
        db.session.rollback()
        flash(err.message, "error")
    return redirect(url_for("inventory.count_detail", count_id=count.id))


@bp.route("/counts/<int:count_id>/lines", methods=["POST"])
@permission("counts.write")
def count_enter(count_id: int):
    """Save what was typed; a bad row is marked and every other row is kept."""
    return _count_sheet(count_id, then_submit=False)


@bp.route("/counts/<int:count_id>/submit", methods=["POST"])
@permission("counts.write")
def count_submit(count_id: int):
    """Save what was typed, then hand the count over for approval."""
    return _count_sheet(count_id, then_submit=True)


def _count_action(count_id: int, action, done_message: str):
    count = _count(count_id)
    confirmed_action(
        lambda _version: action(db.session, count, actor=current_actor()),
        lambda _result: done_message.format(id=count.id),
    )
    return redirect(url_for("inventory.count_detail", count_id=count.id))


@bp.route("/counts/<int:count_id>/approve", methods=["POST"])
@permission("counts.approve")
def count_approve(count_id: int):
    """Approve a count; variances become adjustments."""
    return _count_action(count_id, approve_count, _("盘点第 {id} 号已审批，差异已调整入账。"))


@bp.route("/counts/<int:count_id>/return", methods=["POST"])
@permission("counts.approve")
def count_return(count_id: int):
    """Send a count back for recount, with a reason."""
    count = _count(count_id)
    form = ReturnCountForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(url_for("inventory.count_detail", count_id=count.id))
    try:
        return_count(db.session, count, form.reason.data, actor=current_actor())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        db.session.commit()
        flash(_("盘点第 {id} 号已退回重盘。").format(id=count.id), "success")
    return redirect(url_for("inventory.count_detail", count_id=count.id))


@bp.route("/counts/<int:count_id>/cancel", methods=["POST"])
@permission("counts.write")
def count_cancel(count_id: int):
    """Abandon a count."""
    return _count_action(count_id, cancel_count, _("盘点第 {id} 号已取消。"))


@bp.route("/counts/intervals", methods=["GET", "POST"])
@permission("standard.manage")
def count_intervals():
    """How often each kind of unit must count its stock, and whether its counts are blind
    (command staff's own unit and the units below it)."""
    actor = current_actor()
    form = IntervalForm()
    if form.validate_on_submit():
        blind = {"1": True, "0": False}.get(form.blind.data or "")
        done = submit(
            form,
            lambda: set_count_policy(
                db.session, form.unit_kind.data, days=form.days.data, blind=blind, actor=actor
            ),
            "days",
        )
        if done is not None:
            flash(_("已保存盘点间隔。"), "success")
            return redirect(url_for("inventory.count_intervals"))
    owner = getattr(actor, "unit_id", None)
    current = {k: count_policy(db.session, k, owner) for k in UNIT_KINDS}
    return render_template(
        "inventory/intervals.html",
        form=form,
        current=current,
        kinds=UNIT_KINDS,
        owner=db.session.get(Unit, owner) if owner else None,
        threshold=variance_threshold(db.session, owner),
        confirm=ConfirmForm(),
    )


@bp.route("/counts/variance-threshold", methods=["POST"])
@permission("standard.manage")
def count_variance_threshold():
    """When an approved count's variance becomes a corrective action: beyond a number of
    pieces and/or a percentage of the book (command staff's own unit and the units below)."""

    def run(_version):
        return set_variance_threshold(
            db.session,
            min_qty=(request.form.get("min_qty") or "").strip(),
            min_pct=(request.form.get("min_pct") or "").strip(),
            actor=current_actor(),
        )

    confirmed_action(run, lambda _row: _("已保存盘点差异阈值。"))
    return redirect(url_for("inventory.count_intervals"))


# ---------------------------------------------------------------- reports


@bp.route("/reports/shortfall")
@permission("reports.view")
def shortfall_report():
    """Who lacks most, what it costs to fix, and what can be moved before buying."""
    form = ShortfallFilterForm(request.args)
    form.unit.choices = _unit_filter_choices(_("全部单位"))
    form.category.choices = [("", _("全部类别")), *_categories()]
    form.item.choices = [("", _("全部物资"))] + [
        (i.code, f"{i.shown_name} ({i.code})") for i in _active_items()
    ]
    form.validate()
    report = shortfall(
        db.session,
        unit_ids=_picked_scope(form.unit.data),
        category=form.category.data or None,
        item_code=form.item.data or None,
        as_of=form.as_of.data,
    )
    response = reports.shortfall_download(_fmt(), report)
    if response is not None:
        return response
    args = {k: v for k, v in request.args.items() if k != "format"}
    return render_template(
        "inventory/shortfall.html",
        form=form,
        report=report,
        args=args,
        # a city is ~22,000 unit × item rows: the page shows them a hundred at a time
        listing=paginate_rows(report.rows, REPORT_PAGE_ROWS),
        max_transfers=REPORT_PAGE_ROWS,
        Decimal=Decimal,
        may_request=can(db.session, current_actor(), "allocations.approve"),
        confirm=ConfirmForm(),
    )


@bp.route("/reports/expiry")
@permission("reports.view")
def expiry_report():
    """Lots expiring within N days (default 90) and already expired, soonest first."""
    days = int_arg("days", 90, low=1, high=3650)
    unit_code = request.args.get("unit") or None
    scope = _picked_scope(unit_code)
    if _fmt() in ("csv", "xlsx", "pdf"):
        # a download is the whole report; the page shows it a hundred lots at a time
        rows_ = stock.expiring_lots(db.session, scope, today=date.today(), within_days=days)
        return reports.expiry_download(_fmt(), rows_, days, date.today())
    rows_, next_cursor = stock.expiring_page(
        db.session,
        scope,
        today=date.today(),
        within_days=days,
        limit=PAGE_ROWS,
        cursor=request.args.get("after") or None,
        cursor_name="after",
    )
    return render_template(
        "inventory/expiry.html",
        rows=rows_,
        days=days,
        unit_code=unit_code or "",
        units=_unit_filter_choices(_("全部单位")),
        next_cursor=next_cursor,
        is_first=not request.args.get("after"),
    )

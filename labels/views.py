"""The phone-first scan page, the scan box for handheld scanners, printing labels, and the
units' printer profiles with their alignment test pages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from inventory import ledger
from inventory.counts import shows_book
from inventory.ledger import UNDO_WINDOW
from inventory.models import ASSET_STATUSES, EDITABLE_COUNT_STATUSES, Count, Item, Movement
from labels import scanning
from labels import services as lab
from labels.layouts import LAYOUTS
from labels.pdf import crosshair_points, ruler_length
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.db import utcnow
from readiness.errors import DomainError, NotFound
from readiness.exports import csv_response, xlsx_response
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.models import Unit, User
from readiness.pages import confirmed_action, int_or_none
from readiness.params import int_arg
from readiness.permissions import can, in_scope, same_bureau

bp = Blueprint("labels", __name__)


def _resolve_or_page(code: str):
    try:
        return lab.resolve(db.session, code), None
    except NotFound as err:
        return None, (render_template("labels/unknown.html", message=err.message), 404)


@bp.route("/l/<code>")
@permission("stock.view")
def scan(code: str):
    """What a scanned label points to, with one-tap count, issue and receive."""
    found, page = _resolve_or_page(code)
    if page:
        return page
    actor = current_actor()
    unit = found.unit
    holds = unit is not None and in_scope(db.session, actor, unit)
    if unit is not None and not holds and not _same_bureau(actor, unit):
        message = _("这张标签属于其他局的单位，您无权查看。")
        return render_template("labels/unknown.html", message=message), 403
    position = found.position
    last = lab.last_count_line(db.session, position) if position else None
    running = None
    if unit is not None:
        running = db.session.scalar(
            select(Count).where(
                Count.unit_id == unit.id,
                Count.status.in_(EDITABLE_COUNT_STATUSES),
                Count.is_spot.is_(False),
            )
        )
    may_count = holds and position is not None and can(db.session, actor, "counts.write", unit)
    today = date.today()
    expires = found.lot.expires_on if found.lot else None
    return render_template(
        "labels/scan.html",
        found=found,
        position=position,
        last=last,
        last_by=db.session.get(User, last.counted_by_id) if last and last.counted_by_id else None,
        running=running,
        expired=expires is not None and expires <= today,
        may_count=may_count,
        # During a blind stocktake the counter does not see the book (the count would copy it).
        shows_book=not (may_count and running is not None and running.is_blind),
        may_move=holds and position is not None and can(db.session, actor, "stock.write", unit),
        form=ConfirmForm(),
        request_key=secrets.token_urlsafe(16),
        back=request.args.get("back", ""),
        asset_statuses=ASSET_STATUSES,
        # The count box starts empty (a number shown there would be confirmed unread); after
        # a refusal it holds what was typed.
        typed_count=request.args.get("counted", "")[:12],
        undo=_pending_undo(found.label.code),
        may_act_on_piece=holds
        and found.asset is not None
        and not found.is_retired
        and can(db.session, actor, "stock.write", unit),
    )


def _pending_undo(code: str) -> dict | None:
    """The issue or receipt just recorded from this label, while it may still be undone."""
    pending = session.get("undo")
    if not pending or pending.get("code") != code:
        return None
    movement = db.session.scalar(select(Movement).where(Movement.request_key == pending["key"]))
    if movement is None or movement.actor_id != current_actor().id:
        return None
    until = movement.at + UNDO_WINDOW
    if until <= utcnow() or db.session.scalar(
        select(Movement.id).where(Movement.reverses_id == movement.id)
    ):
        session.pop("undo", None)
        return None
    return {"key": pending["key"], "until": until}


def _same_bureau(actor, unit) -> bool:
    return actor.unit_id is not None and same_bureau(db.session, actor.unit_id, unit)


def _found_in_reach(code: str):
    """The scanned label, if it names a unit in the caller's reach (else 403, first)."""
    found = lab.resolve(db.session, code)
    if found.unit is not None and not in_scope(db.session, current_actor(), found.unit):
        abort(403)
    return found


def _after_scan(code: str):
    back = request.form.get("back", "")
    if back.startswith("/scan"):
        return redirect(back)
    return redirect(url_for("labels.scan", code=code))


@bp.route("/l/<code>/count", methods=["POST"])
@permission("counts.write")
def scan_count(code: str):
    """Record the counted quantity of the scanned position."""
    found = _found_in_reach(code)
    if found.position is None:
        raise DomainError(_("按件管理的设备不在这里点数。"))
    if not ConfirmForm().validate_on_submit():
        return _after_scan(code)
    try:
        count = lab.spot_count(
            db.session, found.position, request.form.get("counted", ""), actor=current_actor()
        )
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        typed = request.form.get("counted", "")[:12]
        return redirect(url_for("labels.scan", code=found.label.code, counted=typed))
    else:
        db.session.commit()
        if count.is_spot:
            flash(_("已记录点数，待审批（盘点第 {id} 号）。").format(id=count.id), "success")
        else:
            flash(_("已计入盘点第 {id} 号。").format(id=count.id), "success")
    return _after_scan(found.label.code)


@bp.route("/l/<code>/move", methods=["POST"])
@permission("stock.write")
def scan_move(code: str):
    """Issue or receive the scanned position in one tap."""
    found = _found_in_reach(code)
    if found.position is None:
        raise DomainError(_("按件管理的设备请在库存页面逐件登记。"))
    if not ConfirmForm().validate_on_submit():
        return _after_scan(code)
    kind = request.form.get("kind")
    try:
        result = ledger.record_movement(
            db.session,
            unit=found.unit,
            item=found.item,
            kind=kind if kind in ("issue", "receipt") else "",
            qty=request.form.get("qty", ""),
            lot_code=found.lot.code if found.lot else None,
            lot_only=True,  # the scanned shelf, not the unit's earliest lot
            request_key=request.form.get("request_key") or None,
            actor=current_actor(),
        )
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        db.session.commit()
        if result.replayed:
            flash(_("这张表单已经登记过，未重复记账。"), "warning")
        else:
            moved = abs(sum(m.qty for m in result.movements))
            lot = found.lot.code if found.lot else None
            flash(
                scanning.movement_message(kind, moved, found.item, lot, result.unit_total),
                "success",
            )
            # one minute to take a slip of the thumb back
            session["undo"] = {"key": result.movement.request_key, "code": found.label.code}
    return _after_scan(found.label.code)


@bp.route("/l/<code>/piece", methods=["POST"])
@permission("stock.write")
def scan_piece(code: str):
    """A serial piece's actions from its label: issue, send for repair, back in service, or
    confirm it is there."""
    found = _found_in_reach(code)
    if found.asset is None:
        raise DomainError(_("按数量管理的物资请用出库、入库或点数。"))
    if ConfirmForm().validate_on_submit():
        try:
            result = scanning.act(
                db.session,
                found.label.code,
                request.form.get("action"),
                1,
                request_key=request.form.get("request_key"),
                device_at=None,
                actor=current_actor(),
            )
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            flash(result.message, "success" if result.result == "recorded" else "warning")
    return _after_scan(found.label.code)


@bp.route("/scan")
@permission("stock.view")
def scan_box():
    """One input for handheld scanners (they type the code and press Enter)."""
    raw = request.args.get("code", "").strip()
    count_id = int_arg("count")
    count = db.session.get(Count, count_id) if count_id else None
    if count is not None and not in_scope(db.session, current_actor(), count.unit_id):
        count = None
    back = url_for("labels.scan_box", count=count.id) if count else ""
    if raw:
        code = lab.normalize_code(raw)
        try:
            lab.resolve(db.session, code)
        except NotFound as err:
            flash(err.message, "error")
        else:
            return redirect(url_for("labels.scan", code=code, back=back or None))
    lines = []
    if count is not None:
        lines = [ln for ln in count.lines if ln.counted is not None]
        lines.sort(key=lambda ln: ln.counted_at, reverse=True)
    actor = current_actor()
    unit = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
    return render_template(
        "labels/scan_box.html",
        count=count,
        lines=lines,
        shows_book=count is None or shows_book(count),
        unit=unit,
        may_write=unit is not None and can(db.session, actor, "stock.write", unit),
        start_count_url=url_for("labels.scan_count_start")
        if unit is not None and can(db.session, actor, "counts.write", unit)
        else None,
    )


# ---------------------------------------------------------------- printing

LAYOUT_LABELS = {
    "a4-3x8": "A4 3×8 (70×37 mm)",
    "a4-2x5": "A4 2×5 (105×57 mm)",
    "a4-3x7": "A4 3×7 (70×42.4 mm)",
    "thermal-40x30": "热敏 40×30 mm",
    "thermal-50x30": "热敏 50×30 mm",
    "thermal-60x40": "热敏 60×40 mm",
    "thermal-70x50": "热敏 70×50 mm",
}


def layout_label(code: str) -> str:
    label = LAYOUT_LABELS.get(code, code)
    return label.replace("热敏", _("热敏"))


def output_labels() -> dict[str, str]:
    return {
        "pdf": _("PDF（A4 标签纸或任何打印机）"),
        "zpl": _("ZPL（斑马 Zebra 等热敏打印机）"),
        "tspl": _("TSPL（TSC、佳博 Gprinter、芯烨 Xprinter 等）"),
        "csv": _("CSV 数据（供 BarTender、中琅等标签软件）"),
        "xlsx": _("XLSX 数据（供 BarTender、中琅等标签软件）"),
    }


def print_refusal() -> str | None:
    """Why this request must not print labels (the address they would carry), or None."""
    return lab.print_refusal(current_app.config["BASE_URL"], request.host_url, request.remote_addr)


def check_print_address() -> None:
    lab.check_print_address(current_app.config["BASE_URL"], request.host_url, request.remote_addr)


def label_download(targets, *, layout, output, skip, profile, filename: str) -> Response:
    """The labels as the printer's file (PDF, ZPL, TSPL) or as data (CSV, XLSX)."""
    base_url = current_app.config["BASE_URL"]
    if output in lab.EXPORTS:
        header, rows = lab.label_rows(targets, base_url)
        # The codes just issued are kept before the download takes the session away.
        db.session.commit()
        make = csv_response if output == "csv" else xlsx_response
        return make(filename, header, rows)
    out = lab.printout(
        db.session,
        targets,
        layout or None,
        output=output or None,
        skip=skip,
        base_url=base_url,
        profile=profile,
    )
    return Response(
        out.data,
        mimetype=out.mimetype,
        headers={"Content-Disposition": f"attachment; filename={filename}.{out.extension}"},
    )


def _skip(raw: str | None) -> int:
    raw = (raw or "").strip()
    skip = int_or_none(raw) if raw else 0
    if skip is None:
        raise DomainError(_("跳过的标签数必须是整数。"), field="skip")
    return skip


def _print_units() -> list[tuple[Unit, int]]:
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    return [(u, d) for u, d in core.unit_tree(db.session, roots) if u.is_active]


# How many of a selection's labels the page lists (the rest are counted).
SHOWN_PICKS = 12


@dataclass
class Selection:
    """Labels chosen on another page (GET arguments, so a link prefills them): the lot rows
    and serial pieces ticked on a unit's stock page (``what`` "selected") or the stock units
    of the shelter sites ticked on the site list ("units"); ``fields`` go back with the
    print form."""

    what: str
    fields: list[tuple[str, str]]
    count: int = 0
    lines: list[str] = field(default_factory=list)
    unit: Unit | None = None


def _selection(args) -> Selection | None:
    """The selection these arguments name, or None when they name none (the page then asks
    what to print)."""
    if args.getlist("units") or args.get("what") == "units":
        return Selection("units", [("units", v) for v in args.getlist("units")])
    if args.getlist("position") or args.getlist("asset") or args.get("what") == "selected":
        fields = [("unit", args.get("unit", ""))] if args.get("unit") else []
        fields += [("position", v) for v in args.getlist("position")]
        fields += [("asset", v) for v in args.getlist("asset")]
        return Selection("selected", fields)
    return None


def _values(selection: Selection, name: str) -> list[str]:
    return [v for k, v in selection.fields if k == name]


def _describe(selection: Selection) -> None:
    """What the selection holds, checked (a refusal raises): its count and a short list."""
    actor = current_actor()
    if selection.what == "units":
        units = lab.pick_units(db.session, _values(selection, "units"), actor=actor)
        selection.count = sum(len(rows) for _unit, rows in units)
        selection.lines = [
            _("{site}：{n} 个标签").format(site=unit.name, n=len(rows)) for unit, rows in units
        ]
        return
    unit, picked = lab.pick_selection(
        db.session,
        unit_code=next(iter(_values(selection, "unit")), None),
        position_ids=_values(selection, "position"),
        asset_ids=_values(selection, "asset"),
        actor=actor,
    )
    selection.unit = unit
    selection.count = len(picked)
    selection.lines = [
        " ".join(
            part
            for part in (
                p.item.shown_name,
                _("批次 {lot}").format(lot=p.lot.code) if p.lot else "",
                _("序列号 {serial}").format(serial=p.serial) if p.serial else "",
                "" if unit else _("（{text}）").format(text=p.unit.name),
            )
            if part
        )
        for p in picked
    ]


def _selected_targets(selection: Selection):
    actor = current_actor()
    if selection.what == "units":
        return lab.targets_for_units(db.session, _values(selection, "units"), actor=actor), "sites"
    unit_code = next(iter(_values(selection, "unit")), None)
    targets = lab.targets_for_selection(
        db.session,
        unit_code=unit_code,
        position_ids=_values(selection, "position"),
        asset_ids=_values(selection, "asset"),
        actor=actor,
    )
    return targets, unit_code or "selected"


@bp.route("/labels", methods=["GET", "POST"])
@permission("labels.print")
def print_labels():
    """Choose what to print, on which printer and in which language; the file downloads.
    Labels ticked on another page (a unit's lot rows and pieces, or shelter sites' stock
    units) come as
    the page's arguments and are printed as chosen there."""
    units = _print_units()
    items = db.session.scalars(select(Item).where(Item.is_active).order_by(Item.code)).all()
    profiles = lab.usable_profiles(db.session, current_actor())
    error = None
    posted = request.method == "POST"
    selection = _selection(request.form if posted else request.args)
    if posted and ConfirmForm().validate_on_submit():
        try:
            check_print_address()
            profile = None
            if request.form.get("profile"):
                profile = lab.get_profile(db.session, request.form["profile"], current_actor())
            if selection is not None:
                targets, name = _selected_targets(selection)
            else:
                targets, name = _unit_targets(items)
            response = label_download(
                targets,
                layout=request.form.get("layout", ""),
                output=request.form.get("output", ""),
                skip=_skip(request.form.get("skip")),
                profile=profile,
                filename=f"labels-{name}",
            )
        except DomainError as err:
            db.session.rollback()
            error = err.message
        else:
            db.session.commit()
            return response
    if selection is not None:
        try:
            _describe(selection)
        except DomainError as err:
            db.session.rollback()
            error = err.message
            selection = None  # nothing of a refused selection is printed
    base_url = current_app.config["BASE_URL"]
    return render_template(
        "labels/print.html",
        units=units,
        items=items,
        layouts={code: (layout_label(code), LAYOUTS[code].per_page) for code in LAYOUTS},
        outputs=output_labels(),
        profiles=profiles,
        categories=sorted({(i.category, i.shown_category) for i in items}),
        form=ConfirmForm(),
        error=error,
        refusal=print_refusal(),
        example_url=lab.label_url(base_url, "XXXXXXXXXX"),
        chosen=request.form if posted else request.args,
        selection=selection,
        shown_picks=SHOWN_PICKS,
    )


def _unit_targets(items):
    """The labels the what-to-print choice names: a unit's positions and pieces, some items,
    a category, or its pieces only."""
    unit = core.get_unit(db.session, request.form.get("unit", ""))
    if not in_scope(db.session, current_actor(), unit):
        raise DomainError(_("您只能为本单位及下级单位打印标签。"))
    what = request.form.get("what", "positions")
    item_codes = request.form.getlist("items") if what == "items" else None
    if what == "items" and not item_codes:
        raise DomainError(_("请至少选择一种物资。"), field="items")
    if what == "category":
        category = request.form.get("category", "")
        item_codes = [i.code for i in items if i.category == category]
        if not item_codes:
            raise DomainError(_("该类别下没有物资。"), field="category")
    targets = lab.targets_for_unit(
        db.session,
        unit,
        actor=current_actor(),
        item_codes=item_codes,
        serial_only=what == "serial",
    )
    return targets, unit.code


# ---------------------------------------------------------------- printer profiles


def _profile_units() -> list[tuple[Unit, int]]:
    return _print_units()


def _profile_values() -> dict:
    return {k: request.form.get(k, "") for k in lab.PROFILE_FIELDS}


@bp.route("/labels/printers", methods=["GET", "POST"])
@permission("labels.print")
def printers():
    """A unit's printers: each with its label stock, language and correction."""
    actor = current_actor()
    errors: dict[str, str] = {}
    values: dict = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        values = _profile_values()
        profile, errors = _save(
            lambda: lab.save_profile(
                db.session,
                core.get_unit(db.session, request.form.get("unit", "")),
                values,
                actor=actor,
            ),
            "unit",
        )
        if not errors:
            flash(
                _("已添加打印机“{name}”。先打印一张校准测试页。").format(name=profile.name),
                "success",
            )
            return redirect(url_for("labels.printer", profile_id=profile.id))
    profiles = lab.usable_profiles(db.session, actor)
    return render_template(
        "labels/printers.html",
        profiles=profiles,
        editable={p.id for p in profiles if in_scope(db.session, actor, p.unit_id)},
        units=_profile_units(),
        layouts={code: layout_label(code) for code in LAYOUTS},
        outputs={k: v for k, v in output_labels().items() if k in lab.OUTPUTS},
        errors=errors,
        values=values,
        form=ConfirmForm(),
    )


def _save(call, default_field: str):
    """Run a printer form's service call: commit and return (result, {}), or roll back and
    return (None, every refused field with its message)."""
    try:
        result = call()
    except lab.Invalid as err:
        db.session.rollback()
        return None, err.errors
    except DomainError as err:
        db.session.rollback()
        return None, {err.field or default_field: err.message}
    db.session.commit()
    return result, {}


def _editable_profile(profile_id: int):
    actor = current_actor()
    profile = db.session.get(lab.PrinterProfile, profile_id)
    if profile is None or not profile.is_active:
        abort(404)
    if not in_scope(db.session, actor, profile.unit_id):
        abort(403)
    return profile


@bp.route("/labels/printers/<int:profile_id>", methods=["GET", "POST"])
@permission("labels.print")
def printer(profile_id: int):
    """One printer: change it, print its test page, enter what was measured on it."""
    profile = _editable_profile(profile_id)
    errors: dict[str, str] = {}
    values: dict = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        if request.form.get("measure"):
            _result, errors = _save(
                lambda: lab.correct_from_measurement(
                    db.session,
                    profile,
                    request.form.get("ruler_mm", ""),
                    request.form.get("cross_x_mm", ""),
                    request.form.get("cross_y_mm", ""),
                    actor=current_actor(),
                ),
                "ruler_mm",
            )
        else:
            values = _profile_values()
            _result, errors = _save(
                lambda: lab.save_profile(
                    db.session, profile.unit, values, actor=current_actor(), profile=profile
                ),
                "name",
            )
        if not errors:
            flash(
                _("已保存：X {x} mm，Y {y} mm，缩放 {s}%。请再打印一张测试页核对。").format(
                    x=profile.offset_x_mm, y=profile.offset_y_mm, s=profile.scale_pct
                ),
                "success",
            )
            return redirect(url_for("labels.printer", profile_id=profile.id))
    shape = LAYOUTS[profile.layout]
    cross = crosshair_points(shape)[0]
    return render_template(
        "labels/printer.html",
        profile=profile,
        layouts={code: layout_label(code) for code in LAYOUTS},
        outputs={k: v for k, v in output_labels().items() if k in lab.OUTPUTS},
        errors=errors,
        values=values or lab.profile_values(profile),
        measured={k: request.form.get(k, "") for k in ("ruler_mm", "cross_x_mm", "cross_y_mm")},
        ruler=f"{ruler_length(shape):g}",
        cross=(f"{cross[0]:g}", f"{cross[1]:g}"),
        form=ConfirmForm(),
    )


@bp.route("/labels/printers/<int:profile_id>/retire", methods=["POST"])
@permission("labels.print")
def printer_retire(profile_id: int):
    profile = _editable_profile(profile_id)
    if confirmed_action(
        lambda _version: lab.retire_profile(db.session, profile, actor=current_actor()),
        lambda _result: _("已停用打印机“{name}”。").format(name=profile.name),
    ):
        return redirect(url_for("labels.printers"))
    return redirect(url_for("labels.printer", profile_id=profile.id))


@bp.route("/labels/test-page.pdf")
@permission("labels.print")
def test_page():
    """The alignment test page of a layout, or of a printer with its current correction."""
    profile = None
    if request.args.get("profile"):
        try:
            profile = lab.get_profile(db.session, request.args["profile"], current_actor())
        except NotFound:
            abort(404)
    layout = profile.layout if profile else request.args.get("layout", "a4-3x8")
    if layout not in LAYOUTS:
        abort(404)
    pdf = lab.test_page(layout, profile)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=test-page-{layout}.pdf"},
    )

"""The phone-first scan page, the scan box for handheld scanners, label sheets, calibration."""

from __future__ import annotations

import secrets
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
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from inventory import ledger
from inventory.counts import shows_book
from inventory.models import ASSET_STATUSES, EDITABLE_COUNT_STATUSES, Count, Item
from labels import services as lab
from labels.pdf import LAYOUTS
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.models import Unit, User
from readiness.pages import int_or_none
from readiness.params import int_arg
from readiness.permissions import can, in_scope, same_bureau

bp = Blueprint("labels", __name__)

LAYOUT_LABELS = {
    "a4-3x8": "A4 3×8 (70×37 mm)",
    "a4-2x5": "A4 2×5 (105×59 mm)",
    "thermal-50x30": "50×30 mm",
}


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
    )


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
            flash(
                _("已登记，{item} 现有 {balance} {uom}。").format(
                    item=found.item.name, balance=result.balance, uom=found.item.uom
                ),
                "success",
            )
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
    return render_template(
        "labels/scan_box.html",
        count=count,
        lines=lines,
        shows_book=count is None or shows_book(count),
    )


# ---------------------------------------------------------------- printing


def _print_units() -> list[tuple[Unit, int]]:
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    return [(u, d) for u, d in core.unit_tree(db.session, roots) if u.is_active]


@bp.route("/labels", methods=["GET", "POST"])
@permission("labels.print")
def print_labels():
    """Choose what to print and on which sheet; the PDF downloads."""
    units = _print_units()
    items = db.session.scalars(select(Item).where(Item.is_active).order_by(Item.code)).all()
    error = None
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        try:
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
            pdf = lab.sheet_pdf(
                db.session,
                targets,
                request.form.get("layout", ""),
                skip=int_or_none(request.form.get("skip")) or 0,
                base_url=current_app.config["BASE_URL"],
            )
        except DomainError as err:
            db.session.rollback()
            error = err.message
        else:
            db.session.commit()
            return Response(
                pdf,
                mimetype="application/pdf",
                headers={"Content-Disposition": f"attachment; filename=labels-{unit.code}.pdf"},
            )
    return render_template(
        "labels/print.html",
        units=units,
        items=items,
        layouts=LAYOUT_LABELS,
        categories=sorted({i.category for i in items}),
        form=ConfirmForm(),
        error=error,
        chosen=request.form,
    )


@bp.route("/labels/calibration", methods=["GET", "POST"])
@permission("labels.print")
def calibration():
    """Shift a layout on the page once, so a misaligned printer is fixed for good."""
    errors: dict[str, str] = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        layout = request.form.get("layout", "")
        try:
            lab.set_calibration(
                db.session,
                layout,
                request.form.get("offset_x_mm", ""),
                request.form.get("offset_y_mm", ""),
                actor=current_actor(),
            )
        except DomainError as err:
            db.session.rollback()
            errors[layout] = err.message
        else:
            db.session.commit()
            flash(_("已保存 {layout} 的打印偏移。").format(layout=LAYOUT_LABELS[layout]), "success")
            return redirect(url_for("labels.calibration"))
    current = {name: lab.calibration(db.session, name) for name in LAYOUTS}
    return render_template(
        "labels/calibration.html",
        layouts=LAYOUT_LABELS,
        current=current,
        errors=errors,
        form=ConfirmForm(),
    )

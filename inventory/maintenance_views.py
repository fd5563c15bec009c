"""Pages for maintenance and function tests: what is due, a piece's history with the form
to record a service, a test or a repair, and the items' intervals."""

from __future__ import annotations

import io
import secrets
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from inventory import maintenance
from inventory.models import (
    ASSET_STATUSES,
    MAINTENANCE_KINDS,
    MAINTENANCE_RESULTS,
    Asset,
    Item,
    MaintenanceRecord,
)
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.permissions import can, in_scope

bp = Blueprint("maintenance", __name__)

FIELDS = ("kind", "done_on", "result", "readings", "note", "vendor", "sent_on", "cost")


@bp.route("/maintenance")
@permission("stock.view")
def due():
    """Services and function tests due in the next two weeks, overdue first."""
    actor = current_actor()
    rows = maintenance.due_rows(db.session, core.visible_unit_ids(db.session, actor))
    return render_template(
        "inventory/maintenance.html",
        rows=rows,
        overdue=sum(1 for d in rows if d.overdue),
        may_set_intervals=can(db.session, actor, "items.manage"),
        statuses=ASSET_STATUSES,
    )


def _asset_in_reach(asset_id: int) -> Asset:
    asset = db.session.get(Asset, asset_id)
    if asset is None:
        abort(404)
    if asset.unit_id is not None and not in_scope(db.session, current_actor(), asset.unit_id):
        abort(403)
    return asset


@bp.route("/maintenance/assets/<int:asset_id>", methods=["GET", "POST"])
@permission("stock.view")
def asset(asset_id: int):
    """A piece's services, tests and repairs, and the form to record one."""
    piece = _asset_in_reach(asset_id)
    actor = current_actor()
    may_record = piece.unit_id is not None and can(db.session, actor, "stock.write", piece.unit_id)
    error = field = None
    values = {"kind": request.args.get("kind", "function_test"), "result": "pass"}
    if request.method == "POST":
        if not may_record:
            abort(403)
        values = {k: request.form.get(k, "") for k in FIELDS}
        if ConfirmForm().validate_on_submit():
            upload = request.files.get("photo")
            limit = int(current_app.config["ATTACHMENT_MAX_BYTES"])
            photo = (upload.filename or "", upload.stream.read(limit + 1)) if upload else None
            try:
                entry = maintenance.record(
                    db.session,
                    piece,
                    request_key=request.form.get("request_key") or None,
                    actor=actor,
                    photo=photo,
                    storage_dir=storage_dir(),
                    max_bytes=limit,
                    **values,
                )
            except DomainError as err:
                db.session.rollback()
                error, field = err.message, err.field
            else:
                db.session.commit()
                message = _("已记录 {kind}：{result}。").format(
                    kind=MAINTENANCE_KINDS[entry.kind], result=MAINTENANCE_RESULTS[entry.result]
                )
                if piece.status == "out_of_service":
                    message += " " + _("该设备已停用，不计入在库数量，修好后请记录维修结果。")
                flash(message, "success" if entry.result == "pass" else "warning")
                return redirect(url_for("maintenance.asset", asset_id=piece.id))
    return render_template(
        "inventory/maintenance_asset.html",
        piece=piece,
        records=maintenance.history(db.session, piece),
        due=maintenance.due_rows(db.session, None, only_due=False, piece=piece),
        may_record=may_record,
        kinds=MAINTENANCE_KINDS,
        results=MAINTENANCE_RESULTS,
        statuses=ASSET_STATUSES,
        values=values,
        error=error,
        field=field,
        today=date.today().isoformat(),
        request_key=secrets.token_urlsafe(16),
        form=ConfirmForm(),
    )


@bp.route("/maintenance/records/<int:record_id>/photo")
@permission("stock.view")
def photo(record_id: int):
    """A record's photo, to whoever may see the piece's unit."""
    entry = db.session.get(MaintenanceRecord, record_id)
    if entry is None or entry.photo_sha256 is None:
        abort(404)
    if not in_scope(db.session, current_actor(), entry.unit_id):
        abort(403)
    path = maintenance.photo_path(storage_dir(), entry)
    if not path.is_file():
        current_app.logger.error("maintenance photo %s: file %s is missing", entry.id, path)
        abort(404)
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=entry.photo_type,
        download_name=entry.photo_name or "photo",
        etag=entry.photo_sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response


@bp.route("/maintenance/intervals", methods=["GET", "POST"])
@permission("items.manage")
def intervals():
    """The service and function-test interval of each serial item."""
    items = db.session.scalars(
        select(Item).where(Item.tracking == "serial").order_by(Item.code)
    ).all()
    errors: dict[str, str] = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        item = next((i for i in items if i.code == request.form.get("item")), None)
        if item is None:
            abort(404)
        try:
            maintenance.set_intervals(
                db.session,
                item,
                request.form.get("service_interval_days", ""),
                request.form.get("test_interval_days", ""),
                actor=current_actor(),
            )
        except DomainError as err:
            db.session.rollback()
            errors[item.code] = err.message
        else:
            db.session.commit()
            flash(_("已保存 {item} 的周期。").format(item=item.shown_name), "success")
            return redirect(url_for("maintenance.intervals"))
    return render_template(
        "inventory/maintenance_intervals.html", items=items, errors=errors, form=ConfirmForm()
    )

"""What the phone's scan page talks to (issue 19): look a code up, act on it (count, issue,
receive, a serial piece's actions), undo, the unit's labels for offline use, a stocktake's
progress, and the service worker and manifest that make the scan page an installable,
offline-capable app.

Page routes of the ``labels`` blueprint, signed in by the page session. A POST takes JSON and
the CSRF token in the ``X-CSRFToken`` header; every answer is JSON, a refusal a 4xx in the
API's error shape (``{"error": {"code", "message", "field"}}``), so the phone's outbox can
tell a final refusal (4xx: shown with its reason) from a failure to retry (network, 5xx).
An action carries the ``request_key`` made on the phone at the tap and ``device_at``, the
phone's clock then: sent twice, it is recorded once.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app, flash, jsonify, redirect, request, send_file, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from labels import scanning
from labels import services as lab
from labels.views import bp
from readiness.auth import PUBLIC, current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import db
from readiness.forms import ConfirmForm

STATIC = Path(__file__).resolve().parent.parent / "static"


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DomainError(_("请求内容必须是 JSON 对象。"))
    return body


@bp.route("/scan/lookup/<code>")
@permission("stock.view")
def scan_lookup(code: str):
    """What a scanned code is, and what this user may do with it."""
    found = scanning.found_for(db.session, code, current_actor())
    return jsonify(scanning.describe(db.session, found, current_actor()))


@bp.route("/scan/act", methods=["POST"])
@permission("stock.view")
def scan_act():
    """Count, issue or receive the scanned position, or act on the scanned serial piece."""
    body = _body()
    result = scanning.act(
        db.session,
        body.get("code"),
        body.get("action"),
        body.get("qty"),
        request_key=body.get("request_key"),
        device_at=body.get("device_at"),
        count_id=body.get("count"),
        actor=current_actor(),
    )
    db.session.commit()
    return jsonify(result.as_json())


@bp.route("/scan/undo", methods=["POST"])
@permission("stock.write")
def scan_undo():
    """Undo an issue or receipt recorded by the same user less than a minute ago. The scan
    page's script posts JSON; the label page's undo button posts a form and comes back."""
    if not request.is_json:
        return _undo_form()
    body = _body()
    total, message = scanning.undo(db.session, body.get("request_key"), actor=current_actor())
    db.session.commit()
    return jsonify({"result": "undone", "message": message, "unit_total": total})


def _undo_form():
    back = request.form.get("code", "")
    if ConfirmForm().validate_on_submit():
        try:
            _total, message = scanning.undo(
                db.session, request.form.get("request_key"), actor=current_actor()
            )
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            session.pop("undo", None)
            flash(message, "success")
    if back:
        return redirect(url_for("labels.scan", code=lab.normalize_code(back)))
    return redirect(url_for("labels.scan_box"))


@bp.route("/scan/offline.json")
@permission("stock.view")
def scan_offline():
    """The labels of a unit (default: the user's own), for scanning without network."""
    pack = scanning.offline_pack(db.session, request.args.get("unit"), current_actor())
    response = jsonify(pack)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/scan/count/<int:count_id>/progress.json")
@permission("stock.view")
def scan_count_progress(count_id: int):
    """A stocktake's positions, counted or not, for the phone's scan-counting session."""
    progress = scanning.count_progress(db.session, count_id, current_actor())
    progress["submit_url"] = url_for("labels.scan_count_submit", count_id=count_id)
    progress["page"] = url_for("inventory.count_detail", count_id=count_id)
    return jsonify(progress)


@bp.route("/scan/count/start", methods=["POST"])
@permission("counts.write")
def scan_count_start():
    """Start a stocktake of a unit from the phone (form field ``unit``, default the user's
    own) and go on scanning into it; a running one is continued."""
    if not ConfirmForm().validate_on_submit():
        flash(_("表单已过期，请重试。"), "error")
        return redirect(url_for("labels.scan_box"))
    try:
        count = scanning.start(db.session, request.form.get("unit"), actor=current_actor())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("labels.scan_box"))
    db.session.commit()
    flash(
        _("盘点第 {id} 号进行中：逐个扫描货位标签并填写实盘数量。").format(id=count.id), "success"
    )
    return redirect(url_for("labels.scan_box", count=count.id))


@bp.route("/scan/count/<int:count_id>/submit", methods=["POST"])
@permission("counts.write")
def scan_count_submit(count_id: int):
    """Hand a stocktake counted by scanning over for approval (the desktop's rules: every
    position with stock counted or marked not counted). A form post returns to the scan
    page; a JSON post gets JSON."""
    try:
        count = scanning.submit(db.session, count_id, actor=current_actor())
    except DomainError as err:
        db.session.rollback()
        if request.is_json or isinstance(err, NotFound | PermissionDenied):
            raise
        flash(err.message, "error")
        return redirect(url_for("labels.scan_box", count=count_id))
    db.session.commit()
    message = _("盘点第 {id} 号已提交审批。").format(id=count.id)
    if request.is_json:
        return jsonify({"result": "submitted", "message": message, "count": count.id})
    flash(message, "success")
    return redirect(url_for("inventory.count_detail", count_id=count.id))


def _static_file(name: str, mimetype: str):
    response = send_file(STATIC / name, mimetype=mimetype, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/sw.js")
@permission(PUBLIC)
def service_worker():
    """The service worker, served from the site's root so that it may serve every page."""
    response = _static_file("sw.js", "text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/manifest.webmanifest")
@permission(PUBLIC)
def manifest():
    """The installable app's manifest (name, icons, start page), in the user's language."""
    icons = [
        {
            "src": url_for("static", filename=f"icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in (192, 512)
    ]
    body = {
        "name": _("应急装备战备管理"),
        "short_name": _("战备扫码"),
        "description": _("扫描物资标签：盘点、出库、入库，断网也能用。"),
        "lang": "zh-CN" if str(get_locale()).startswith("zh") else "en",
        "start_url": url_for("labels.scan_box"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": "#a4262c",
        "background_color": "#f4f6f8",
        "icons": icons,
    }
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response

"""Page wiring: blueprints, navigation, error pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from readiness.api import error_response
from readiness.auth import current_actor, is_api_request, wants_json
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.models import LANGUAGES
from readiness.permissions import can
from readiness.text import find_unsafe, refuse_unsafe_on_flush, unsafe_message

# (endpoint, label, permission) of the main menu, every package's pages in the order shown;
# an entry appears only to roles holding its permission.
NAV: list[tuple[str, object, str]] = [
    ("main.home", _l("首页"), "home.view"),
    ("inventory.stock_index", _l("库存"), "stock.view"),
    ("inventory.counts", _l("盘库"), "stock.view"),
    ("maintenance.due", _l("保养试机"), "stock.view"),
    ("rounds.index", _l("库区排查"), "stock.view"),
    ("preseason.index", _l("汛前检查"), "stock.view"),
    ("labels.scan_box", _l("扫码"), "stock.view"),
    ("labels.print_labels", _l("标签"), "labels.print"),
    ("inventory.shortfall_report", _l("缺口"), "reports.view"),
    ("funding.purchases_index", _l("购置"), "purchases.view"),
    ("funding.decisions_index", _l("集体决策"), "decisions.view"),
    ("funding.funds", _l("储备金"), "funds.view"),
    ("funding.deliveries", _l("待到货"), "stock.write"),
    ("allocations.index", _l("调拨"), "allocations.view"),
    ("drills.index", _l("演练"), "drills.view"),
    ("drills.actions", _l("整改"), "drills.view"),
    ("rectification.visits", _l("督察检查"), "visits.view"),
    ("rectification_reports.rectification_list", _l("整改清单"), "drills.view"),
    ("ranking.index", _l("排名通报"), "ranking.view"),
    ("drills.training", _l("培训持证"), "drills.view"),
    ("shelters.coverage", _l("避灾安置"), "shelters.view"),
    ("subsidies.index", _l("避灾补助"), "subsidies.view"),
    ("inventory.standard", _l("标准"), "standard.view"),
    ("inventory.items", _l("物资"), "items.view"),
    ("admin.units", _l("单位"), "units.view"),
    ("admin.users", _l("用户"), "users.view"),
    ("audit.index", _l("审计日志"), "audit.view"),
]

ERROR_TEXT = {
    400: _l("请求有误。"),
    401: _l("请先登录。"),
    403: _l("您无权访问此页面。"),
    404: _l("找不到该页面或记录。"),
    405: _l("不支持该请求方式。"),
    409: _l("操作与当前状态冲突。"),
    413: _l("上传的内容太大。"),
    422: _l("提交的内容有误。"),
    429: _l("请求过于频繁，请稍后再试。"),
    500: _l("系统出错了，请稍后再试；如果反复出现，请联系系统管理员。"),
}


def nav_items():
    actor = current_actor()
    if actor is None:
        return []
    return [(ep, label) for ep, label, perm in NAV if can(db.session, actor, perm)]


def actor_can(permission_name: str, unit=None) -> bool:
    """In templates: may the signed-in user do this (on this unit)?"""
    actor = current_actor()
    return actor is not None and can(db.session, actor, permission_name, unit)


def _error(status: int, message: str | None = None):
    text = message or str(ERROR_TEXT.get(status, ERROR_TEXT[500]))
    if wants_json():
        return error_response(status, text)
    return render_template("error.html", status=status, message=text), status


def refuse_unsafe_request() -> None:
    """Answer 422 naming the parameter when the query string or a path part holds a bad character.

    They reach queries directly (PostgreSQL raises on NUL). Posted values are left to the
    forms, which name the field and keep what was typed; a view that reads the raw form
    meets the check on flush instead, as a rule refusal it already shows on its page.
    """
    for source in (request.view_args or {}, request.args.to_dict(flat=False)):
        found = find_unsafe(source)
        if found is not None:
            name, char = found
            name = name.split("[", 1)[0]
            raise DomainError(unsafe_message(name, char), field=name)


def _nul_refused(context) -> None:
    # PostgreSQL cannot hold NUL even in a query parameter; psycopg refuses it before sending,
    # so nothing was written. Whatever path it came by, the user is told instead of a 500.
    if isinstance(context.sqlalchemy_exception, DataError) and "NUL" in str(
        context.original_exception
    ):
        raise DomainError(unsafe_message(_("请求"), "\x00"))


def init_app(app: Flask) -> None:
    from readiness import admin_views, audit_views, views

    app.register_blueprint(views.main)
    app.register_blueprint(views.auth)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(audit_views.bp)
    app.add_template_global(actor_can)

    @app.context_processor
    def inject():
        locale = str(get_locale() or "zh")
        return {
            "actor": current_actor(),
            "nav_items": nav_items(),
            "languages": LANGUAGES,
            "locale": locale,
            "html_lang": "zh-CN" if locale.startswith("zh") else "en",
        }

    app.before_request(refuse_unsafe_request)
    if not event.contains(Session, "before_flush", refuse_unsafe_on_flush):
        event.listen(Session, "before_flush", refuse_unsafe_on_flush)
    if not event.contains(Engine, "handle_error", _nul_refused):
        event.listen(Engine, "handle_error", _nul_refused)

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        if wants_json():
            return error_response(err.status, err.message, err.code, err.field)
        return _error(err.status, err.message)

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        if is_api_request():
            return _error(400, str(err.description))
        if wants_json():
            return error_response(
                400, _("页面已过期，请刷新页面后重试；未做任何修改。"), "csrf_error"
            )
        flash(_("表单已过期或来源无效，未做任何修改。请重新填写后提交。"), "error")
        back = urlsplit(request.referrer or "")
        if back.netloc == request.host and back.path:
            return redirect(back.path + (f"?{back.query}" if back.query else ""))
        return _error(400, _("表单已过期或来源无效，未做任何修改。请重新填写后提交。"))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return _error(err.code or 500)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return _error(500)

"""Who is asking, and may they: route rules, sessions, bearer tokens.

Every route declares a permission with ``@permission("…")`` (or ``@permission(PUBLIC)``).
One ``before_request`` hook checks it for pages and API alike; a route without a
rule answers 403 to everyone, so forgetting a rule fails closed (and fails the
route × role test).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from readiness import services
from readiness.errors import PermissionDenied
from readiness.extensions import db, login_manager
from readiness.permissions import PERMISSIONS, can

PUBLIC = "public"
# What someone who must first change the password an administrator set may still open.
PASSWORD_CHANGE_ALLOWS = frozenset({"auth.change_password", "auth.logout", "main.language"})
API_PREFIX = "/api/"


def permission(name: str) -> Callable:
    """Declare what a route needs; checked before the view runs."""
    if name != PUBLIC and name not in PERMISSIONS:
        raise KeyError(f"unknown permission {name!r}")

    def decorate(view: Callable) -> Callable:
        view.permission = name
        return view

    return decorate


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def wants_json() -> bool:
    """The API, or a page's script that posts JSON or asks for it (the phone's scan page):
    refusals in the API's error shape, not an HTML page or a redirect to sign in."""
    if is_api_request() or request.is_json:
        return True
    return request.accept_mimetypes.best == "application/json"


def current_actor():
    """The signed-in user (page session or API token), or None."""
    if "actor" not in g:
        if is_api_request():
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else ""
            g.actor = services.user_for_token(db.session, token) if token else None
        else:
            g.actor = current_user._get_current_object() if current_user.is_authenticated else None
        # Read now: after a failed flush the user's attributes are expired and cannot be
        # loaded again, yet the refusal still has to be worded in their language.
        g.actor_language = getattr(g.actor, "language", None)
    return g.actor


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _enforce_route_permission():
    if request.endpoint is None or request.endpoint == "static":
        return None
    rule = getattr(current_app.view_functions[request.endpoint], "permission", None)
    if rule is None:
        abort(403)
    if rule == PUBLIC:
        return None
    actor = current_actor()
    if actor is None:
        if wants_json():
            abort(401)
        flash(_("请先登录。"), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if actor.must_change_password and request.endpoint not in PASSWORD_CHANGE_ALLOWS:
        # An administrator chose this password: nothing else until the owner picks theirs.
        if is_api_request():
            raise PermissionDenied(_("请先登录网页修改管理员设置的初始密码。"))
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.change_password", next=safe_next(wanted)))
    if not can(db.session, actor, rule):
        abort(403)
    return None


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        return services.user_for_session_id(db.session, session_id)

    @login_manager.unauthorized_handler
    def unauthorized():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    app.before_request(_enforce_route_permission)

"""JSON API under /api/v1: bearer tokens, one error shape, the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _

from readiness import openapi, services
from readiness.auth import PUBLIC, current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import csrf, db
from readiness.models import Unit
from readiness.permissions import in_scope, unit_ids_below
from readiness.text import find_unsafe, unsafe_message

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "server_error",
}


def error_response(status: int, message: str, code: str | None = None, field: str | None = None):
    body: dict[str, Any] = {"code": code or ERROR_CODES.get(status, "error"), "message": message}
    if field:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="readiness"'
    return response


# No body of this API nests deeper than a few levels; the checks that walk a body recurse.
MAX_JSON_DEPTH = 32


def _depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (walked without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                todo.extend(
                    (v, level + 1) for v in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400/422 DomainError."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None  # nested deeper than the parser goes: as unreadable as broken JSON
    if data is None:
        raise BadRequest(_("请求体必须是 JSON 对象。"))
    if not isinstance(data, dict):
        raise DomainError(_("请求体必须是 JSON 对象。"))
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(_("请求体的 JSON 嵌套超过 {limit} 层。").format(limit=MAX_JSON_DEPTH))
    # A lone surrogate ("\ud800") parses but can be neither stored nor sent back, and a NUL
    # breaks PostgreSQL: the whole body is checked before anything is written.
    found = find_unsafe(data)
    if found is not None:
        path, char = found
        raise DomainError(unsafe_message(path, char), field=path)
    return data


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


def field(data: dict, name: str, kind: type | tuple, *, required: bool = True, default=None):
    """One value from a JSON body, type-checked; bools are never accepted as numbers."""
    if name not in data or data[name] is None:
        if required:
            raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
        return default
    value = data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    if not isinstance(value, kinds):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    return value


def date_field(value, name: str) -> date | None:
    """A date from a JSON body or query string (YYYY-MM-DD); None when absent or empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(
            _("{name} 必须是 YYYY-MM-DD 格式的日期。").format(name=name), field=name
        ) from None


def unit_field(code, name: str = "unit") -> Unit:
    """The unit a body or query string names by code; a refusal names the field."""
    if not isinstance(code, str) or not code:
        raise DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    try:
        return services.get_unit(db.session, code)
    except NotFound as err:
        raise DomainError(err.message, field=name) from None


def report_scope(unit_code: str | None) -> set[int] | None:
    """The unit ids a report covers: the named unit and those below it (within the caller's
    reach), or everything the caller may see (None: the whole area)."""
    actor = current_actor()
    if unit_code:
        unit = services.get_unit(db.session, unit_code)
        if not in_scope(db.session, actor, unit):
            raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
        return unit_ids_below(db.session, unit.id)
    return services.visible_unit_ids(db.session, actor)


REPORT_FORMATS = ("json", "csv", "xlsx", "pdf")


def report_format() -> str:
    """``?format=`` of a report endpoint: json (the default), csv, xlsx or pdf."""
    fmt = request.args.get("format", "json")
    if fmt not in REPORT_FORMATS:
        raise BadRequest(_("format 只能是 json、csv、xlsx 或 pdf。"))
    return fmt


def unit_json(unit: Unit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "parent": unit.parent.code if unit.parent else None,
        "headcount": unit.headcount,
        "is_active": unit.is_active,
    }


@bp.route("/openapi.json")
@permission(PUBLIC)
def openapi_json():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi.document())


@bp.route("/me")
@permission("home.view")
def me():
    """Who the token belongs to."""
    actor = current_actor()
    return jsonify(
        {
            "username": actor.username,
            "name": actor.name,
            "role": actor.role,
            "unit": actor.unit.code if actor.unit else None,
            "language": actor.language,
        }
    )


@bp.route("/units", methods=["GET"])
@permission("units.view")
def list_units():
    """Units the caller may see, in tree order."""
    actor = current_actor()
    visible = services.visible_unit_ids(db.session, actor)
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    return jsonify({"units": [unit_json(u) for u, _depth in services.unit_tree(db.session, roots)]})


@bp.route("/units/<code>", methods=["GET"])
@permission("units.view")
def get_unit(code: str):
    """One unit."""
    unit = services.get_unit(db.session, code)
    if not in_scope(db.session, current_actor(), unit):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return jsonify(unit_json(unit))


@bp.route("/units", methods=["POST"])
@permission("units.manage")
def create_unit():
    """Add a unit (administrators)."""
    data = json_body()
    parent_code = field(data, "parent", str, required=False)
    parent = None
    if parent_code:
        try:
            parent = services.get_unit(db.session, parent_code)
        except DomainError:
            raise DomainError(
                _("上级单位代码 {code} 不存在。").format(code=parent_code), field="parent"
            ) from None
    unit = services.create_unit(
        db.session,
        code=field(data, "code", str),
        name=field(data, "name", str),
        kind=field(data, "kind", str),
        parent=parent,
        headcount=field(data, "headcount", int, required=False, default=0),
        actor=current_actor(),
    )
    db.session.commit()
    return jsonify(unit_json(unit)), 201


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

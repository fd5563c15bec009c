"""JSON API under /api/v1: bearer tokens, one error shape, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import partial, wraps
from typing import Annotated, Any

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from pydantic import BeforeValidator, Field, WithJsonSchema
from spectree import Response

from readiness import openapi, paging, services
from readiness.auth import PUBLIC, current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.exports import XLSX_MIMETYPE
from readiness.extensions import csrf, db
from readiness.models import Unit
from readiness.openapi import Answer, Body, Error, OptionalCode, Query, spec
from readiness.paging import Paged, PagedAnswer
from readiness.params import whole_number
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
# What a report endpoint sends besides JSON (declared with operation(files=...)).
REPORT_FILES = ("text/csv", XLSX_MIMETYPE, "application/pdf")


def report_format(fmt: str | None = None) -> str:
    """``?format=`` of a report endpoint: json (the default), csv, xlsx or pdf."""
    if fmt is None:
        fmt = request.args.get("format", "json")
    if fmt not in REPORT_FORMATS:
        raise BadRequest(_("format 只能是 json、csv、xlsx 或 pdf。"))
    return fmt


# Query parameters, parsed by the checkers above from inside a Query model.


def _name(info) -> str:
    """The parameter's name as the client wrote it (``from_`` is sent as ``from``)."""
    return info.field_name.rstrip("_")


def _whole(raw, info, *, low: int, high: int):
    if raw is None or isinstance(raw, int):
        return raw
    return whole_number(raw, _name(info), low, high)


def Whole(low: int, high: int):
    """A whole number from the query string in low..high; ``readiness.params`` refuses the
    rest with its 400 naming the parameter."""
    return Annotated[
        int | None,
        BeforeValidator(partial(_whole, low=low, high=high)),
        WithJsonSchema({"type": "integer", "minimum": low, "maximum": high}),
    ]


def _day(raw, info):
    return date_field(raw, _name(info)) if not isinstance(raw, date) else raw


# A date from the query string (YYYY-MM-DD); refused by readiness.api.date_field.
Day = Annotated[
    date | None,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def _report_format(raw, info):
    return report_format(raw)


# ``?format=`` of a report: json (default), csv, xlsx or pdf; others are a 400.
ReportFormat = Annotated[
    str,
    BeforeValidator(_report_format),
    WithJsonSchema({"type": "string", "enum": list(REPORT_FORMATS), "default": "json"}),
]


_ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid token",
    403: "Not allowed for this role or unit",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Too large",
    422: "Invalid input",
}


def operation(
    *,
    json: type[Body] | None = None,
    query: type[Query] | None = None,
    answers: dict[int, Any] | None = None,
    errors: Iterable[int] = (401, 403),
    files: Iterable[str] = (),
    public: bool = False,
    optional_body: bool = False,
) -> Callable:
    """Declare an API operation: its body and query models, its answer models by status,
    the refusals it can give, and the file types it can send besides JSON."""
    codes: dict[str, Any] = {f"HTTP_{s}": model for s, model in (answers or {200: None}).items()}
    for status in errors:
        codes[f"HTTP_{status}"] = (Error, _ERROR_TEXT[status])

    def decorate(view: Callable) -> Callable:
        validated = spec.validate(
            json=json,
            query=query,
            resp=Response(**codes),
            security={} if public else None,
        )(view)

        @wraps(validated)
        def guarded(*args, **kwargs):
            # Our own checks of the body come first: not JSON, not an object, too deep,
            # characters no database stores: 400/422 as before, never spectree's answer.
            if json is not None and not (optional_body and not request.get_data()):
                json_body()
            return validated(*args, **kwargs)

        guarded.api_files = tuple(files)
        guarded.api_optional_body = optional_body
        return guarded

    return decorate


class UnitAnswer(Answer):
    code: str
    name: str
    kind: str
    parent: OptionalCode
    headcount: int
    is_active: bool


class UnitList(PagedAnswer):
    units: list[UnitAnswer]


class MeAnswer(Answer):
    username: str
    name: str
    role: str
    unit: OptionalCode
    language: str


class NewUnit(Body):
    # The rules are the service's (its messages name the field); the document shows them.
    code: str = Field(json_schema_extra={"pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"})
    name: str = Field(json_schema_extra={"minLength": 1, "maxLength": 100})
    kind: str
    parent: str | None = None
    headcount: int = Field(default=0, json_schema_extra={"minimum": 0})


@bp.route("/openapi.json")
@permission(PUBLIC)
@operation(public=True, errors=())
def openapi_json():
    """This document"""
    return jsonify(openapi.document())


@bp.route("/me")
@permission("home.view")
@operation(answers={200: MeAnswer}, errors=(401,))
def me():
    """The caller: the user the token belongs to"""
    return MeAnswer.model_validate(current_actor())


@bp.route("/units", methods=["GET"])
@permission("units.view")
@operation(query=Paged, answers={200: UnitList}, errors=(401,))
def list_units(query: Paged):
    """Units the caller may see, in tree order, a page at a time"""
    actor = current_actor()
    visible = services.visible_unit_ids(db.session, actor)
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    units, next_cursor = paging.page_of_rows(
        _tree_paths(services.unit_tree(db.session, roots)),
        UNIT_ORDER,
        lambda row: (row[0],),
        query.limit,
        query.cursor,
    )
    return UnitList(units=[u for _path, u in units], next_cursor=next_cursor)


# Tree order is the order of each unit's path of codes from its root (siblings by code).
UNIT_ORDER = paging.Order("units", paging.Key(tuple))


def _tree_paths(tree: list[tuple[Unit, int]]) -> list[tuple[tuple[str, ...], Unit]]:
    """Each unit of a tree listing with its path of codes from the top."""
    out: list[tuple[tuple[str, ...], Unit]] = []
    above: list[str] = []
    for unit, depth in tree:
        above[depth:] = [unit.code]
        out.append((tuple(above), unit))
    return out


@bp.route("/units/<code>", methods=["GET"])
@permission("units.view")
@operation(answers={200: UnitAnswer}, errors=(401, 403, 404))
def get_unit(code: str):
    """One unit"""
    unit = services.get_unit(db.session, code)
    if not in_scope(db.session, current_actor(), unit):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return UnitAnswer.model_validate(unit)


@bp.route("/units", methods=["POST"])
@permission("units.manage")
@operation(json=NewUnit, answers={201: UnitAnswer}, errors=(400, 401, 403, 409))
def create_unit(json: NewUnit):
    """Create a unit (administrators)"""
    parent = None
    if json.parent:
        try:
            parent = services.get_unit(db.session, json.parent)
        except DomainError:
            raise DomainError(
                _("上级单位代码 {code} 不存在。").format(code=json.parent), field="parent"
            ) from None
    unit = services.create_unit(
        db.session,
        code=json.code,
        name=json.name,
        kind=json.kind,
        parent=parent,
        headcount=json.headcount,
        actor=current_actor(),
    )
    db.session.commit()
    return UnitAnswer.model_validate(unit), 201


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

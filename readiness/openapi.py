"""Each API shape declared once, as a pydantic model, and read three ways by spectree: it
validates the request against the model, serialises the answer through the model, and writes
/api/v1/openapi.json from the models and the routes.

A view declares its shapes with :func:`operation` under ``@permission`` (the permission is
checked first, then the body), takes its validated input as ``json`` and ``query`` arguments
and returns an :class:`Answer` (or ``(answer, status)``); a file download returns a Flask
response as before. Our refusals stay ours: a body that is not a JSON object, too deep or
carrying characters the database cannot store is refused by ``readiness.api.json_body``
before spectree reads it, and a value of the wrong type becomes the same DomainError
(``{"error": {"code", "message", "field"}}``, 422) that the hand-written checks gave. Query
parameters are checked by the core parsers (``readiness.params``, ``readiness.api``) from
inside the model (see ``Whole``, ``Day``), so their messages and statuses are unchanged.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from flask import current_app, make_response
from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.plugins.werkzeug_utils import flask_response_unpack

from readiness.errors import DomainError

PREFIX = "/api/v1"


class Body(BaseModel):
    """A request body. Strict: no number is taken from a string or a boolean, no text from a
    number (as the hand-written checks did); fields the model does not name are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class Query(BaseModel):
    """Query parameters: strings, each parsed by a core checker (see ``Whole``, ``Day``).
    A parameter given twice counts with its first value, as ``request.args.get`` reads it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _first_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v[0] if isinstance(v, list) and v else v for k, v in data.items()}
        return data


class Answer(BaseModel):
    """An answer. Built from an ORM object's attributes or from keyword values."""

    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True, populate_by_name=True)


class ErrorDetail(Answer):
    code: str
    message: str
    field: str | None = None


class Error(Answer):
    """Every refusal: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


def code_of(value: Any) -> Any:
    """An ORM row's ``code`` (a unit, an item, a lot …), or the value itself."""
    return getattr(value, "code", value)


# A unit, item or lot named by its code in an answer (None stays None).
Code = Annotated[str, BeforeValidator(code_of)]
OptionalCode = Annotated[str | None, BeforeValidator(code_of)]
# A date in a body, as text (YYYY-MM-DD): the view parses it with readiness.api.date_field,
# whose refusal names the field.
DateText = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
OptionalDateText = Annotated[
    str | None, WithJsonSchema({"type": ["string", "null"], "format": "date"})
]
# A date in an answer: ISO text (YYYY-MM-DD).
IsoDate = Annotated[date, WithJsonSchema({"type": "string", "format": "date"})]
OptionalIsoDate = Annotated[
    date | None, WithJsonSchema({"type": ["string", "null"], "format": "date"})
]


def _isoformat(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


# A moment in an answer, written exactly as ``datetime.isoformat()`` ("+00:00", not "Z").
IsoDateTime = Annotated[
    str, BeforeValidator(_isoformat), WithJsonSchema({"type": "string", "format": "date-time"})
]
OptionalIsoDateTime = Annotated[
    str | None,
    BeforeValidator(_isoformat),
    WithJsonSchema({"type": ["string", "null"], "format": "date-time"}),
]
# Money and quantities kept exact: a Decimal written as its text ("12.50"), or as a float.
DecimalText = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, Decimal) else v)]
Number = Annotated[float, BeforeValidator(lambda v: float(v) if isinstance(v, Decimal) else v)]


def Rows(model: type[BaseModel], *, nullable: bool = False, max_items: int | None = None):
    """A list of objects the view checks row by row, so that a refusal names the row or the
    row's own field as it always has; the document shows each row as ``model``."""
    schema: dict[str, Any] = {"type": ["array", "null"] if nullable else "array"}
    schema["items"] = model.model_json_schema()
    if max_items is not None:
        schema["maxItems"] = max_items
    return Annotated[list[Any] | None if nullable else list[Any], WithJsonSchema(schema)]


def Described(kind: Any, model: type[BaseModel]):
    """``kind`` as validated (the view checks the inside), documented as ``model``."""
    return Annotated[kind, WithJsonSchema(model.model_json_schema())]


def _first_refusal(err: ValidationError) -> DomainError:
    """The first wrong value of a body as our refusal: a missing (or null) required field, a
    value of the wrong type, or (inside a list of objects) the same prefixed by its row."""
    problem = err.errors(include_url=False)[0]
    loc = [part for part in problem["loc"] if part not in ("json", "query")]
    missing = problem["type"] == "missing" or problem.get("input", "") is None
    if not loc:
        return DomainError(_("请求体必须是 JSON 对象。"))
    name = str(loc[0])
    rows = [part for part in loc[1:] if isinstance(part, int)]
    if rows:
        inner = [part for part in loc[1:] if isinstance(part, str)]
        n = rows[0] + 1
        if not inner:
            return DomainError(_("第 {n} 行格式不正确。").format(n=n), field=name)
        text = (_("缺少字段 {name}。") if missing else _("字段 {name} 的类型不正确。")).format(
            name=inner[0]
        )
        return DomainError(_("第 {n} 行：{message}").format(n=n, message=text), field=name)
    if missing:
        return DomainError(_("缺少字段 {name}。").format(name=name), field=name)
    return DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)


def _refuse_invalid(req, resp, error, instance, adapter) -> None:
    """spectree's hook after validation: a wrong body is our 422, never spectree's own."""
    if error is not None:
        raise _first_refusal(error) from None


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, except that a response the view made itself (a file, a
    stream) is passed on untouched: only answers built from models are serialised."""

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        payload, _status, _headers = flask_response_unpack(resp)
        if self.is_app_response(payload):
            return make_response(resp), None
        return super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)


spec = SpecTree(
    "flask",
    backend=_Plugin,
    mode="strict",
    annotations=True,
    before=_refuse_invalid,
    validation_error_model=Error,
    title="Readiness API",
    version="1",
    description="Emergency equipment readiness. Authenticate with "
    "`Authorization: Bearer <token>` (a signed-in user makes one at /account/tokens, or "
    "`flask --app wsgi users token USERNAME`). "
    'Errors are `{"error": {"code", "message", "field"}}`.',
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer"))
    ],
    security={"bearer": []},
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)


def document() -> dict[str, Any]:
    """The OpenAPI document of the running app: paths relative to /api/v1, as before."""
    return copy.deepcopy(_generated())


def _generated() -> dict[str, Any]:
    """spectree's document of the declared operations (built once per app), with what it
    cannot say itself: the file types a report sends besides JSON, optional bodies."""
    app = current_app
    cached = app.extensions.get("readiness.openapi")
    if cached is not None:
        return cached
    doc = spec._generate_spec()  # spec.spec caches across apps; each app gets its own
    paths = {}
    views = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path, _params = spec.backend.parse_path(rule, None)
            for method in rule.methods:
                views[path, method.lower()] = app.view_functions[rule.endpoint]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            view = views.get((path, method))
            if "requestBody" in op and getattr(view, "api_optional_body", False):
                op["requestBody"]["required"] = False
            for key in ("description", "tags", "parameters"):
                if not op.get(key):
                    op.pop(key, None)
            if "requestBody" not in op and "parameters" not in op:
                op["responses"].pop("422", None)  # nothing the caller sends can be invalid
            ok = op["responses"].get("200")
            if ok is not None:
                for mimetype in getattr(view, "api_files", ()):
                    ok.setdefault("content", {})[mimetype] = {
                        "schema": {"type": "string", "format": "binary"}
                    }
        paths[path.removeprefix(PREFIX)] = operations
    doc["paths"] = paths
    doc["servers"] = [{"url": PREFIX}]
    if not doc.get("tags"):
        doc.pop("tags", None)
    app.extensions["readiness.openapi"] = doc
    return doc


__all__ = [
    "Answer",
    "Body",
    "Code",
    "DateText",
    "DecimalText",
    "Described",
    "Error",
    "IsoDate",
    "IsoDateTime",
    "Number",
    "OptionalCode",
    "OptionalDateText",
    "OptionalIsoDate",
    "OptionalIsoDateTime",
    "Query",
    "Rows",
    "document",
    "spec",
]

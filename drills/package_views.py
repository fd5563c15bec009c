"""The inspection package (检查资料包): a page with a preview and the downloads, and the
same package from the JSON API."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _

from drills import package as pkg
from drills import requirements as req
from drills.models import ACTION_STATUSES
from readiness import openapi
from readiness import services as core
from readiness.api import BadRequest
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.db import utcnow
from readiness.errors import DomainError, PermissionDenied
from readiness.exports import pdf_response
from readiness.extensions import csrf, db
from readiness.models import UNIT_SCOPED_ROLES, Unit
from readiness.permissions import in_scope

bp = Blueprint("drills_package", __name__)
api_bp = Blueprint("drills_package_api", __name__, url_prefix="/api/v1")
FILE_FORMATS = ("pdf", "zip")


def _default_unit(actor) -> Unit | None:
    """The user's own unit; command staff and inspectors start from the bureau."""
    if actor.role in UNIT_SCOPED_ROLES:
        return actor.unit
    roots = [u for u, depth in core.unit_tree(db.session) if depth == 0]
    for unit in roots:
        if unit.kind == "bureau" and unit.is_active:
            return unit
    return actor.unit or (roots[0] if roots else None)


def _chosen_unit(code: str | None) -> Unit:
    """The unit asked for (or the default), within the caller's reach."""
    actor = current_actor()
    unit = core.get_unit(db.session, code) if code else _default_unit(actor)
    if unit is None:
        raise DomainError(_("请选择单位。"), field="unit")
    if not in_scope(db.session, actor, unit):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return unit


def _day(raw: str | None, default: date, label: str, name: str) -> date:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(
            _("{label}必须是 YYYY-MM-DD 格式的日期，例如 2022-06-28。").format(label=label),
            field=name,
        ) from None


def _period() -> tuple[date, date]:
    """From and to of the query string; each defaults to this calendar year's bounds."""
    first, last = pkg.period_default(date.today())
    start = _day(request.args.get("from"), first, _("开始日期"), "from")
    end = _day(request.args.get("to"), last, _("结束日期"), "to")
    return start, end


def _file(data: pkg.PackageData, fmt: str) -> Response:
    """The PDF, or the ZIP holding it: always in Chinese, the language of the inspection."""
    name = pkg.package_filename(data)
    with force_locale("zh"):
        plan = pkg.zip_plan(data) if fmt == "zip" else None
        # Nothing after the PDF needs the drills: it lets them go as it lays them out.
        pdf = pkg.package_pdf(
            data,
            kinds=req.drill_kinds(db.session),
            generated_at=utcnow(),
            generated_by=current_actor(),
            release=True,
        )
        if plan is None:
            return pdf_response(name, pdf)
        content = pkg.write_zip(plan, pdf, storage_dir())
    return Response(
        content,
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={name}.zip"},
    )


@bp.route("/drills/package")
@permission("drills.view")
def package():
    """Choose a unit and a period, see what the package holds, download the PDF or the ZIP."""
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
    units = core.unit_tree(db.session, roots)
    error, data, unit = None, None, None
    start, end = pkg.period_default(date.today())
    try:
        unit = _chosen_unit(request.args.get("unit"))
        start, end = _period()
        data = pkg.package_data(db.session, unit, start, end)
    except PermissionDenied:
        abort(403)
    except DomainError as err:
        error = err.message
    if data is not None and request.args.get("format") in FILE_FORMATS:
        return _file(data, request.args["format"])
    return render_template(
        "drills/package.html",
        units=units,
        unit=unit,
        start=request.args.get("from") or start.isoformat(),
        end=request.args.get("to") or end.isoformat(),
        error=error,
        data=data,
        kinds=req.drill_kinds(db.session),
        statuses=ACTION_STATUSES,
        counts=pkg.action_counts(data.actions) if data else {},
        overdue=sum(1 for a in data.actions if pkg.is_overdue(a, data.today)) if data else 0,
        missing=pkg.missing_files(data, storage_dir()) if data else [],
        drill_counts={d.id: pkg.action_counts(pkg.drill_actions(d)) for d in data.drills}
        if data
        else {},
    )


@api_bp.route("/reports/drill-package", methods=["GET"])
@permission("drills.view")
def drill_package():
    """The inspection package of a unit for a period: JSON summary, or ?format=pdf|zip."""
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", *FILE_FORMATS):
        raise BadRequest(_("format 只能是 json、pdf 或 zip。"))
    unit = _chosen_unit(request.args.get("unit"))
    start, end = _period()
    data = pkg.package_data(db.session, unit, start, end)
    if fmt in FILE_FORMATS:
        return _file(data, fmt)
    return jsonify(
        {
            "unit": unit.code,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "drills": [
                {
                    "id": d.id,
                    "title": d.title,
                    "held_on": d.held_on.isoformat(),
                    "kind": d.kind,
                    "participants": d.participants,
                    "actions": pkg.action_counts(pkg.drill_actions(d)),
                }
                for d in data.drills
            ],
        }
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    from readiness.openapi import error_responses, json_content

    def q(name, schema=None, description=""):
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": schema or {"type": "string"},
        }

    counts = {
        "type": "object",
        "properties": {s: {"type": "integer"} for s in ACTION_STATUSES},
    }
    summary = {
        "type": "object",
        "required": ["unit", "from", "to", "drills"],
        "properties": {
            "unit": {"type": "string"},
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "drills": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "held_on", "kind", "participants", "actions"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "held_on": {"type": "string", "format": "date"},
                        "kind": {"type": "string"},
                        "participants": {"type": "integer"},
                        "actions": counts,
                    },
                },
            },
        },
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    openapi.add_paths(
        {
            "/reports/drill-package": {
                "get": {
                    "summary": "Inspection package of a unit (and the units below it) for a "
                    "period: drills held, with corrective actions per status; or the PDF, "
                    "or a ZIP of the PDF, the attachments and manifest.csv",
                    "parameters": [
                        q("unit", description="Unit code; default the caller's unit or the bureau"),
                        q("from", {"type": "string", "format": "date"}, "Default 1 January"),
                        q("to", {"type": "string", "format": "date"}, "Default 31 December"),
                        q("format", {"type": "string", "enum": ["json", "pdf", "zip"]}),
                    ],
                    "responses": {
                        "200": {
                            "description": "The summary, the PDF or the ZIP",
                            "content": {
                                **json_content(summary),
                                "application/pdf": binary,
                                "application/zip": binary,
                            },
                        },
                        **error_responses(400, 401, 403, 404, 422),
                    },
                }
            }
        }
    )

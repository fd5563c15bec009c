"""The inspection package (检查资料包): a page with a preview and the downloads, and the
same package from the JSON API."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from pydantic import Field

from drills import package as pkg
from drills import package_pdf, package_zip
from drills import requirements as req
from drills.models import ACTION_STATUSES
from readiness import services as core
from readiness.api import BadRequest, operation
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.db import utcnow
from readiness.errors import DomainError, PermissionDenied
from readiness.exports import pdf_response
from readiness.extensions import csrf, db
from readiness.models import UNIT_SCOPED_ROLES, Unit
from readiness.openapi import Answer, Code, IsoDate, Query
from readiness.params import int_arg
from readiness.permissions import in_scope

bp = Blueprint("drills_package", __name__)
api_bp = Blueprint("drills_package_api", __name__, url_prefix="/api/v1")
FILE_FORMATS = ("pdf", "zip")
OptionalText = str | None


def _default_unit(actor) -> Unit | None:
    """The user's own unit; command staff and inspectors start from the bureau."""
    # the unit read by id in this request's session, never through the signed-in user
    own = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
    if actor.role in UNIT_SCOPED_ROLES:
        return own
    roots = [u for u, depth in core.unit_tree(db.session) if depth == 0]
    for unit in roots:
        if unit.kind == "bureau" and unit.is_active:
            return unit
    return own or (roots[0] if roots else None)


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
        plan = package_zip.zip_plan(data) if fmt == "zip" else None
        # Nothing after the PDF needs the drills: it lets them go as it lays them out.
        pdf = package_pdf.package_pdf(
            data,
            kinds=req.drill_kinds(db.session),
            generated_at=utcnow(),
            generated_by=current_actor(),
            release=True,
        )
        if plan is None:
            return pdf_response(name, pdf)
        content = package_zip.write_zip(plan, pdf, storage_dir())
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
    after = int_arg("after")
    fmt = request.args.get("format")
    error, data, preview, unit = None, None, None, None
    start, end = pkg.period_default(date.today())
    try:
        unit = _chosen_unit(request.args.get("unit"))
        start, end = _period()
        if fmt in FILE_FORMATS:
            data = pkg.package_data(db.session, unit, start, end)
        else:
            # Counted in SQL, a page of drills listed: loading the whole package (every
            # action's history, every file) only to count it took over a second.
            preview = pkg.package_preview(
                db.session, unit, start, end, storage_dir=storage_dir(), after=after
            )
    except PermissionDenied:
        abort(403)
    except DomainError as err:
        error = err.message
    if data is not None:
        return _file(data, fmt)
    return render_template(
        "drills/package.html",
        units=units,
        unit=unit,
        start=request.args.get("from") or start.isoformat(),
        end=request.args.get("to") or end.isoformat(),
        error=error,
        preview=preview,
        kinds=req.drill_kinds(db.session),
        statuses=ACTION_STATUSES,
    )


class DrillPackageQuery(Query):
    unit: str | None = Field(
        default=None, description="Unit code; default the caller's unit or the bureau"
    )
    from_: OptionalText = Field(
        default=None,
        alias="from",
        description="Default 1 January",
        json_schema_extra={"format": "date"},
    )
    to: OptionalText = Field(
        default=None, description="Default 31 December", json_schema_extra={"format": "date"}
    )
    format: OptionalText = Field(default=None, json_schema_extra={"enum": ["json", *FILE_FORMATS]})


class DrillPackageDrill(Answer):
    id: int
    title: str
    held_on: IsoDate
    kind: str
    participants: int
    actions: dict[str, int] = Field(description="Corrective actions per status")


class DrillPackage(Answer):
    unit: Code
    from_: IsoDate = Field(alias="from")
    to: IsoDate
    drills: list[DrillPackageDrill]


@api_bp.route("/reports/drill-package", methods=["GET"])
@permission("drills.view")
@operation(
    query=DrillPackageQuery,
    answers={200: DrillPackage},
    errors=(400, 401, 403, 404),
    files=("application/pdf", "application/zip"),
)
def drill_package(query: DrillPackageQuery):
    """Inspection package of a unit (and the units below it) for a period: drills held, with
    corrective actions per status; or the PDF, or a ZIP of the PDF, the attachments and
    manifest.csv"""
    fmt = query.format or "json"
    if fmt not in ("json", *FILE_FORMATS):
        raise BadRequest(_("format 只能是 json、pdf 或 zip。"))
    unit = _chosen_unit(query.unit)
    start, end = _period()
    data = pkg.package_data(db.session, unit, start, end)
    if fmt in FILE_FORMATS:
        return _file(data, fmt)
    return DrillPackage(
        unit=unit,
        from_=start,
        to=end,
        drills=[
            DrillPackageDrill(
                id=d.id,
                title=d.title,
                held_on=d.held_on,
                kind=d.kind,
                participants=d.participants,
                actions=pkg.action_counts(pkg.drill_actions(d)),
            )
            for d in data.drills
        ],
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)

"""Label API: print labels (PDF, ZPL, TSPL or their data), look a code up, printer profiles."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_babel import gettext as _
from pydantic import Field

from labels import services as lab
from labels.layouts import LAYOUTS
from labels.views import check_print_address, label_download
from readiness import paging
from readiness import services as core
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import PermissionDenied
from readiness.exports import XLSX_MIMETYPE
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body, Code, OptionalCode, OptionalIsoDate, Rows
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope

bp = Blueprint("labels_api", __name__, url_prefix="/api/v1")


class LabelTarget(Body):
    """One label: a position ({unit, item, lot}) or a serial piece ({serial})."""

    unit: str | None = None
    item: str | None = None
    lot: str | None = None
    serial: str | None = None


# The targets are checked one by one by the service (its refusals name the label), so the
# model takes any list; the document shows the shape of one target.
Targets = Rows(LabelTarget, max_items=lab.MAX_TARGETS)


LAYOUT_CODES = [*LAYOUTS, None]
FORMATS = [*lab.OUTPUTS, *lab.EXPORTS, None]


class LabelSheet(Body):
    targets: Targets
    layout: str | None = Field(
        default=None,
        json_schema_extra={"enum": LAYOUT_CODES},
        description="The label stock (default: the printer profile's, else a4-3x8)",
    )
    skip: int | None = Field(
        default=None,
        json_schema_extra={"minimum": 0},
        description="Places of a used sheet to leave empty: 0 to the layout's labels per sheet − 1",
    )
    format: str | None = Field(
        default=None,
        json_schema_extra={"enum": FORMATS},
        description=(
            "pdf (any layout), zpl or tspl (thermal layouts: the printer's own language), or "
            "csv / xlsx (the labels' data for BarTender or 中琅); default: the printer "
            "profile's language, else pdf"
        ),
    )
    profile: int | None = Field(
        default=None, description="A printer profile's id: its stock, language and correction"
    )


class LabelAnswer(Answer):
    """What a label code points to: a stock position or a serial piece."""

    code: str
    url: str
    kind: str = Field(json_schema_extra={"enum": ["asset", "position"]})
    unit: OptionalCode
    item: Code
    lot: OptionalCode
    expires_on: OptionalIsoDate
    qty: int | None
    serial: str | None
    status: str | None
    retired: bool


@bp.route("/labels", methods=["POST"])
@permission("labels.print")
@operation(
    json=LabelSheet,
    errors=(400, 401, 403, 404, 409),
    files=("application/pdf", "application/octet-stream", "text/csv", XLSX_MIMETYPE),
)
def create_labels(json: LabelSheet):
    """Labels to print

    The labels of the named positions and serial pieces: a PDF sheet, the commands of a
    thermal printer (ZPL or TSPL), or their data as CSV/XLSX. Refused with 409 when the
    server's BASE_URL would print an address the caller's phones cannot open.
    """
    check_print_address()
    actor = current_actor()
    profile = lab.get_profile(db.session, json.profile, actor) if json.profile is not None else None
    targets = lab.targets_from_spec(db.session, json.targets, actor=actor)
    response = label_download(
        targets,
        layout=json.layout,
        output=json.format,
        skip=json.skip if json.skip is not None else 0,
        profile=profile,
        filename="labels",
    )
    db.session.commit()
    return response


class PrinterProfileAnswer(Answer):
    """A unit's printer: the stock it is loaded with, its language and its correction."""

    id: int
    unit: Code
    name: str
    layout: str = Field(json_schema_extra={"enum": list(LAYOUTS)})
    format: str = Field(json_schema_extra={"enum": list(lab.OUTPUTS)})
    dpi: int
    offset_x_mm: float
    offset_y_mm: float
    scale_pct: float


class PrinterProfileList(PagedAnswer):
    profiles: list[PrinterProfileAnswer]


def _profile_answer(p) -> PrinterProfileAnswer:
    return PrinterProfileAnswer(
        id=p.id,
        unit=p.unit,
        name=p.name,
        layout=p.layout,
        format=p.output,
        dpi=p.dpi,
        offset_x_mm=float(p.offset_x_mm),
        offset_y_mm=float(p.offset_y_mm),
        scale_pct=float(p.scale_pct),
    )


@bp.route("/printer-profiles", methods=["GET"])
@permission("labels.print")
@operation(query=Paged, answers={200: PrinterProfileList})
def list_printer_profiles(query: Paged):
    """Printer profiles

    The printers the caller may print with: their own units' and those of the units above;
    by name, a page at a time.
    """
    profiles, next_cursor = paging.page_of_rows(
        lab.usable_profiles(db.session, current_actor()),
        PROFILE_ORDER,
        lambda p: (p.name, p.id),
        query.limit,
        query.cursor,
    )
    return PrinterProfileList(
        profiles=[_profile_answer(p) for p in profiles], next_cursor=next_cursor
    )


# By name (as usable_profiles reads them), then id.
PROFILE_ORDER = paging.Order("printer-profiles", paging.Key(str), paging.Key(int))


class NewPrinterProfile(Body):
    unit: str
    name: str = Field(json_schema_extra={"minLength": 1, "maxLength": 60})
    layout: str = Field(json_schema_extra={"enum": list(LAYOUTS)})
    format: str | None = Field(default=None, json_schema_extra={"enum": [*lab.OUTPUTS, None]})
    dpi: int | None = Field(default=None, json_schema_extra={"enum": [203, 300, None]})
    offset_x_mm: float | None = Field(
        default=None, json_schema_extra={"minimum": -15, "maximum": 15}
    )
    offset_y_mm: float | None = Field(
        default=None, json_schema_extra={"minimum": -15, "maximum": 15}
    )
    scale_pct: float | None = Field(default=None, json_schema_extra={"minimum": 90, "maximum": 110})


@bp.route("/printer-profiles", methods=["POST"])
@permission("labels.print")
@operation(json=NewPrinterProfile, answers={201: PrinterProfileAnswer}, errors=(400, 401, 403, 404))
def create_printer_profile(json: NewPrinterProfile):
    """Add a printer profile"""
    unit = core.get_unit(db.session, json.unit)
    profile = lab.save_profile(
        db.session,
        unit,
        {
            "name": json.name,
            "layout": json.layout,
            "output": json.format,
            "dpi": json.dpi,
            "offset_x_mm": json.offset_x_mm,
            "offset_y_mm": json.offset_y_mm,
            "scale_pct": json.scale_pct,
        },
        actor=current_actor(),
    )
    db.session.commit()
    return _profile_answer(profile), 201


@bp.route("/labels/<code>", methods=["GET"])
@permission("stock.view")
@operation(answers={200: LabelAnswer}, errors=(401, 403, 404))
def get_label(code: str):
    """What a label code points to"""
    found = lab.resolve(db.session, code)
    if found.unit is not None and not in_scope(db.session, current_actor(), found.unit):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return LabelAnswer(
        code=found.label.code,
        url=lab.label_url(current_app.config["BASE_URL"], found.label.code),
        kind="asset" if found.asset else "position",
        unit=found.unit,
        item=found.item,
        lot=found.lot,
        expires_on=found.lot.expires_on if found.lot else None,
        qty=found.position.qty if found.position else None,
        serial=found.asset.serial if found.asset else None,
        status=found.asset.status if found.asset else None,
        retired=found.is_retired,
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

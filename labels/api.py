"""Label API: print a sheet, look a code up."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app
from flask_babel import gettext as _
from pydantic import Field

from labels import services as lab
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import PermissionDenied
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body, Code, OptionalCode, OptionalIsoDate, Rows
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


class LabelSheet(Body):
    targets: Targets
    layout: str | None = Field(
        default=None, json_schema_extra={"enum": ["a4-3x8", "a4-2x5", "thermal-50x30", None]}
    )
    skip: int | None = Field(default=None, json_schema_extra={"minimum": 0})


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
@operation(json=LabelSheet, errors=(400, 401, 403, 409), files=("application/pdf",))
def create_labels(json: LabelSheet):
    """Label sheet PDF

    A PDF label sheet for the named positions and serial pieces.
    """
    layout = json.layout if json.layout is not None else "a4-3x8"
    skip = json.skip if json.skip is not None else 0
    targets = lab.targets_from_spec(db.session, json.targets, actor=current_actor())
    pdf = lab.sheet_pdf(
        db.session, targets, layout, skip=skip, base_url=current_app.config["BASE_URL"]
    )
    db.session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": "attachment; filename=labels.pdf"},
    )


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

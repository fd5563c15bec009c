"""Label API: print a sheet, look a code up."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify
from flask_babel import gettext as _

from labels import services as lab
from readiness import openapi
from readiness.api import field, json_body
from readiness.auth import current_actor, permission
from readiness.errors import PermissionDenied
from readiness.extensions import csrf, db
from readiness.permissions import in_scope

bp = Blueprint("labels_api", __name__, url_prefix="/api/v1")


@bp.route("/labels", methods=["POST"])
@permission("labels.print")
def create_labels():
    """A PDF label sheet for the named positions and serial pieces."""
    data = json_body()
    specs = field(data, "targets", list)
    layout = field(data, "layout", str, required=False, default="a4-3x8")
    skip = field(data, "skip", int, required=False, default=0)
    targets = lab.targets_from_spec(db.session, specs, actor=current_actor())
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
def get_label(code: str):
    """What a label code points to."""
    found = lab.resolve(db.session, code)
    if found.unit is not None and not in_scope(db.session, current_actor(), found.unit):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    body = {
        "code": found.label.code,
        "url": lab.label_url(current_app.config["BASE_URL"], found.label.code),
        "kind": "asset" if found.asset else "position",
        "unit": found.unit.code if found.unit else None,
        "item": found.item.code,
        "lot": found.lot.code if found.lot else None,
        "expires_on": found.lot.expires_on.isoformat()
        if found.lot and found.lot.expires_on
        else None,
        "qty": found.position.qty if found.position else None,
        "serial": found.asset.serial if found.asset else None,
        "status": found.asset.status if found.asset else None,
        "retired": found.is_retired,
    }
    return jsonify(body)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from readiness.openapi import error_responses, json_content

    target = {
        "type": "object",
        "properties": {
            "unit": {"type": "string"},
            "item": {"type": "string"},
            "lot": {"type": ["string", "null"]},
            "serial": {"type": "string"},
        },
    }
    openapi.add_paths(
        {
            "/labels": {
                "post": {
                    "summary": "Label sheet PDF",
                    "requestBody": {
                        "required": True,
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["targets"],
                                "properties": {
                                    "targets": {
                                        "type": "array",
                                        "items": target,
                                        "maxItems": lab.MAX_TARGETS,
                                    },
                                    "layout": {
                                        "type": "string",
                                        "enum": ["a4-3x8", "a4-2x5", "thermal-50x30"],
                                    },
                                    "skip": {"type": "integer", "minimum": 0},
                                },
                            }
                        ),
                    },
                    "responses": {
                        "200": {
                            "description": "PDF",
                            "content": {
                                "application/pdf": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        **error_responses(400, 401, 403, 409, 422),
                    },
                }
            },
            "/labels/{code}": {
                "get": {
                    "summary": "What a label code points to",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "OK", "content": json_content({"type": "object"})},
                        **error_responses(401, 403, 404),
                    },
                }
            },
        }
    )

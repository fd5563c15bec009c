"""JSON API for drill attachments: upload (multipart) and download."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask_babel import gettext as _

from drills.attachments import attachment_visible
from drills.attachments_views import attach_upload, form_text, send_attachment
from drills.models import ATTACHMENT_KINDS, Attachment, CorrectiveAction, Drill
from drills.records import drill_visible
from readiness import openapi
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import csrf, db
from readiness.params import ID_MAX, whole_number

bp = Blueprint("drill_attachments_api", __name__, url_prefix="/api/v1")


def attachment_json(a: Attachment) -> dict:
    return {
        "id": a.id,
        "sha256": a.sha256,
        "size_bytes": a.size_bytes,
        "content_type": a.content_type,
        "filename": a.filename,
    }


def _drill(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None:
        raise NotFound(_("演练第 {id} 号不存在。").format(id=drill_id))
    if not drill_visible(db.session, current_actor(), drill):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return drill


def _action(raw: str | None) -> CorrectiveAction | None:
    action_id = whole_number(raw, "action_id", 1, ID_MAX)
    if action_id is None:
        return None
    action = db.session.get(CorrectiveAction, action_id)
    if action is None:
        raise NotFound(_("整改事项第 {id} 号不存在。").format(id=raw))
    return action


@bp.route("/drills/<int:drill_id>/attachments", methods=["POST"])
@permission("drills.write")
def upload(drill_id: int):
    """Upload a file to a drill, or as evidence for one of its corrective actions."""
    drill = _drill(drill_id)
    action = _action(form_text("action_id") or None)
    kind = form_text("kind") or ("evidence" if action is not None else "")
    if not kind:
        raise DomainError(_("缺少字段 {name}。").format(name="kind"), field="kind")
    attachment = attach_upload(drill, kind=kind, action=action, actor=current_actor())
    db.session.commit()
    return jsonify(attachment_json(attachment)), 201


@bp.route("/drills/<int:drill_id>/attachments/<int:attachment_id>", methods=["GET"])
@permission("drills.view")
def download(drill_id: int, attachment_id: int):
    """The bytes of one attachment."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.drill_id != drill_id:
        raise NotFound(_("附件第 {id} 号不存在。").format(id=attachment_id))
    if not attachment_visible(db.session, current_actor(), attachment):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return send_attachment(attachment)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from readiness.openapi import error_responses, json_content

    def path_id(name: str) -> dict:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}

    openapi.add_paths(
        {
            "/drills/{drill_id}/attachments": {
                "post": {
                    "summary": "Upload a file to a drill, or evidence for one of its actions",
                    "description": "PDF, JPEG, PNG, WebP, docx or xlsx, checked by content; "
                    "the extension must match. At most ATTACHMENT_MAX_BYTES (10 MB).",
                    "parameters": [path_id("drill_id")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "kind": {
                                            "type": "string",
                                            "enum": list(ATTACHMENT_KINDS),
                                            "description": "Required unless action_id is "
                                            "given (then evidence).",
                                        },
                                        "action_id": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored",
                            "content": json_content({"$ref": "#/components/schemas/Attachment"}),
                        },
                        **error_responses(401, 403, 404, 409, 422),
                    },
                }
            },
            "/drills/{drill_id}/attachments/{attachment_id}": {
                "get": {
                    "summary": "Download an attachment",
                    "parameters": [path_id("drill_id"), path_id("attachment_id")],
                    "responses": {
                        "200": {
                            "description": "The file's bytes",
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        **error_responses(401, 403, 404),
                    },
                }
            },
        },
        schemas={
            "Attachment": {
                "type": "object",
                "required": ["id", "sha256", "size_bytes", "content_type", "filename"],
                "properties": {
                    "id": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "size_bytes": {"type": "integer"},
                    "content_type": {"type": "string"},
                    "filename": {"type": "string"},
                },
            }
        },
    )

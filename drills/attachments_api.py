"""JSON API for drill attachments: upload (multipart) and download."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_babel import gettext as _
from pydantic import ConfigDict, Field

from drills.attachments import FILE_TYPES, attachment_visible
from drills.attachments_views import attach_upload, form_text, send_attachment
from drills.models import ATTACHMENT_KINDS, Attachment, CorrectiveAction, Drill
from drills.records import drill_visible
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body
from readiness.params import ID_MAX, whole_number

bp = Blueprint("drill_attachments_api", __name__, url_prefix="/api/v1")


class AttachmentAnswer(Answer):
    """A stored attachment."""

    id: int
    sha256: str
    size_bytes: int
    content_type: str
    filename: str


def _file_required(schema: dict[str, Any]) -> None:
    schema.setdefault("required", []).append("file")
    schema["properties"]["file"].pop("default", None)


class AttachmentUpload(Body):
    """The file, and its kind or the corrective action it is evidence for."""

    # Each part is read and checked by the view and the service as before (their refusals
    # name the field), so the model takes any value: it gives the document its shape.
    model_config = ConfigDict(json_schema_extra=_file_required)

    file: Any = Field(default=None, json_schema_extra={"type": "string", "format": "binary"})
    kind: Any = Field(
        default=None,
        json_schema_extra={
            "type": "string",
            "enum": list(ATTACHMENT_KINDS),
            "description": "Required unless action_id is given (then evidence).",
        },
    )
    action_id: Any = Field(default=None, json_schema_extra={"type": "integer"})


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
@operation(answers={201: AttachmentAnswer}, errors=(400, 401, 403, 404, 409, 413))
def upload(drill_id: int, form: AttachmentUpload):
    """Upload a file to a drill, or evidence for one of its actions

    PDF, JPEG, PNG, WebP, docx or xlsx, checked by content; the extension must match. At
    most ATTACHMENT_MAX_BYTES (10 MB).
    """
    drill = _drill(drill_id)
    action = _action(form_text("action_id") or None)
    kind = form_text("kind") or ("evidence" if action is not None else "")
    if not kind:
        raise DomainError(_("缺少字段 {name}。").format(name="kind"), field="kind")
    attachment = attach_upload(drill, kind=kind, action=action, actor=current_actor())
    db.session.commit()
    return AttachmentAnswer.model_validate(attachment), 201


@bp.route("/drills/<int:drill_id>/attachments/<int:attachment_id>", methods=["GET"])
@permission("drills.view")
@operation(errors=(401, 403, 404), files=tuple(ct for ct, _exts, _name in FILE_TYPES.values()))
def download(drill_id: int, attachment_id: int):
    """Download an attachment

    The file's bytes, with the content type found when it was stored.
    """
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.drill_id != drill_id:
        raise NotFound(_("附件第 {id} 号不存在。").format(id=attachment_id))
    if not attachment_visible(db.session, current_actor(), attachment):
        raise PermissionDenied(_("您只能查看本单位及下级单位的数据。"))
    return send_attachment(attachment)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

"""Pages for drill attachments: upload to a drill, download to whoever may see it."""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, redirect, request, send_file, url_for
from flask_babel import gettext as _

from drills import attachments as att
from drills import records as rec
from drills.models import ATTACHMENT_KINDS, Attachment, CorrectiveAction, Drill
from readiness import files
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.pages import confirmed_action
from readiness.text import first_unsafe, unsafe_message

bp = Blueprint("drill_attachments", __name__)


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def uploaded_file(name: str = "file") -> tuple[str, bytes]:
    """The request's uploaded file as (browser's file name, bytes); ("", b"") when none was
    chosen. Reads one byte past the limit: enough for the service to refuse it."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return "", b""
    return upload.filename, upload.stream.read(max_bytes() + 1)


def form_text(name: str, default: str = "") -> str:
    """A posted text field of an upload (multipart, no form class), refused if it holds a
    character no record may hold."""
    value = request.form.get(name, default)
    char = first_unsafe(value)
    if char is not None:
        raise DomainError(unsafe_message(name, char), field=name)
    return value


def attach_upload(
    drill: Drill,
    *,
    kind: str,
    action: CorrectiveAction | None = None,
    actor,
    optional: bool = False,
) -> Attachment | None:
    """Keep the request's uploaded file with the drill or the action (None when the file
    is optional and none was chosen)."""
    filename, data = uploaded_file()
    if optional and not filename and not data:
        return None
    return att.add_attachment(
        db.session,
        drill,
        kind=kind,
        filename=filename,
        data=data,
        storage_dir=storage_dir(),
        max_bytes=max_bytes(),
        action=action,
        actor=actor,
    )


def send_attachment(attachment: Attachment):
    """The stored bytes: images and PDF shown in the browser, the rest downloaded."""
    path = att.attachment_path(storage_dir(), attachment.sha256)
    if not path.is_file():
        current_app.logger.error("attachment %s: file %s is missing", attachment.id, path)
        abort(404)
    # Read whole (≤ ATTACHMENT_MAX_BYTES): no open file handle outlives the request.
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=attachment.content_type,
        as_attachment=attachment.content_type not in files.INLINE_TYPES,
        download_name=attachment.filename,
        etag=attachment.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response


def _visible_drill(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None:
        abort(404)
    if not rec.drill_visible(db.session, current_actor(), drill):
        abort(403)
    return drill


@bp.app_context_processor
def attachment_settings():
    return {
        "attachment_kinds": ATTACHMENT_KINDS,
        "attachment_accept": files.ACCEPT,
        "attachment_max_mb": att.megabytes(max_bytes()),
    }


@bp.route("/drills/<int:drill_id>/attachments", methods=["POST"])
@permission("drills.write")
def upload(drill_id: int):
    """Upload a sign-in sheet, photo, plan or evaluation to a drill."""
    drill = _visible_drill(drill_id)
    actor = current_actor()
    confirmed_action(
        lambda _version: attach_upload(drill, kind=form_text("kind"), actor=actor),
        lambda a: _("已上传附件：{filename}。").format(filename=a.filename),
    )
    return redirect(url_for("drills.detail", drill_id=drill_id, _anchor="attachments"))


@bp.route("/drills/<int:drill_id>/attachments/<int:attachment_id>")
@permission("drills.view")
def download(drill_id: int, attachment_id: int):
    """One attachment, to whoever may see the drill (or, for evidence, its action)."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.drill_id != drill_id:
        abort(404)
    if not att.attachment_visible(db.session, current_actor(), attachment):
        abort(403)
    return send_attachment(attachment)

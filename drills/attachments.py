"""Files kept with drills (sign-in sheets, photos, plans, evaluations) and with corrective
actions (evidence): checked by their content, stored once under their SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from drills.models import ATTACHMENT_KINDS, Attachment, CorrectiveAction, Drill
from drills.records import drill_visible
from readiness import audit
from readiness.errors import Conflict, DomainError
from readiness.files import (
    FILE_TYPES,
    clean_filename,
    content_path,
    detect_type,
    megabytes,
    store,
)
from readiness.permissions import can, require

# The file rules and storage are the core's (readiness/files.py), shared with shelters.
attachment_path = content_path


def attachment_visible(session: Session, actor, attachment: Attachment) -> bool:
    """Whoever may see the drill may see its files; evidence also to whoever may see its
    corrective action (the owner's unit may not have taken part in the drill)."""
    if drill_visible(session, actor, attachment.drill):
        return True
    return attachment.action is not None and can(
        session, actor, "drills.view", attachment.action.unit_id
    )


def _require_upload(session: Session, drill: Drill, action: CorrectiveAction | None, actor):
    if action is None:
        require(session, actor, "drills.write", drill.lead_unit)
        if drill.status == "closed":
            raise Conflict(_("演练已归档，不能再添加附件。"))
        return
    if action.finding.drill_id != drill.id:
        raise DomainError(_("该整改事项不属于此演练。"), field="action_id")
    if getattr(actor, "id", None) != action.owner_id:
        require(session, actor, "drills.write", action.unit_id)
    if action.status in ("verified", "cancelled"):
        raise Conflict(_("已销号或已取消的整改事项不能再补充证据。"))


def add_attachment(
    session: Session,
    drill: Drill,
    *,
    kind: str,
    filename: str,
    data: bytes,
    storage_dir: Path,
    max_bytes: int,
    action: CorrectiveAction | None = None,
    actor,
) -> Attachment:
    """Keep a file with a drill, or as evidence with one of its corrective actions."""
    _require_upload(session, drill, action, actor)
    if kind not in ATTACHMENT_KINDS:
        raise DomainError(_("未知的附件类别：{kind}。").format(kind=str(kind)[:20]), field="kind")
    if action is not None and kind != "evidence":
        raise DomainError(_("整改事项的附件只能是整改证据。"), field="kind")
    if not data:
        if not filename:
            raise DomainError(_("请选择要上传的文件。"), field="file")
        raise DomainError(_("文件是空的。"), field="file")
    if len(data) > max_bytes:
        raise DomainError(
            _("文件太大：不能超过 {mb} MB。").format(mb=megabytes(max_bytes)), field="file"
        )
    filename = clean_filename(filename)
    detected = detect_type(data)
    if detected is None:
        raise DomainError(
            _("不支持该文件类型：只能上传 PDF、JPG、PNG、WebP 图片或 Word、Excel 文件。"),
            field="file",
        )
    content_type, extensions, type_name = FILE_TYPES[detected]
    extension = PurePosixPath(filename).suffix.lower()
    if extension not in extensions:
        raise DomainError(
            _("文件扩展名“{ext}”与文件内容（{type}）不符。").format(
                ext=extension or _("无"), type=type_name
            ),
            field="file",
        )
    sha256 = hashlib.sha256(data).hexdigest()
    store(session, attachment_path(storage_dir, sha256), data)
    attachment = Attachment(
        drill=drill,
        action=action,
        kind=kind,
        filename=filename,
        content_type=content_type,
        size_bytes=len(data),
        sha256=sha256,
        uploaded_by_id=getattr(actor, "id", None),
    )
    session.add(attachment)
    session.flush()
    audit.record(
        session,
        actor,
        "attachment.add",
        attachment,
        unit_id=action.unit_id if action is not None else drill.lead_unit_id,
        after={
            "drill_id": drill.id,
            "action_id": action.id if action is not None else None,
            "kind": kind,
            "filename": filename,
            "content_type": content_type,
            "size_bytes": len(data),
            "sha256": sha256,
        },
    )
    return attachment

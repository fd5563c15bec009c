"""Files kept with drills (sign-in sheets, photos, plans, evaluations) and with corrective
actions (evidence): checked by their content, stored once under their SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from drills.models import ATTACHMENT_KINDS, Attachment, CorrectiveAction, Drill
from drills.records import drill_visible
from readiness import audit
from readiness.errors import Conflict, DomainError
from readiness.permissions import can, require

FILENAME_MAX = 200
# Detected type -> (content type, extensions that may carry it, name shown in messages).
FILE_TYPES: dict[str, tuple[str, frozenset[str], str]] = {
    "pdf": ("application/pdf", frozenset({".pdf"}), "PDF"),
    "jpeg": ("image/jpeg", frozenset({".jpg", ".jpeg"}), "JPEG"),
    "png": ("image/png", frozenset({".png"}), "PNG"),
    "webp": ("image/webp", frozenset({".webp"}), "WebP"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        frozenset({".docx"}),
        "Word (docx)",
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        frozenset({".xlsx"}),
        "Excel (xlsx)",
    ),
}
# Shown in the browser; everything else is downloaded.
INLINE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "image/webp"})
ACCEPT = ",".join(sorted(ext for _ct, exts, _n in FILE_TYPES.values() for ext in exts))


def attachment_path(storage_dir: Path, sha256: str) -> Path:
    """Where the bytes with this SHA-256 live: <storage>/<first two hex digits>/<sha256>."""
    return storage_dir / sha256[:2] / sha256


def detect_type(data: bytes) -> str | None:
    """The file's type from its first bytes (not its name), or None when not allowed."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"PK\x03\x04"):
        # Only the central directory is read; nothing is extracted.
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, EOFError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
    return None


def clean_filename(raw: str) -> str:
    """The base name a browser sent, without folders or control characters."""
    name = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C covers control and format characters (e.g. right-to-left overrides).
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if name in ("", ".", ".."):
        raise DomainError(_("文件名无效。"), field="file")
    if len(name) > FILENAME_MAX:
        raise DomainError(
            _("文件名太长：不能超过 {n} 个字符。").format(n=FILENAME_MAX), field="file"
        )
    return name


def megabytes(n: int) -> str:
    """A byte count as megabytes for messages: 10485760 -> "10"."""
    return f"{round(n / (1024 * 1024), 2):g}"


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
    _store(session, attachment_path(storage_dir, sha256), data)
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


# ---------------------------------------------------------------- storage

# Files written in the session's open transaction; removed again unless it commits, so a
# refused or failed request leaves neither a row nor an orphan file.
_NEW_FILES = "drills.attachments.new_files"


def _store(session: Session, path: Path, data: bytes) -> None:
    """Write the bytes once (content-addressed), atomically: a temp file, then a rename."""
    if path.is_file() and path.stat().st_size == len(data):
        return
    is_new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if is_new:
        session.info.setdefault(_NEW_FILES, []).append(path)


@event.listens_for(Session, "after_commit")
def _keep_new_files(session: Session) -> None:
    if session.get_nested_transaction() is None:
        session.info.pop(_NEW_FILES, None)


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted_files(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    for path in session.info.pop(_NEW_FILES, []):
        path.unlink(missing_ok=True)

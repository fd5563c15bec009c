"""Uploaded files (drill attachments, action evidence, shelter acceptance documents): the
types allowed, checked by their content rather than their name, and stored once under their
SHA-256 in the attachment folder (which backups copy whole). A file written in a database
transaction that does not commit is removed again: a refused or failed request leaves
neither a row nor an orphan file."""

from __future__ import annotations

import io
import os
import tempfile
import unicodedata
import zipfile
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from readiness.errors import DomainError

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
# The file picker's hint (the server checks the content all the same).
ACCEPT = ",".join(sorted(ext for _ct, exts, _n in FILE_TYPES.values() for ext in exts))


def content_path(storage_dir: Path, sha256: str) -> Path:
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


def base_name(raw) -> str:
    """The base name a browser sent, without folders or control characters ('' if none)."""
    name = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C covers control and format characters (e.g. right-to-left overrides).
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    return "" if name in (".", "..") else name


def clean_filename(raw, *, field: str = "file") -> str:
    """``base_name``, refused when empty or too long."""
    name = base_name(raw)
    if not name:
        raise DomainError(_("文件名无效。"), field=field)
    if len(name) > FILENAME_MAX:
        message = _("文件名太长：不能超过 {n} 个字符。").format(n=FILENAME_MAX)
        raise DomainError(message, field=field)
    return name


def megabytes(n: int) -> str:
    """A byte count as megabytes for messages: 10485760 -> "10"."""
    return f"{round(n / (1024 * 1024), 2):g}"


# ---------------------------------------------------------------- storage

# Files written in the session's open transaction; removed again unless it commits.
_NEW_FILES = "readiness.files.new_files"


def store(session: Session, path: Path, data: bytes) -> None:
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

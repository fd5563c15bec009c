"""The inspection package's ZIP: the PDF, each drill's stored files in safe, unique
folders and names, and manifest.csv with every file's size and SHA-256."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from drills.attachments import attachment_path
from drills.models import ATTACHMENT_KINDS, Attachment
from drills.package import (
    SHA256_RE,
    PackageData,
    _,
    _label,
    file_missing,
    is_evidence,
    package_filename,
)
from readiness.cells import csv_text

# Characters Windows refuses in names, and names it reserves.
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(10)}
_STORED_TYPES = ("image/", "application/vnd.openxmlformats")


def safe_name(raw: str, limit: int = 80) -> str:
    """A file or folder name every unzip tool accepts: no separators, no control or
    reserved characters, no leading dots, not too long (the extension is kept)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: limit - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:limit].rstrip(" .")
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name or "_"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``… before the extension; case-insensitive like Windows."""
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.casefold())
    return candidate


@dataclass(frozen=True)
class PackedFile:
    """A stored file as the ZIP holds it: its path in the archive and its manifest facts."""

    path: str
    drill_title: str
    held_on: date
    kind: str
    filename: str
    action_id: int | None
    size_bytes: int
    sha256: str
    content_type: str
    uploaded_at: datetime


@dataclass(frozen=True)
class ZipPlan:
    """What the ZIP holds besides the PDF, in plain values: taken before the PDF is made,
    so the PDF may let the drills go as it prints them."""

    name: str
    files: list[PackedFile]


def zip_plan(data: PackageData) -> ZipPlan:
    """Each drill's files in a folder ``<date>_<title>/``, evidence in its ``整改证据/``
    subfolder, every name safe and unique."""
    name = package_filename(data)
    folders: set[str] = {(name + ".pdf").casefold(), "manifest.csv"}
    files = []
    for drill in data.drills:
        if not drill.attachments:
            continue
        folder = _unique(safe_name(f"{drill.held_on.isoformat()}_{drill.title}", limit=60), folders)
        names: set[str] = set()
        evidence_names: set[str] = set()
        for att in drill.attachments:
            if is_evidence(att):
                prefix = _("整改{id}_").format(id=att.action_id) if att.action_id else ""
                unique = _unique(safe_name(prefix + att.filename), evidence_names)
                path = f"{folder}/{safe_name(_('整改证据'))}/{unique}"
            else:
                path = f"{folder}/{_unique(safe_name(att.filename), names)}"
            files.append(
                PackedFile(
                    path=path,
                    drill_title=drill.title,
                    held_on=drill.held_on,
                    kind=_label(ATTACHMENT_KINDS.get(att.kind, att.kind)),
                    filename=att.filename,
                    action_id=att.action_id,
                    size_bytes=att.size_bytes,
                    sha256=att.sha256,
                    content_type=att.content_type,
                    uploaded_at=att.uploaded_at,
                )
            )
    return ZipPlan(name, files)


def _copy_into(zf: zipfile.ZipFile, source: Path, file: PackedFile) -> tuple[int, str]:
    """Copy a stored file into the archive; return its size and actual SHA-256."""
    info = zipfile.ZipInfo(file.path, date_time=file.uploaded_at.timetuple()[:6])
    stored = file.content_type.startswith(_STORED_TYPES)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as fh, zf.open(info, "w") as out:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def package_zip(data: PackageData, pdf_bytes: bytes, storage_dir: Path) -> bytes:
    """The PDF at the root, each drill's files in a folder ``<date>_<title>/`` (evidence in
    its ``整改证据/`` subfolder) and manifest.csv with every file's size and SHA-256. A file
    missing from storage is listed as missing, and one whose bytes no longer match the
    recorded SHA-256 is flagged, rather than failing the whole package."""
    return write_zip(zip_plan(data), pdf_bytes, storage_dir)


def write_zip(plan: ZipPlan, pdf_bytes: bytes, storage_dir: Path) -> bytes:
    """The ZIP of ``package_zip`` from its plan and the PDF."""
    ok, missing = _("正常"), _("文件缺失")
    pdf_name = plan.name + ".pdf"
    manifest = [
        [
            _("文件路径"),
            _("演练"),
            _("演练日期"),
            _("类别"),
            _("原文件名"),
            _("整改事项"),
            _("大小（字节）"),
            "SHA-256",
            _("状态"),
        ],
        [
            pdf_name,
            "",
            "",
            _("检查资料包 PDF"),
            "",
            "",
            len(pdf_bytes),
            hashlib.sha256(pdf_bytes).hexdigest(),
            ok,
        ],
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        # The PDF's pages are compressed already: deflating them again costs time for nothing.
        zf.writestr(pdf_name, pdf_bytes, compress_type=zipfile.ZIP_STORED)
        for file in plan.files:
            row = [
                file.path,
                file.drill_title,
                file.held_on.isoformat(),
                file.kind,
                file.filename,
                file.action_id or "",
                file.size_bytes,
                file.sha256,
            ]
            source = (
                attachment_path(storage_dir, file.sha256)
                if SHA256_RE.match(file.sha256 or "")
                else None
            )
            if source is None or not source.is_file():
                manifest.append([*row, missing])
                continue
            size, actual = _copy_into(zf, source, file)
            if actual != file.sha256 or size != file.size_bytes:
                status = _("校验不符：实际 {size} 字节，SHA-256 {sha}").format(
                    size=size, sha=actual
                )
            else:
                status = ok
            manifest.append([*row, status])
        # Safe cells: a file name typed as "=..." must open as text in Excel, not run.
        zf.writestr("manifest.csv", csv_text(manifest[0], manifest[1:]).encode("utf-8"))
    return buf.getvalue()


def missing_files(data: PackageData, storage_dir: Path) -> list[Attachment]:
    """Attachments whose stored file is gone: shown before anyone hands the package over."""
    return [att for att in data.attachments if file_missing(storage_dir, att.sha256)]

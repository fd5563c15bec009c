"""Acceptance of shelter sites (规范化验收): a site counts as standardized only after command
staff of its bureau record the acceptance; its town may ask for it; command staff may
withdraw it with a reason. The rows of ``shelter_acceptances`` keep the whole history.

Acceptance documents are kept like drill attachments, by the core's file rules
(readiness/files.py): checked by their content, stored once under their SHA-256 in the
attachment folder, so backups carry them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from readiness import audit
from readiness.checks import check_past_date
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.files import (
    FILE_TYPES,
    FILENAME_MAX,
    base_name,
    content_path,
    detect_type,
    megabytes,
    store,
)
from readiness.permissions import SystemActor, can, require
from shelters.checks import TEXT_MAX, _text
from shelters.inspections import registration_date
from shelters.models import Acceptance, AcceptanceDocument, Shelter

DOCUMENTS_MAX = 10
# Only these states can be standardized (a planned or unfinished building cannot).
ACCEPTABLE_STATUSES = ("active", "suspended")

ACCEPTANCE_FIELDS = (
    "shelter_id",
    "status",
    "requested_at",
    "requested_by_id",
    "request_note",
    "accepted_on",
    "accepted_by_id",
    "note",
    "withdrawn_at",
    "withdrawn_by_id",
    "withdrawal_reason",
)


@dataclass(frozen=True)
class Upload:
    """A file as sent: the browser's file name and the bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def _now() -> datetime:
    return datetime.now(UTC)


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def _state(shelter: Shelter) -> dict:
    return audit.snapshot(shelter, ("is_standardized", "standardized_on"))


def _snapshot(acceptance: Acceptance) -> dict:
    out = audit.snapshot(acceptance, ACCEPTANCE_FIELDS)
    out["documents"] = [d.filename for d in acceptance.documents]
    return out


# ---------------------------------------------------------------- documents


def _clean_filename(raw) -> str:
    name = base_name(raw)
    if not name:
        raise DomainError(_("验收材料的文件名无效。"), field="files")
    if len(name) > FILENAME_MAX:
        raise DomainError(
            _("验收材料的文件名太长：不能超过 {n} 个字符。").format(n=FILENAME_MAX),
            field="files",
        )
    return name


def check_documents(uploads: Sequence[Upload], max_bytes: int) -> list[CheckedFile]:
    """Every file checked (size, type by content, matching extension) before any is kept."""
    if len(uploads) > DOCUMENTS_MAX:
        raise DomainError(_("一次最多上传 {n} 份验收材料。").format(n=DOCUMENTS_MAX), field="files")
    out = []
    for upload in uploads:
        filename = _clean_filename(upload.filename)
        data = upload.data
        if not data:
            raise DomainError(_("验收材料“{name}”是空文件。").format(name=filename), field="files")
        if len(data) > max_bytes:
            raise DomainError(
                _("验收材料“{name}”太大：每份不能超过 {mb} MB。").format(
                    name=filename, mb=megabytes(max_bytes)
                ),
                field="files",
            )
        detected = detect_type(data)
        if detected is None:
            raise DomainError(
                _(
                    "验收材料“{name}”的类型不支持：只能上传 PDF、JPG、PNG、WebP 图片"
                    "或 Word、Excel 文件。"
                ).format(name=filename),
                field="files",
            )
        content_type, extensions, type_name = FILE_TYPES[detected]
        extension = PurePosixPath(filename).suffix.lower()
        if extension not in extensions:
            raise DomainError(
                _("验收材料“{name}”的扩展名与文件内容（{type}）不符。").format(
                    name=filename, type=type_name
                ),
                field="files",
            )
        out.append(CheckedFile(filename, content_type, data, hashlib.sha256(data).hexdigest()))
    return out


# Where a document's bytes live: the attachment folder's layout, which backups copy whole.
document_path = content_path


def document_visible(session: Session, actor, document: AcceptanceDocument) -> bool:
    """Whoever may see the site may read its acceptance documents."""
    return can(session, actor, "shelters.view", document.acceptance.shelter.town_id)


# ---------------------------------------------------------------- the rules


def _acceptable(shelter: Shelter) -> None:
    if shelter.status not in ACCEPTABLE_STATUSES:
        raise Conflict(
            _("{status}的场所不能验收为规范化场所。").format(status=shelter.status_label),
            field="status",
        )


def request_acceptance(
    session: Session, shelter: Shelter, *, note: str = "", actor, now: datetime | None = None
) -> Acceptance:
    """The town asks command staff to accept its site as standardized."""
    require(session, actor, "shelters.write", shelter.town_id)
    note = _text(note, "note", TEXT_MAX)
    if shelter.acceptance is not None:
        raise Conflict(_("该场所已通过规范化验收。"))
    if shelter.acceptance_request is not None:
        raise Conflict(_("该场所已申请验收，正等待指挥人员验收。"))
    _acceptable(shelter)
    row = Acceptance(
        shelter=shelter,
        status="requested",
        requested_at=now or _now(),
        requested_by_id=_actor_id(actor),
        request_note=note,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.acceptance_request",
        row,
        unit_id=shelter.town_id,
        after=_snapshot(row),
        summary=shelter.name,
    )
    return row


def accept_shelter(
    session: Session,
    shelter: Shelter,
    *,
    accepted_on: date | None,
    note: str = "",
    documents: Sequence[Upload] = (),
    storage_dir: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    actor,
    today: date | None = None,
) -> Acceptance:
    """Command staff record the site's acceptance, with its documents: from then on it
    counts as standardized (and for coverage while it is active)."""
    require(session, actor, "shelters.accept", shelter.town_id)
    system = isinstance(actor, SystemActor)
    today = today or date.today()
    if shelter.acceptance is not None:
        raise Conflict(
            _("该场所已于 {on} 通过规范化验收。").format(on=shelter.acceptance.accepted_on)
        )
    # the system carries over a closed site's acceptance too; nobody accepts a building
    # still planned or under construction
    if not system or shelter.status in ("planned", "construction"):
        _acceptable(shelter)
    if accepted_on is None:
        raise DomainError(_("请填写验收日期。"), field="accepted_on")
    accepted_on = check_past_date(accepted_on, "accepted_on", today=today, label=_("验收日期"))
    registered_on = registration_date(shelter, today)
    # the system carries over acceptances made before the site was put on the system
    if not system and registered_on is not None and accepted_on < registered_on:
        raise DomainError(
            _("验收日期不能早于场所登记日期（{on}）。").format(on=registered_on.isoformat()),
            field="accepted_on",
        )
    note = _text(note, "note", TEXT_MAX)
    request = shelter.acceptance_request
    # second person rule: whoever asked for the acceptance does not grant it
    if (
        request is not None
        and request.requested_by_id is not None
        and request.requested_by_id == _actor_id(actor)
    ):
        raise PermissionDenied(_("验收申请人不能自己验收该场所，请由其他指挥人员验收。"))
    files = check_documents(documents, max_bytes)
    if files and storage_dir is None:
        raise DomainError(_("未配置验收材料的存放目录。"), field="files")
    before = _state(shelter)
    row = request or Acceptance(shelter=shelter, request_note="")
    row.status = "accepted"
    row.accepted_on = accepted_on
    row.accepted_at = _now()
    row.accepted_by_id = _actor_id(actor)
    row.note = note
    if request is None:
        session.add(row)
    shelter.is_standardized = True
    shelter.standardized_on = accepted_on
    session.flush()
    for f in files:
        store(session, document_path(storage_dir, f.sha256), f.data)
        row.documents.append(
            AcceptanceDocument(
                filename=f.filename,
                content_type=f.content_type,
                size_bytes=len(f.data),
                sha256=f.sha256,
                uploaded_by_id=_actor_id(actor),
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.accept",
        row,
        unit_id=shelter.town_id,
        before=before,
        after={**_state(shelter), **_snapshot(row)},
        summary=shelter.name,
    )
    return row


def withdraw_acceptance(
    session: Session, shelter: Shelter, *, reason: str, actor, now: datetime | None = None
) -> Acceptance:
    """Command staff withdraw the site's acceptance, saying why: it stops counting as
    standardized; the acceptance and the reason stay in its history."""
    require(session, actor, "shelters.accept", shelter.town_id)
    row = shelter.acceptance
    if row is None:
        raise Conflict(_("该场所尚未通过规范化验收，无可撤销的验收。"))
    reason = _text(reason, "reason", TEXT_MAX)
    if not reason.strip():
        raise DomainError(_("请填写撤销验收的原因。"), field="reason")
    before = {**_state(shelter), **_snapshot(row)}
    row.status = "withdrawn"
    row.withdrawn_at = now or _now()
    row.withdrawn_by_id = _actor_id(actor)
    row.withdrawal_reason = reason
    shelter.is_standardized = False
    shelter.standardized_on = None
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.acceptance_withdraw",
        row,
        unit_id=shelter.town_id,
        before=before,
        after={**_state(shelter), **_snapshot(row)},
        summary=shelter.name,
    )
    return row


def requested_ids(session: Session, shelter_ids: Sequence[int]) -> set[int]:
    """Which of these sites have a request for acceptance waiting."""
    if not shelter_ids:
        return set()
    return set(
        session.scalars(
            select(Acceptance.shelter_id).where(
                Acceptance.status == "requested", Acceptance.shelter_id.in_(shelter_ids)
            )
        )
    )


def pending_requests(session: Session, unit_ids: set[int] | None) -> list[Acceptance]:
    """Requests for acceptance still waiting (待验收), oldest first."""
    stmt: Select = (
        select(Acceptance)
        .join(Shelter, Shelter.id == Acceptance.shelter_id)
        .where(Acceptance.status == "requested")
        .options(selectinload(Acceptance.shelter).selectinload(Shelter.town))
        .order_by(Acceptance.requested_at, Acceptance.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(Shelter.town_id.in_(unit_ids))
    return list(session.scalars(stmt))

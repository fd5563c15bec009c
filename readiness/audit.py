"""Recording and reading the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from readiness.models import AuditEntry, Unit


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of a model as JSON-ready values, for before/after."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def record(
    session: Session,
    actor,
    action: str,
    obj: Any = None,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    unit_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    summary: str = "",
) -> AuditEntry:
    """Append one entry describing a write; call it in the same transaction as the write."""
    if obj is not None:
        session.flush()
        object_type = object_type or obj.__tablename__
        object_id = obj.id if object_id is None else object_id
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", None) or "anonymous",
        action=action,
        object_type=object_type or "",
        object_id="" if object_id is None else str(object_id),
        unit_id=unit_id,
        before=before,
        after=after,
        summary=summary,
    )
    session.add(entry)
    return entry


def audit_query(
    *,
    actor: str | None = None,
    unit_ids: set[int] | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select:
    """The audit entries matching the filters, newest first."""
    stmt = select(AuditEntry).options(selectinload(AuditEntry.unit)).order_by(AuditEntry.id.desc())
    if actor:
        stmt = stmt.where(AuditEntry.actor_name == actor)
    if unit_ids is not None:
        stmt = stmt.where(AuditEntry.unit_id.in_(unit_ids))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if date_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(date_from, time.min, UTC))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time.min, UTC)
        stmt = stmt.where(AuditEntry.at < end)
    return stmt


def object_types(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.object_type).distinct().order_by("object_type")))


def unit_choices(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.code)))

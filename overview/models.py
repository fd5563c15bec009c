"""Issued bulletins (每月通报、每周排名): a ranking frozen as it stood when command staff
issued it, so the document never changes afterwards."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User

PERIOD_KINDS = {"week": _l("周"), "month": _l("月")}


class Bulletin(Base):
    """A ranking issued by a unit's command staff for one week or month: its rows as they
    stood (JSON), the period and who issued it when. One per unit and period."""

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint("period_kind IN ('week', 'month')", name="period_kind_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        UniqueConstraint("unit_id", "period_kind", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the issuing unit: the ranking covers it and the units below it
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period_kind: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    number: Mapped[str] = mapped_column(String(60))
    # the ranking as issued: {"as_of", "rows": [...], "named": [...], "totals": {...}}
    rows: Mapped[dict] = mapped_column(JSON)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    issued_by: Mapped[User | None] = relationship()

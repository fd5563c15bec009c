"""Label codes (one per stock position or serial piece) and printer calibration."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inventory.models import Asset, Position
from readiness.db import Base, UTCDateTime, utcnow


class LabelCode(Base):
    """An opaque short code printed as a QR label; it never changes and is never reused."""

    __tablename__ = "label_codes"
    __table_args__ = (
        CheckConstraint("(position_id IS NULL) <> (asset_id IS NULL)", name="exactly_one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), unique=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), unique=True)
    # The QR module matrix for qr_url, kept because encoding costs milliseconds
    # and a code never changes once issued ('1'/'0' rows joined by '/').
    qr_url: Mapped[str] = mapped_column(String(200), default="")
    qr_modules: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    position: Mapped[Position | None] = relationship()
    asset: Mapped[Asset | None] = relationship()


class LabelLayoutSetting(Base):
    """Printer calibration for one layout: where the printer really puts (0, 0)."""

    __tablename__ = "label_layout_settings"

    layout: Mapped[str] = mapped_column(String(20), primary_key=True)
    offset_x_mm: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("0"))
    offset_y_mm: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

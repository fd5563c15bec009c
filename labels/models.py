"""Label codes (one per stock position or serial piece) and the printer profiles of units."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inventory.models import Asset, Position
from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit


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


class PrinterProfile(Base):
    """One printer of a unit, as it really prints: the stock it is loaded with, where it puts
    things (offset in mm: X right, Y down) and how much it shrinks or stretches (scale %);
    for a thermal printer also its language (PDF, ZPL or TSPL) and resolution."""

    __tablename__ = "printer_profiles"
    __table_args__ = (
        UniqueConstraint("unit_id", "name"),
        CheckConstraint(
            "offset_x_mm BETWEEN -15 AND 15 AND offset_y_mm BETWEEN -15 AND 15",
            name="offset_on_sheet",
        ),
        CheckConstraint("scale_pct BETWEEN 90 AND 110", name="scale_near_full_size"),
        CheckConstraint("output IN ('pdf', 'zpl', 'tspl')", name="output_known"),
        CheckConstraint("dpi IN (203, 300)", name="dpi_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    layout: Mapped[str] = mapped_column(String(20))
    output: Mapped[str] = mapped_column(String(10), default="pdf")
    dpi: Mapped[int] = mapped_column(default=203)
    offset_x_mm: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("0"))
    offset_y_mm: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("0"))
    scale_pct: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("100"))
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship()

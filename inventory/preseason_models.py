"""Pre-season check (汛前检查, issue 20, item 2): the flood season command staff set per
bureau and year, the checklist they keep, and each unit's check for a season with its items.

A check's items are rows of their own (unlike a round's checklist): each is answered on its
own, at its own time, by a function test, an approved count, a disposal or a checklist
answer, and each keeps the text it was asked with.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inventory.models import Asset, Lot
from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User
from rectification.models import CorrectiveAction

ITEM_KINDS = {
    "test": _l("功能测试"),
    "count": _l("盘库"),
    "lot": _l("过期批次"),
    "checklist": _l("检查项"),
}


class FloodSeason(Base):
    """A unit's (a bureau's) flood season in one year: it applies to the units below it,
    the nearest unit's winning; checks open ``lead_days`` before it starts."""

    __tablename__ = "flood_seasons"
    __table_args__ = (
        CheckConstraint("lead_days >= 1 AND lead_days <= 180", name="lead_days_range"),
        UniqueConstraint("unit_id", "year", name="uq_flood_seasons_unit_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer, default=30)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()

    @property
    def opens_on(self) -> date:
        return self.starts_on - timedelta(days=self.lead_days)


class PreseasonTemplate(Base):
    """A unit's pre-season checklist, for the units below it, the nearest unit's winning."""

    __tablename__ = "preseason_templates"
    __table_args__ = (UniqueConstraint("unit_id", name="uq_preseason_templates_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    items: Mapped[list] = mapped_column(JSON)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class PreseasonCheck(Base):
    """A unit's pre-season check for one season: once per unit and year."""

    __tablename__ = "preseason_checks"
    __table_args__ = (UniqueConstraint("unit_id", "year", name="uq_preseason_checks_unit_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    season_id: Mapped[int] = mapped_column(ForeignKey("flood_seasons.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    opened_on: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship()
    season: Mapped[FloodSeason] = relationship()
    completed_by: Mapped[User | None] = relationship()
    items: Mapped[list[PreseasonItem]] = relationship(
        back_populates="check", order_by="PreseasonItem.position"
    )

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def answered(self) -> int:
        return sum(1 for i in self.items if i.is_ok is not None)

    @property
    def failed(self) -> int:
        return sum(1 for i in self.items if i.is_ok is False)

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class PreseasonItem(Base):
    """One thing a check asks: a piece's due function test, a stocktake, an expired lot or
    a checklist item; unanswered (``is_ok`` None), passed or failed (a failure says why and
    has its corrective action)."""

    __tablename__ = "preseason_items"
    __table_args__ = (
        CheckConstraint("kind IN ('test', 'count', 'lot', 'checklist')", name="kind_known"),
        CheckConstraint("kind <> 'test' OR asset_id IS NOT NULL", name="test_piece"),
        CheckConstraint("kind <> 'lot' OR lot_id IS NOT NULL", name="lot_named"),
        CheckConstraint("is_ok IS NULL OR is_ok OR note <> ''", name="fail_has_note"),
        CheckConstraint("is_ok IS NULL OR answered_at IS NOT NULL", name="answer_dated"),
        UniqueConstraint("check_id", "position", name="uq_preseason_items_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("preseason_checks.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    item: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    is_ok: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # what answered it: the function test recorded, the approved count
    record_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_records.id"))
    count_id: Mapped[int | None] = mapped_column(ForeignKey("counts.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id"), index=True)

    check: Mapped[PreseasonCheck] = relationship(back_populates="items")
    asset: Mapped[Asset | None] = relationship()
    lot: Mapped[Lot | None] = relationship()
    answered_by: Mapped[User | None] = relationship()
    action: Mapped[CorrectiveAction | None] = relationship()

    @property
    def kind_label(self) -> str:
        return str(ITEM_KINDS[self.kind])

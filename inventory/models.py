"""Items, the equipment standard, stock positions, the ledger, serial assets and stocktakes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow
from readiness.i18n import in_language
from readiness.models import Unit, User

TRACKING = {"bulk": _l("按数量"), "serial": _l("按件（序列号）")}

MOVEMENT_KINDS = {
    "receipt": _l("入库"),
    "issue": _l("出库"),
    "write_off": _l("报损核销"),
    "adjustment": _l("盘点调整"),
    "transfer_out": _l("调拨出库"),
    "transfer_in": _l("调拨入库"),
    "reversal": _l("撤销更正"),
}
# Kinds a person records by hand; the others come from counts and allocations.
MANUAL_KINDS = ("receipt", "issue", "write_off")
OUTBOUND_KINDS = frozenset({"issue", "write_off", "transfer_out"})

ASSET_STATUSES = {
    "in_service": _l("在用"),
    "under_repair": _l("维修中"),
    # A failed function test: not on hand (shortfall) until a repair is recorded.
    "out_of_service": _l("故障停用"),
    "retired": _l("已报废"),
}

COUNT_STATUSES = {
    "open": _l("清点中"),
    "submitted": _l("待审批"),
    "returned": _l("已退回重盘"),
    "approved": _l("已审批"),
    "cancelled": _l("已取消"),
}
# Statuses in which the counter still types quantities (a returned count is recounted).
EDITABLE_COUNT_STATUSES = ("open", "returned")


class InTwoLanguages:
    """An item's name, category and unit of measure as the reader reads them: the English
    in the English UI where the catalog keeps one, else the Chinese (the record's own).
    For the item itself and for the copies reports keep of it (each has name, name_en,
    category, category_en, uom and uom_en)."""

    @property
    def shown_name(self) -> str:
        return in_language(self.name, self.name_en)

    @property
    def shown_category(self) -> str:
        return in_language(self.category, self.category_en)

    @property
    def shown_uom(self) -> str:
        return in_language(self.uom, self.uom_en)


class Item(InTwoLanguages, Base):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
        CheckConstraint("tracking IN ('bulk', 'serial')", name="tracking_known"),
        CheckConstraint(
            "(service_interval_days IS NULL OR service_interval_days > 0)"
            " AND (test_interval_days IS NULL OR test_interval_days > 0)",
            name="intervals_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40), index=True)
    uom: Mapped[str] = mapped_column(String(10))
    # The catalog's English beside its Chinese (issue 22): shown in the English UI, the
    # Chinese when left empty. Names are the record; these are how they read in English.
    name_en: Mapped[str] = mapped_column(String(100), default="", server_default="")
    category_en: Mapped[str] = mapped_column(String(40), default="", server_default="")
    uom_en: Mapped[str] = mapped_column(String(20), default="", server_default="")
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    shelf_life_days: Mapped[int | None]
    tracking: Mapped[str] = mapped_column(String(10), default="bulk")
    # Serial equipment only: service every N days, and a function test (start and run it)
    # every N days; none = not scheduled.
    service_interval_days: Mapped[int | None]
    test_interval_days: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_serial(self) -> bool:
        return self.tracking == "serial"

    def __repr__(self) -> str:
        return f"<Item {self.code}>"


class StandardVersion(Base):
    """One published edition of the equipment standard (应急装备现代化)."""

    __tablename__ = "standard_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, index=True)
    # The unit that published it: it applies to that unit's subtree, the nearest unit's
    # edition winning. None: applies everywhere (editions from before bureaus were apart).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list[StandardLine]] = relationship(
        back_populates="version", order_by="StandardLine.id"
    )
    published_by: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class StandardLine(Base):
    __tablename__ = "standard_lines"
    __table_args__ = (
        UniqueConstraint("version_id", "unit_kind", "item_id"),
        CheckConstraint("base_qty >= 0 AND per_officer >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id"), index=True)
    unit_kind: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    base_qty: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    per_officer: Mapped[Decimal] = mapped_column(Numeric(10, 3))

    version: Mapped[StandardVersion] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()


class RequirementOverride(Base):
    """An explicit required quantity for one unit and item, instead of the standard's formula."""

    __tablename__ = "requirement_overrides"
    __table_args__ = (
        UniqueConstraint("unit_id", "item_id"),
        CheckConstraint("qty >= 0", name="qty_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    qty: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    item: Mapped[Item] = relationship()


class Lot(Base):
    __tablename__ = "lots"
    __table_args__ = (UniqueConstraint("item_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    code: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)

    item: Mapped[Item] = relationship()


class Position(Base):
    """Stock of one item (and lot) at one unit: the balance the ledger keeps up to date."""

    __tablename__ = "positions"
    __table_args__ = (
        CheckConstraint("qty >= 0", name="qty_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= qty", name="reserved_within_qty"),
        # A position without a lot is unique per unit and item; with a lot, per lot.
        Index(
            "uq_positions_unit_item_nolot",
            "unit_id",
            "item_id",
            unique=True,
            sqlite_where=text("lot_id IS NULL"),
            postgresql_where=text("lot_id IS NULL"),
        ),
        Index(
            "uq_positions_unit_item_lot",
            "unit_id",
            "item_id",
            "lot_id",
            unique=True,
            sqlite_where=text("lot_id IS NOT NULL"),
            postgresql_where=text("lot_id IS NOT NULL"),
        ),
        # covering what the shortfall report sums, so it reads the index alone (issue 21)
        Index("ix_positions_item_unit", "item_id", "unit_id", "qty", "reserved", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    qty: Mapped[int] = mapped_column(default=0)
    # Held for approved allocations (issued at dispatch); issues cannot take it.
    reserved: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship()

    @property
    def available(self) -> int:
        return self.qty - self.reserved


class Movement(Base):
    """One line of the ledger (出入库台账). Never updated: corrections are new movements."""

    __tablename__ = "movements"
    __table_args__ = (
        CheckConstraint("qty <> 0", name="qty_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        Index("ix_movements_position_id", "position_id", "id"),
        Index("ix_movements_unit_item", "unit_id", "item_id"),
        Index("ix_movements_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    kind: Mapped[str] = mapped_column(String(20))
    qty: Mapped[int]
    balance_after: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(20), default="")
    document: Mapped[str] = mapped_column(String(60), default="")
    serials: Mapped[str] = mapped_column(Text, default="")
    # The one-time key of the form or API call that wrote it: a second submit finds it.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # When the user tapped, by the phone's clock, for a movement sent later from a phone's
    # outbox (``at`` is when the server received it).
    device_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An undo: the movement this one reverses (once; never deleted, never updated).
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("movements.id"), unique=True)

    position: Mapped[Position] = relationship()
    unit: Mapped[Unit] = relationship()
    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship()


class Asset(Base):
    """One piece of a serial-tracked item (drone, boat, pump, searchlight)."""

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("item_id", "serial"),
        CheckConstraint(
            "status IN ('in_service', 'under_repair', 'out_of_service', 'retired')",
            name="status_known",
        ),
        Index("ix_assets_unit_item", "unit_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    serial: Mapped[str] = mapped_column(String(60))
    # None once it has left every unit (issued out of the system).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(20), default="in_service")
    note: Mapped[str] = mapped_column(Text, default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last time someone confirmed the piece is there, by scanning its label.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    item: Mapped[Item] = relationship()
    unit: Mapped[Unit | None] = relationship()


class CountInterval(Base):
    """A count policy: how often a kind of unit must count its stock (日周月 checks; here:
    days) and whether its full counts are blind. A row belongs to the unit that set it and
    applies below it, the nearest one winning; a row without a unit applies everywhere."""

    __tablename__ = "count_intervals"
    __table_args__ = (
        UniqueConstraint("unit_id", "unit_kind"),
        CheckConstraint("days > 0", name="days_positive"),
        # NULLs are distinct in a unique constraint: one row "everywhere" per kind needs its own.
        Index(
            "uq_count_intervals_kind_everywhere",
            "unit_kind",
            unique=True,
            sqlite_where=text("unit_id IS NULL"),
            postgresql_where=text("unit_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    unit_kind: Mapped[str] = mapped_column(String(20))
    days: Mapped[int]
    blind: Mapped[bool] = mapped_column(default=True)


class CountVarianceThreshold(Base):
    """When an approved count's variance becomes a corrective action (source ``count``):
    a line whose variance is beyond ``min_qty`` pieces or ``min_pct`` percent of the book
    quantity (either, when both are set). Kept by command staff for their unit and applying
    below it, the nearest one winning; a row without a unit applies everywhere."""

    __tablename__ = "count_variance_thresholds"
    __table_args__ = (
        CheckConstraint("min_qty IS NULL OR min_qty >= 0", name="qty_not_negative"),
        CheckConstraint("min_pct IS NULL OR (min_pct >= 0 AND min_pct <= 100)", name="pct_range"),
        CheckConstraint("min_qty IS NOT NULL OR min_pct IS NOT NULL", name="something_set"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), unique=True)
    min_qty: Mapped[int | None]
    min_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Count(Base):
    """A stocktake (盘库清点) of one unit."""

    __tablename__ = "counts"
    __table_args__ = (
        Index("ix_counts_unit_status", "unit_id", "status"),
        CheckConstraint(
            "status IN ('open', 'submitted', 'returned', 'approved', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "status <> 'returned' OR TRIM(return_reason) <> ''", name="returned_with_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    # A spot count of one position (from a scanned label) does not block a full stocktake.
    is_spot: Mapped[bool] = mapped_column(default=False)
    # A spot count sent from a phone: its one-time key, so a resend records it once.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Book quantities hidden from the counter until submission (the unit's count policy,
    # taken when the count starts).
    is_blind: Mapped[bool] = mapped_column(default=False)
    # Submitted with positions marked not counted: what it missed keeps its old count date.
    is_partial: Mapped[bool] = mapped_column(default=False)
    # The last return for recount (every one is in the audit log).
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_reason: Mapped[str] = mapped_column(Text, default="")

    unit: Mapped[Unit] = relationship()
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])
    lines: Mapped[list[CountLine]] = relationship(
        back_populates="count", order_by="CountLine.id", cascade="all, delete-orphan"
    )


class CountLine(Base):
    __tablename__ = "count_lines"
    __table_args__ = (
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
        # A position is either counted or marked not counted (with a reason), never both.
        CheckConstraint(
            "not_counted_reason IS NULL OR (counted IS NULL AND TRIM(not_counted_reason) <> '')",
            name="counted_or_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("counts.id"), index=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    book: Mapped[int]
    counted: Mapped[int | None]
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the counter entered it, by the phone's clock (sent later from an outbox), and the
    # phone's one-time key of that entry (the same entry resent is recognised).
    counted_on_device_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_key: Mapped[str | None] = mapped_column(String(64))
    not_counted_reason: Mapped[str | None] = mapped_column(Text)

    count: Mapped[Count] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship()

    @property
    def variance(self) -> int | None:
        return None if self.counted is None else self.counted - self.book


ALLOCATION_STATUSES = {
    "draft": _l("草稿"),
    "submitted": _l("待审批"),
    "approved": _l("已批准"),
    "rejected": _l("已驳回"),
    "dispatched": _l("已发出"),
    "received": _l("已接收"),
    "cancelled": _l("已取消"),
}


class Allocation(Base):
    """A request to move stock from one unit to another (调拨), and its approval trail."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("from_unit_id <> to_unit_id", name="different_units"),
        Index("ix_allocations_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    reason: Mapped[str] = mapped_column(Text, default="")
    is_emergency: Mapped[bool] = mapped_column(default=False)
    # Set when the last required approval is given (before or, for emergencies, after dispatch).
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    from_unit: Mapped[Unit] = relationship(foreign_keys=[from_unit_id])
    to_unit: Mapped[Unit] = relationship(foreign_keys=[to_unit_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    dispatched_by: Mapped[User | None] = relationship(foreign_keys=[dispatched_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    lines: Mapped[list[AllocationLine]] = relationship(
        back_populates="allocation", order_by="AllocationLine.id", cascade="all, delete-orphan"
    )
    approvals: Mapped[list[AllocationApproval]] = relationship(
        back_populates="allocation", order_by="AllocationApproval.id"
    )

    # Every status change goes through a conditional UPDATE on this column, so two
    # people acting on the same request at once cannot both succeed.
    __mapper_args__ = {"version_id_col": version}


class AllocationLine(Base):
    __tablename__ = "allocation_lines"
    __table_args__ = (
        UniqueConstraint("allocation_id", "item_id"),
        CheckConstraint("requested > 0", name="requested_positive"),
        CheckConstraint("approved IS NULL OR approved >= 0", name="approved_not_negative"),
        CheckConstraint("received IS NULL OR received >= 0", name="received_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    requested: Mapped[int]
    approved: Mapped[int | None]
    dispatched: Mapped[int | None]
    received: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")

    allocation: Mapped[Allocation] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()
    parts: Mapped[list[AllocationPart]] = relationship(
        back_populates="line", order_by="AllocationPart.id"
    )


class AllocationPart(Base):
    """Stock of one position held for a line (reserved), then sent from it (dispatched)."""

    __tablename__ = "allocation_parts"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("allocation_lines.id"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"))
    qty: Mapped[int]
    is_reserved: Mapped[bool] = mapped_column(default=True)

    line: Mapped[AllocationLine] = relationship(back_populates="parts")
    position: Mapped[Position] = relationship()


class AllocationApproval(Base):
    __tablename__ = "allocation_approvals"
    __table_args__ = (UniqueConstraint("allocation_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")

    allocation: Mapped[Allocation] = relationship(back_populates="approvals")
    approver: Mapped[User] = relationship()


MAINTENANCE_KINDS = {
    "service": _l("保养"),
    "function_test": _l("功能测试"),
    "repair": _l("维修"),
}
MAINTENANCE_RESULTS = {"pass": _l("正常"), "fail": _l("故障")}


class MaintenanceRecord(Base):
    """A service, a function test or a repair of one serial piece. Never updated: a wrong
    record is followed by a right one."""

    __tablename__ = "maintenance_records"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'function_test', 'repair')", name="kind_known"),
        CheckConstraint("result IN ('pass', 'fail')", name="result_known"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost_not_negative"),
        Index("ix_maintenance_records_asset_kind", "asset_id", "kind", "done_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    done_on: Mapped[date]
    result: Mapped[str] = mapped_column(String(10))
    readings: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    vendor: Mapped[str] = mapped_column(String(100), default="")
    # A repair: when the piece was sent (``done_on`` is when it came back).
    sent_on: Mapped[date | None]
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A photo of the piece or its nameplate reading (stored once under its SHA-256).
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_type: Mapped[str | None] = mapped_column(String(100))
    photo_name: Mapped[str | None] = mapped_column(String(200))

    asset: Mapped[Asset] = relationship()

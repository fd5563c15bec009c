"""Villages of a town, shelter sites (避灾安置场所), their inspections and defects.

A town (镇/街道) is a unit of kind ``town``; an active shelter site is also a unit of kind
``shelter`` under its town, so its relief supplies are on the ledger like any station's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User

VILLAGE_KINDS = {"village": _l("村"), "community": _l("社区")}

# Zhejiang's capacity floors for a standardized site of each level (people).
LEVELS = {"county": _l("县级"), "town": _l("乡镇级"), "village": _l("村级")}
LEVEL_MIN_CAPACITY = {"county": 200, "town": 100, "village": 50}

STATUSES = {
    "planned": _l("规划中"),
    "construction": _l("在建"),
    "active": _l("使用中"),
    "suspended": _l("暂停使用"),
    "closed": _l("已关闭"),
}

STRUCTURES = {
    "frame": _l("钢筋混凝土框架"),
    "masonry": _l("砖混"),
    "steel": _l("钢结构"),
    "other": _l("其他"),
}

# The acceptance items bureaus check at a standardized site (规范化验收).
CHECKLIST = {
    "siting": _l("选址安全（避开地质灾害点、洪涝区）"),
    "building": _l("房屋安全（质量检测合格）"),
    "signage": _l("标识标牌（指示牌、场所牌、疏散图）"),
    "facilities": _l("设施设备（供水、供电、厕所、照明、通风）"),
    "supplies": _l("物资储备（床铺、棉被、食品、饮用水在有效期内）"),
}
CHECK_RESULTS = {"pass": _l("合格"), "fail": _l("不合格"), "na": _l("不适用")}

shelter_villages = Table(
    "shelter_villages",
    Base.metadata,
    Column("shelter_id", ForeignKey("shelters.id"), primary_key=True),
    Column("village_id", ForeignKey("villages.id"), primary_key=True, index=True),
)


class Village(Base):
    """A village or community (村/社区) of a town, with the people to move in a flood."""

    __tablename__ = "villages"
    __table_args__ = (
        UniqueConstraint("town_id", "name"),
        CheckConstraint("population >= 0", name="population_not_negative"),
        CheckConstraint("to_relocate >= 0", name="to_relocate_not_negative"),
        CheckConstraint("to_relocate <= population", name="to_relocate_within_population"),
        CheckConstraint("kind IN ('village', 'community')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10), default="village")
    population: Mapped[int] = mapped_column(default=0)
    to_relocate: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    town: Mapped[Unit] = relationship()
    shelters: Mapped[list[Shelter]] = relationship(
        secondary=shelter_villages, back_populates="villages"
    )

    @property
    def kind_label(self) -> str:
        return str(VILLAGE_KINDS.get(self.kind, self.kind))


class Shelter(Base):
    """A shelter site (避灾安置场所)."""

    __tablename__ = "shelters"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("area_m2 IS NULL OR area_m2 >= 0", name="area_not_negative"),
        CheckConstraint("level IN ('county', 'town', 'village')", name="level_known"),
        CheckConstraint(
            "status IN ('planned', 'construction', 'active', 'suspended', 'closed')",
            name="status_known",
        ),
        # "standardized" is an acceptance: it has a date
        CheckConstraint(
            "is_standardized = false OR standardized_on IS NOT NULL", name="standardized_dated"
        ),
        UniqueConstraint("town_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # the stock-holding unit (kind "shelter"), made when the site is first active
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), unique=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    level: Mapped[str] = mapped_column(String(10), default="village")
    capacity: Mapped[int] = mapped_column(default=0)
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    structure: Mapped[str] = mapped_column(String(20), default="frame")
    is_accessible: Mapped[bool] = mapped_column(default=False)
    has_generator: Mapped[bool] = mapped_column(default=False)
    is_in_floodplain: Mapped[bool] = mapped_column(default=False)
    is_standardized: Mapped[bool] = mapped_column(default=False)
    standardized_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    manager_name: Mapped[str] = mapped_column(String(60), default="")
    manager_phone: Mapped[str] = mapped_column(String(40), default="")
    contacts: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    villages: Mapped[list[Village]] = relationship(
        secondary=shelter_villages, back_populates="shelters", order_by="Village.name"
    )
    inspections: Mapped[list[Inspection]] = relationship(
        back_populates="shelter", order_by="(Inspection.inspected_on.desc(), Inspection.id.desc())"
    )
    defects: Mapped[list[Defect]] = relationship(back_populates="shelter", order_by="Defect.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def level_label(self) -> str:
        return str(LEVELS.get(self.level, self.level))

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def structure_label(self) -> str:
        return str(STRUCTURES.get(self.structure, self.structure))

    @property
    def counts_for_coverage(self) -> bool:
        return self.status == "active" and self.is_standardized


class Inspection(Base):
    """One visit to a site: the acceptance checklist, supplies, subsidy paid."""

    __tablename__ = "shelter_inspections"
    __table_args__ = (
        CheckConstraint("replenished_qty >= 0", name="replenished_not_negative"),
        CheckConstraint("rotated_qty >= 0", name="rotated_not_negative"),
        CheckConstraint("subsidy >= 0", name="subsidy_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"), index=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    inspector: Mapped[str] = mapped_column(String(60), default="")
    # item code -> "pass" | "fail" | "na"
    checklist: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # pieces of relief supplies added, and expired pieces taken out and replaced
    replenished_qty: Mapped[int] = mapped_column(default=0)
    rotated_qty: Mapped[int] = mapped_column(default=0)
    subsidy: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    note: Mapped[str] = mapped_column(Text, default="")
    # one per form shown: a double-submitted inspection form records one inspection
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shelter: Mapped[Shelter] = relationship(back_populates="inspections")
    recorded_by: Mapped[User | None] = relationship()
    defects: Mapped[list[Defect]] = relationship(back_populates="inspection", order_by="Defect.id")

    @property
    def failed_items(self) -> list[str]:
        return [k for k in CHECKLIST if self.checklist.get(k) == "fail"]


class Defect(Base):
    """A problem found at an inspection; the site needs attention until it is resolved."""

    __tablename__ = "shelter_defects"
    __table_args__ = (
        CheckConstraint("is_resolved = false OR resolved_on IS NOT NULL", name="resolved_has_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"), index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("shelter_inspections.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    is_resolved: Mapped[bool] = mapped_column(default=False)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    shelter: Mapped[Shelter] = relationship(back_populates="defects")
    inspection: Mapped[Inspection] = relationship(back_populates="defects")
    resolved_by: Mapped[User | None] = relationship()

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
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User
from rectification.models import CorrectiveAction

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

# An acceptance (规范化验收) of a site: asked for by its town, recorded by command staff,
# possibly withdrawn later. Only an "accepted" one makes the site standardized.
ACCEPTANCE_STATUSES = {
    "requested": _l("待验收"),
    "accepted": _l("已验收"),
    "withdrawn": _l("已撤销验收"),
}

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
    acceptances: Mapped[list[Acceptance]] = relationship(
        back_populates="shelter", order_by="Acceptance.id.desc()"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def acceptance(self) -> Acceptance | None:
        """The acceptance in force (None when the site is not standardized)."""
        return next((a for a in self.acceptances if a.status == "accepted"), None)

    @property
    def acceptance_request(self) -> Acceptance | None:
        """The town's request for acceptance still waiting for command staff."""
        return next((a for a in self.acceptances if a.status == "requested"), None)

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
    """A problem found at an inspection. It is a corrective action in the register (source
    ``shelter``): reported fixed (``is_resolved``) is the action reported done; the site needs
    attention until the action is closed (verified by a second person, or cancelled)."""

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
    # the defect's corrective action (every defect has one, except old ones whose town had
    # nobody to own it when migration 0018 ran)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id"), unique=True)

    shelter: Mapped[Shelter] = relationship(back_populates="defects")
    inspection: Mapped[Inspection] = relationship(back_populates="defects")
    resolved_by: Mapped[User | None] = relationship()
    action: Mapped[CorrectiveAction | None] = relationship()

    @property
    def action_status(self) -> str | None:
        return self.action.status if self.action is not None else None

    @property
    def action_due_on(self) -> date | None:
        return self.action.due_on if self.action is not None else None

    @property
    def is_open(self) -> bool:
        """Does the site still need attention for it: its action is not closed (an old defect
        without an action: not reported fixed)."""
        if self.action is not None:
            return self.action.status not in ("verified", "cancelled")
        return not self.is_resolved


class Acceptance(Base):
    """One acceptance of a site (规范化验收): the town's request, command staff's acceptance
    with its documents, and its withdrawal; the rows of a site are its history."""

    __tablename__ = "shelter_acceptances"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'accepted', 'withdrawn')", name="status_known"),
        # a request is dated and not yet accepted; an acceptance is dated
        CheckConstraint(
            "status <> 'requested' OR (requested_at IS NOT NULL AND accepted_on IS NULL)",
            name="request_dated",
        ),
        CheckConstraint(
            "status = 'requested' OR (accepted_on IS NOT NULL AND accepted_at IS NOT NULL)",
            name="acceptance_dated",
        ),
        # a withdrawal says when and why
        CheckConstraint(
            "status <> 'withdrawn' OR (withdrawn_at IS NOT NULL AND withdrawal_reason <> '')",
            name="withdrawal_reasoned",
        ),
        # the acceptor is not whoever asked for it (NULL: the system, at migration)
        CheckConstraint(
            "accepted_by_id IS NULL OR requested_by_id IS NULL"
            " OR accepted_by_id <> requested_by_id",
            name="accepted_by_another",
        ),
        # at most one request waiting, or one acceptance in force, per site
        Index(
            "uq_shelter_acceptances_open",
            "shelter_id",
            unique=True,
            sqlite_where=text("status IN ('requested', 'accepted')"),
            postgresql_where=text("status IN ('requested', 'accepted')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    request_note: Mapped[str] = mapped_column(Text, default="")
    accepted_on: Mapped[date | None] = mapped_column(Date)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # NULL with accepted_on set: accepted by the system (carried over by migration 0013)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")

    shelter: Mapped[Shelter] = relationship(back_populates="acceptances")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    documents: Mapped[list[AcceptanceDocument]] = relationship(
        back_populates="acceptance", order_by="AcceptanceDocument.id"
    )

    @property
    def status_label(self) -> str:
        return str(ACCEPTANCE_STATUSES.get(self.status, self.status))


class AcceptanceDocument(Base):
    """A document of an acceptance (the building-safety test report, photos, the signed
    acceptance form). The bytes live in the attachment folder, named by their SHA-256."""

    __tablename__ = "shelter_acceptance_documents"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    acceptance_id: Mapped[int] = mapped_column(ForeignKey("shelter_acceptances.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    acceptance: Mapped[Acceptance] = relationship(back_populates="documents")
    uploaded_by: Mapped[User | None] = relationship()


class CoverageTarget(Base):
    """The coverage target command staff of a unit set: it applies to the towns below the
    unit, unless a unit nearer to the town sets its own."""

    __tablename__ = "coverage_targets"
    __table_args__ = (CheckConstraint("target > 0 AND target <= 1", name="target_fraction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    # a fraction: 0.6 is 60%
    target: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    set_by: Mapped[User | None] = relationship()

"""Drills, their objectives and findings, corrective actions, and drill requirements."""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inventory.models import Item
from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User
from rectification.models import (  # noqa: F401 - the register's names, as drills used them
    ACTION_STATUSES,
    EXTENSION_STATUSES,
    ActionExtension,
    ActionReturn,
    CorrectiveAction,
    DueDateChange,
)

# The kinds the seeds name: code -> (name, international family). They are written to the
# drill_kinds table by a migration; command staff add more there. Codes are what the API uses.
SEED_DRILL_KINDS = {
    "flood_drill": (_l("大型防汛演练"), "full_scale"),
    "field_exercise": (_l("实战大练兵"), "functional"),
    "training_drill": (_l("防汛应急培训演练"), "drill"),
    "combat_unit_drill": (_l("最小作战单元训练"), "drill"),
    "tabletop": (_l("桌面推演"), "tabletop"),
}
FAMILIES = {
    "tabletop": _l("桌面推演类"),
    "drill": _l("单项演练"),
    "functional": _l("功能演练"),
    "full_scale": _l("综合实战演练"),
}
FORMS = {"live": _l("实战"), "tabletop": _l("桌面")}
SCOPES = {"comprehensive": _l("综合"), "single": _l("单项")}
DRILL_STATUSES = {
    "planned": _l("计划中"),
    "held": _l("已实施"),
    "evaluated": _l("已评估"),
    "closed": _l("已归档"),
}
RATINGS = {
    "P": _l("圆满完成"),
    "S": _l("基本完成，存在一些问题"),
    "M": _l("存在重大问题"),
    "U": _l("未能完成"),
}
ELEMENTS = {
    "planning": _l("预案"),
    "organisation": _l("组织指挥"),
    "equipment": _l("装备"),
    "training": _l("培训"),
    "exercise": _l("演练"),
}
ATTACHMENT_KINDS = {
    "sign_in": _l("签到表"),
    "photo": _l("照片"),
    "plan": _l("演练方案"),
    "evaluation": _l("评估报告"),
    "evidence": _l("整改证据"),
    "other": _l("其他"),
}


class DrillKind(Base):
    """A kind of drill (configurable), mapped to an international exercise family."""

    __tablename__ = "drill_kinds"
    __table_args__ = (
        CheckConstraint(
            "family IN ('tabletop', 'drill', 'functional', 'full_scale')", name="family_known"
        ),
    )

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    family: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=100)
    # The unit whose command staff added it: offered within that unit's subtree only.
    # None: seeded, offered everywhere.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)

    unit: Mapped[Unit | None] = relationship()

    @property
    def label(self) -> str:
        # Seeded names are catalog entries (translated); names added later show as typed.
        return gettext(self.name)


drill_units = Table(
    "drill_units",
    Base.metadata,
    Column("drill_id", ForeignKey("drills.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    # compliance and the drill list look drills up by unit
    Index("ix_drill_units_unit_id_drill_id", "unit_id", "drill_id"),
)
drill_items = Table(
    "drill_items",
    Base.metadata,
    Column("drill_id", ForeignKey("drills.id"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True),
)


class Drill(Base):
    __tablename__ = "drills"
    __table_args__ = (
        CheckConstraint("participants >= 0", name="participants_not_negative"),
        CheckConstraint("duration_minutes >= 0", name="duration_not_negative"),
        Index("ix_drills_lead_unit_held_on", "lead_unit_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(ForeignKey("drill_kinds.code"))
    form: Mapped[str] = mapped_column(String(10), default="live")  # live | tabletop
    scope: Mapped[str] = mapped_column(String(20), default="comprehensive")  # or single
    hazard: Mapped[str] = mapped_column(String(100), default="")
    scenario: Mapped[str] = mapped_column(Text, default="")
    held_on: Mapped[date] = mapped_column(Date, index=True)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(default=0)
    location: Mapped[str] = mapped_column(String(200), default="")
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    participants: Mapped[int] = mapped_column(default=0)
    roster: Mapped[str] = mapped_column(Text, default="")
    hands_on_training: Mapped[bool] = mapped_column(default=False)
    purpose: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # what happened
    problems: Mapped[str] = mapped_column(Text, default="")  # problems and their causes
    lessons: Mapped[str] = mapped_column(Text, default="")
    is_real_incident: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="held")
    # one per form shown: a double-submitted record form creates one drill
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    kind_row: Mapped[DrillKind] = relationship()
    lead_unit: Mapped[Unit] = relationship()
    units: Mapped[list[Unit]] = relationship(secondary=drill_units)
    items: Mapped[list[Item]] = relationship(secondary=drill_items)
    objectives: Mapped[list[DrillObjective]] = relationship(
        back_populates="drill", order_by="DrillObjective.id", cascade="all, delete-orphan"
    )
    findings: Mapped[list[Finding]] = relationship(
        back_populates="drill", order_by="Finding.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="drill", order_by="Attachment.id"
    )


class DrillObjective(Base):
    __tablename__ = "drill_objectives"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating IN ('P', 'S', 'M', 'U')", name="rating_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[str | None] = mapped_column(String(1))

    drill: Mapped[Drill] = relationship(back_populates="objectives")


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("drill_objectives.id"))
    is_strength: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)

    drill: Mapped[Drill] = relationship(back_populates="findings")
    objective: Mapped[DrillObjective | None] = relationship()
    actions: Mapped[list[CorrectiveAction]] = relationship(
        back_populates="finding", order_by="CorrectiveAction.id"
    )


class Attachment(Base):
    """A file kept with a drill (sign-in sheet, photos, plan, evaluation) or with a corrective
    action as evidence. The bytes live under instance/ named by their SHA-256."""

    __tablename__ = "drill_attachments"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="other")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    drill: Mapped[Drill] = relationship(back_populates="attachments")
    action: Mapped[CorrectiveAction | None] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class DrillRequirement(Base):
    """How often each kind of unit must hold a kind of drill: so many a year, or one every
    so many days (e.g. an on-site drill every 182 days)."""

    __tablename__ = "drill_requirements"
    __table_args__ = (
        UniqueConstraint("unit_id", "unit_kind", "drill_kind"),
        # the set that applies everywhere (no unit) is unique too (NULLs are distinct)
        Index(
            "uq_drill_requirements_everywhere",
            "unit_kind",
            "drill_kind",
            unique=True,
            sqlite_where=text("unit_id IS NULL"),
            postgresql_where=text("unit_id IS NULL"),
        ),
        CheckConstraint(
            "(per_year > 0 AND interval_days IS NULL) OR (per_year IS NULL AND interval_days > 0)",
            name="per_year_or_interval",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unit whose command staff set it, applying to its subtree (the nearest unit's set
    # wins); None: applies everywhere.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    unit_kind: Mapped[str] = mapped_column(String(20))
    drill_kind: Mapped[str] = mapped_column(ForeignKey("drill_kinds.code"))
    per_year: Mapped[int | None]
    interval_days: Mapped[int | None]

    @property
    def required(self) -> int:
        """Drills required in a calendar year."""
        if self.per_year:
            return self.per_year
        return max(1, 365 // self.interval_days)


CERTIFICATE_KINDS = {
    "first_aid": _l("应急救护"),
    "rescue_equipment": _l("救援装备操作"),
    "enforcement": _l("行政执法"),
}


class TrainingSession(Base):
    """A training course held for a unit (e.g. rescue-equipment hands-on training)."""

    __tablename__ = "training_sessions"
    __table_args__ = (CheckConstraint("trainees >= 0", name="trainees_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    trainees: Mapped[int] = mapped_column(default=0)
    trainee_names: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class Certificate(Base):
    """A certificate one member of a unit holds (first aid, rescue equipment, enforcement)."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("kind", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    person_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(60))
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


# The register (rectification) knows no drill: a corrective action's finding and its
# evidence files are drill records, attached to it from here, the floor above.
CorrectiveAction.finding = relationship(Finding, back_populates="actions")
CorrectiveAction.attachments = relationship(
    Attachment, back_populates="action", order_by=Attachment.id
)

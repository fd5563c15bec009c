"""Warehouse safety rounds (库区"日周月"隐患排查, issue 20, item 3): the checklists command
staff keep per unit and frequency, and each round a keeper records against one.

A checklist's items are a JSON list on the template, not rows of their own: they are only
ever read and replaced as a whole, and each answer keeps the item's text as it was asked,
so a later edit of the checklist never rewrites a past round.
"""

from __future__ import annotations

from datetime import date, datetime

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

from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User
from rectification.models import CorrectiveAction

FREQUENCIES = {"daily": _l("日排查"), "weekly": _l("周排查"), "monthly": _l("月排查")}


class RoundTemplate(Base):
    """A unit's checklist for one frequency; it applies to the units below it, the nearest
    unit's winning."""

    __tablename__ = "round_templates"
    __table_args__ = (
        CheckConstraint("frequency IN ('daily', 'weekly', 'monthly')", name="frequency_known"),
        UniqueConstraint("unit_id", "frequency", name="uq_round_templates_unit_frequency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    frequency: Mapped[str] = mapped_column(String(10))
    items: Mapped[list] = mapped_column(JSON)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a period that ended before the checklist existed is never missed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class SafetyRound(Base):
    """One round of a unit for one frequency and period (day, ISO week or month): at most
    one per period."""

    __tablename__ = "safety_rounds"
    __table_args__ = (
        CheckConstraint("frequency IN ('daily', 'weekly', 'monthly')", name="frequency_known"),
        CheckConstraint("period_start <= done_on", name="done_in_period"),
        UniqueConstraint(
            "unit_id", "frequency", "period_start", name="uq_safety_rounds_unit_period"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    answers: Mapped[list[RoundAnswer]] = relationship(
        back_populates="round", order_by="RoundAnswer.position"
    )

    @property
    def failed(self) -> int:
        return sum(1 for a in self.answers if not a.is_ok)


class RoundAnswer(Base):
    """One checklist item of a round, as asked, passed or failed; a failed item says why
    and has its corrective action in the register."""

    __tablename__ = "safety_round_answers"
    __table_args__ = (
        CheckConstraint("is_ok OR note <> ''", name="fail_has_note"),
        UniqueConstraint("round_id", "position", name="uq_safety_round_answers_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("safety_rounds.id"))
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(String(200))
    is_ok: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id"), index=True)

    round: Mapped[SafetyRound] = relationship(back_populates="answers")
    action: Mapped[CorrectiveAction | None] = relationship()

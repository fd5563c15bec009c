"""The register of corrective actions (整改台账): what must change, who owns it, the
evidence that it did change, and its life — done, verified by a second person, returned for
rework, due dates moved only by an extension someone else approves, cancelled only by
command staff with a reason.

Drill findings are its first source; the register knows no drill (a drill's finding sets
``CorrectiveAction.finding`` and its files ``CorrectiveAction.attachments`` from the drills
package above it).
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User

# Where a problem was found: the register's sources (GET /api/v1/actions?source=).
SOURCES = {
    "inspection": _l("督察检查"),
    "drill": _l("演练"),
    "shelter": _l("避灾场所检查"),
    "count": _l("盘点差异"),
    "self": _l("自查"),
    "round": _l("库区排查"),
    "preseason": _l("汛前检查"),
}
# A problem is rectified (销号) when a second person verified it or command staff cancelled
# it; "done, awaiting verification" is still open.
CLOSED_STATUSES = ("verified", "cancelled")
# Kinds of inspection visit (POST /api/v1/inspection-visits "kind").
VISIT_KINDS = {
    "inspection_tour": _l("巡察"),
    "supervision": _l("督察"),
    "check": _l("检查"),
    "unannounced": _l("暗访"),
    "follow_up": _l("回头看"),
}

ACTION_STATUSES = {
    "open": _l("未开始"),
    "in_progress": _l("整改中"),
    "done": _l("已完成待验证"),
    "verified": _l("已验证销号"),
    "cancelled": _l("已取消"),
}


class CorrectiveAction(Base):
    """What must change after a finding, who owns it, and proof that it did change."""

    __tablename__ = "corrective_actions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'verified', 'cancelled')",
            name="status_known",
        ),
        # "Done on paper" cannot pass: done and verified need evidence, verified a verifier.
        CheckConstraint(
            "status NOT IN ('done', 'verified') OR evidence <> ''", name="done_has_evidence"
        ),
        # Verified by a second person: neither the owner nor whoever reported it done.
        CheckConstraint(
            "status <> 'verified' OR (verified_by_id IS NOT NULL AND verified_by_id <> owner_id"
            " AND (done_by_id IS NULL OR verified_by_id <> done_by_id))",
            name="verified_by_another",
        ),
        Index("ix_corrective_actions_owner_status", "owner_id", "status"),
        CheckConstraint(
            "source IN ('inspection', 'drill', 'shelter', 'count', 'self', 'round', 'preseason')",
            name="source_known",
        ),
        # each source names where the problem was found
        CheckConstraint("source <> 'drill' OR finding_id IS NOT NULL", name="drill_has_finding"),
        CheckConstraint(
            "source <> 'inspection' OR visit_id IS NOT NULL", name="inspection_has_visit"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), default="drill", index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_visits.id"), index=True)
    # the problem as found
    text: Mapped[str] = mapped_column(Text)
    # 整改措施: the measures planned, and the responsible leader (责任领导) by name
    measures: Mapped[str] = mapped_column(Text, default="")
    leader: Mapped[str] = mapped_column(String(60), default="")
    element: Mapped[str] = mapped_column(String(20), default="planning")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    evidence: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    unit: Mapped[Unit] = relationship()
    visit: Mapped[InspectionVisit | None] = relationship(back_populates="actions")
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    due_changes: Mapped[list[DueDateChange]] = relationship(
        back_populates="action", order_by="DueDateChange.id"
    )
    extensions: Mapped[list[ActionExtension]] = relationship(
        back_populates="action", order_by="ActionExtension.id"
    )
    returns: Mapped[list[ActionReturn]] = relationship(
        back_populates="action", order_by="ActionReturn.id"
    )

    @property
    def pending_extension(self) -> ActionExtension | None:
        """The extension request waiting for a decision, if any (at most one)."""
        return next((e for e in self.extensions if e.status == "pending"), None)


class DueDateChange(Base):
    """A moved due date and why: kept, so a deadline cannot slip silently."""

    __tablename__ = "action_due_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    old_due_on: Mapped[date] = mapped_column(Date)
    new_due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    action: Mapped[CorrectiveAction] = relationship(back_populates="due_changes")
    changed_by: Mapped[User | None] = relationship()


EXTENSION_STATUSES = {
    "pending": _l("待审批"),
    "approved": _l("已批准"),
    "rejected": _l("已驳回"),
}


class ActionExtension(Base):
    """A request to move an action's due date: the old date stands until someone other
    than the requester (command staff or an inspector) approves it."""

    __tablename__ = "action_extensions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
        CheckConstraint("due_on > old_due_on", name="later_than_before"),
        CheckConstraint(
            "(status = 'pending' AND decided_by_id IS NULL AND decided_at IS NULL)"
            " OR (status <> 'pending' AND decided_by_id IS NOT NULL AND decided_at IS NOT NULL"
            " AND decided_by_id <> requested_by_id)",
            name="decided_by_another",
        ),
        CheckConstraint("status <> 'rejected' OR decision_reason <> ''", name="refusal_reason"),
        # at most one request waits per action
        Index(
            "uq_action_extensions_pending",
            "action_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    old_due_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    action: Mapped[CorrectiveAction] = relationship(back_populates="extensions")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class ActionReturn(Base):
    """A done action sent back for rework, with the reason and the evidence it was sent
    back with."""

    __tablename__ = "action_returns"
    __table_args__ = (
        CheckConstraint(
            "done_by_id IS NULL OR returned_by_id <> done_by_id", name="returned_by_another"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    action: Mapped[CorrectiveAction] = relationship(back_populates="returns")
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    returned_by: Mapped[User] = relationship(foreign_keys=[returned_by_id])


class InspectionVisit(Base):
    """A visit by an inspection team (巡察、督察、检查、暗访、回头看) or a superior unit's
    check: what it found becomes corrective actions of the units visited."""

    __tablename__ = "inspection_visits"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('inspection_tour', 'supervision', 'check', 'unannounced', 'follow_up')",
            name="kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    # the unit visited: its findings belong to it or to units below it
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    team: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    created_by: Mapped[User | None] = relationship()
    actions: Mapped[list[CorrectiveAction]] = relationship(
        back_populates="visit", order_by="CorrectiveAction.id"
    )

"""Money that follows the gap (issue 20, items 4–7): the leadership group and its collective
decisions (三重一大), each bureau's reserve fund (储备金) and its ledger, purchase requests
drawn from the shortfall with their expected deliveries, and shelter subsidies.

Money is ``Numeric(14, 2)`` yuan everywhere. A fund's balance is one row per bureau changed
by a single ``UPDATE … SET balance = balance + :amount`` under a CHECK ``balance >= 0``: two
spendings at once can never take it below zero, whichever database runs it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inventory.models import Item, Movement
from readiness.db import Base, UTCDateTime, utcnow
from readiness.models import Unit, User

MONEY = Numeric(14, 2)

OUTCOMES = {"approved": _l("通过"), "rejected": _l("不通过"), "deferred": _l("暂缓")}
POSITIONS = {"agree": _l("同意"), "oppose": _l("不同意"), "reserve": _l("保留意见")}

FUND_KINDS = {
    "appropriation": _l("拨入"),
    "purchase": _l("采购支出"),
    "subsidy": _l("补助支出"),
    "repair": _l("维修支出"),
    "allocation_subsidy": _l("调配补贴"),
}
SPENDING_KINDS = ("purchase", "subsidy", "repair", "allocation_subsidy")

FUNDING_SOURCES = {
    "reserve_fund": _l("应急物资储备金"),
    "finance": _l("财政专项资金"),
    "superior": _l("上级补助资金"),
    "other": _l("其他资金"),
}

PURCHASE_STATUSES = {
    "draft": _l("草稿"),
    "submitted": _l("已报送"),
    "approved": _l("已批准"),
    "partly": _l("部分批准"),
    "refused": _l("未批准"),
}

SUBSIDY_STATUSES = {
    "proposed": _l("待审批"),
    "approved": _l("已批准并拨付"),
    "refused": _l("未批准"),
}


class LeadershipMember(Base):
    """A member of a bureau's leadership group (领导班子), who sits in its collective
    decisions; the head of unit (主要负责人) speaks last."""

    __tablename__ = "leadership_members"
    __table_args__ = (
        UniqueConstraint("unit_id", "user_id", name="uq_leadership_members_unit_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(40), default="")
    is_head: Mapped[bool] = mapped_column(default=False)

    unit: Mapped[Unit] = relationship()
    user: Mapped[User] = relationship()


class Decision(Base):
    """A collective decision (三重一大集体决策) on one matter of spending: who sat, in the
    order they spoke, each one's position, what was decided and up to what amount."""

    __tablename__ = "collective_decisions"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("outcome IN ('approved', 'rejected', 'deferred')", name="outcome_known"),
        CheckConstraint("members_total > 0", name="members_total_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    met_on: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10), default="approved")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    # the size of the leadership group on the day: the quorum was counted against it
    members_total: Mapped[int] = mapped_column(Integer)
    minutes_sha256: Mapped[str | None] = mapped_column(String(64))
    minutes_type: Mapped[str | None] = mapped_column(String(100))
    minutes_name: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    unit: Mapped[Unit] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    attendees: Mapped[list[DecisionAttendee]] = relationship(
        back_populates="decision", order_by="DecisionAttendee.seq", cascade="all, delete-orphan"
    )

    @property
    def outcome_label(self) -> str:
        return str(OUTCOMES.get(self.outcome, self.outcome))


class DecisionAttendee(Base):
    """One member at a decision's meeting, in speaking order (the head of unit last)."""

    __tablename__ = "decision_attendees"
    __table_args__ = (
        UniqueConstraint("decision_id", "seq", name="uq_decision_attendees_seq"),
        UniqueConstraint("decision_id", "user_id", name="uq_decision_attendees_user"),
        CheckConstraint(
            "position IS NULL OR position IN ('agree', 'oppose', 'reserve')", name="position_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("collective_decisions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # kept as on the day: a later change of name or post does not rewrite the minutes
    name: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(40), default="")
    is_head: Mapped[bool] = mapped_column(default=False)
    # None: the position was not taken down one by one (the minutes say it)
    position: Mapped[str | None] = mapped_column(String(10))
    remark: Mapped[str] = mapped_column(Text, default="")

    decision: Mapped[Decision] = relationship(back_populates="attendees")
    user: Mapped[User] = relationship()

    @property
    def position_label(self) -> str:
        return str(POSITIONS.get(self.position, "")) if self.position else ""


class Fund(Base):
    """A bureau's reserve fund (应急物资储备金): its balance, never below zero."""

    __tablename__ = "reserve_funds"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))

    unit: Mapped[Unit] = relationship()


class FundEntry(Base):
    """One line of a fund's ledger: money in (positive) or out (negative), and the balance
    after it. Never updated; what it paid is named by ``object_type``/``object_id``, once."""

    __tablename__ = "fund_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint(
            "kind IN ('appropriation', 'purchase', 'subsidy', 'repair', 'allocation_subsidy')",
            name="kind_known",
        ),
        CheckConstraint(
            "(kind = 'appropriation') = (amount > 0)", name="appropriations_in_spending_out"
        ),
        UniqueConstraint("object_type", "object_id", name="uq_fund_entries_object"),
        Index("ix_fund_entries_unit_booked", "unit_id", "booked_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("reserve_funds.unit_id"))
    booked_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    balance_after: Mapped[Decimal] = mapped_column(MONEY)
    # the document: 文号 of an appropriation, or what was paid
    reference: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("collective_decisions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    decision: Mapped[Decision | None] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    @property
    def kind_label(self) -> str:
        return str(FUND_KINDS.get(self.kind, self.kind))


class PurchaseRequest(Base):
    """A purchase request (购置申请) of a bureau to its party committee and finance bureau:
    draft → submitted → approved | partly | refused."""

    __tablename__ = "purchase_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'partly', 'refused')",
            name="status_known",
        ),
        CheckConstraint(
            "approved_amount IS NULL OR approved_amount >= 0", name="approved_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    addressee: Mapped[str] = mapped_column(String(200), default="")
    basis: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    funding_source: Mapped[str | None] = mapped_column(String(20))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("collective_decisions.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    decision: Mapped[Decision | None] = relationship()
    lines: Mapped[list[PurchaseLine]] = relationship(
        back_populates="request", order_by="PurchaseLine.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return str(PURCHASE_STATUSES.get(self.status, self.status))

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class PurchaseLine(Base):
    """What one receiving unit should get of one item, at what unit price; once approved,
    an expected delivery that receipts close."""

    __tablename__ = "purchase_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint(
            "approved_qty IS NULL OR (approved_qty >= 0 AND approved_qty <= qty)",
            name="approved_within_requested",
        ),
        CheckConstraint("delivered >= 0", name="delivered_not_negative"),
        UniqueConstraint("request_id", "unit_id", "item_id", name="uq_purchase_lines_unit_item"),
        Index("ix_purchase_lines_unit_item", "unit_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("purchase_requests.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    approved_qty: Mapped[int | None] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer, default=0)

    request: Mapped[PurchaseRequest] = relationship(back_populates="lines")
    unit: Mapped[Unit] = relationship()
    item: Mapped[Item] = relationship()
    deliveries: Mapped[list[PurchaseDelivery]] = relationship(
        back_populates="line", order_by="PurchaseDelivery.id"
    )

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.qty

    @property
    def expected(self) -> int:
        """Still to come: approved and not yet delivered."""
        return max(0, (self.approved_qty or 0) - self.delivered)


class PurchaseDelivery(Base):
    """A receipt posted against a purchase line (the ledger's movement says the rest)."""

    __tablename__ = "purchase_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("purchase_lines.id"), index=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id"), unique=True)
    qty: Mapped[int] = mapped_column(Integer)

    line: Mapped[PurchaseLine] = relationship(back_populates="deliveries")
    movement: Mapped[Movement] = relationship()


class Subsidy(Base):
    """A shelter subsidy (避灾安置场所补助) proposed on an inspection: approved by command
    staff (and by collective decision over the threshold), then paid from the fund."""

    __tablename__ = "shelter_subsidies"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('proposed', 'approved', 'refused')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("shelter_inspections.id"), unique=True)
    # the town the money goes to, and the year it counts in
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("collective_decisions.id"))
    fund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("fund_entries.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    decision: Mapped[Decision | None] = relationship()
    fund_entry: Mapped[FundEntry | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return str(SUBSIDY_STATUSES.get(self.status, self.status))

"""The reserve fund (应急物资储备金, issue 20 item 6): one fund per bureau, a ledger of money in
(appropriations) and out (purchases, subsidies, repairs, allocation subsidies), its balance
and a yearly statement.

Spending never takes the balance below zero: the service refuses it with the balance named,
and the database refuses it too (a CHECK on the balance, changed by one ``UPDATE … SET
balance = balance + :amount``), so two payments at the same moment cannot both pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from funding.decisions import Policy, Problems, bureau_for, check_spending
from funding.models import FUND_KINDS, SPENDING_KINDS, Fund, FundEntry
from funding.money import check_money, yuan
from readiness import audit, paging
from readiness.checks import check_note, check_past_date, check_text
from readiness.errors import Conflict, DomainError
from readiness.models import Unit
from readiness.permissions import require

REFERENCE_MAX = 100


class FundTooLow(Conflict):
    """Spending refused: it would take the fund below zero."""


def balance(session: Session, bureau_id: int) -> Decimal:
    value = session.scalar(select(Fund.balance).where(Fund.unit_id == bureau_id))
    return Decimal(value or 0).quantize(Decimal("0.01"))


def booked_on_date(value, today: date) -> date:
    """The booking date: today when not given."""
    if value in (None, ""):
        return today
    return check_past_date(value, "booked_on", label=_("记账日期"), today=today)


def too_low(bureau: Unit, amount: Decimal, left: Decimal) -> FundTooLow:
    return FundTooLow(
        _("{bureau}储备金余额 {balance} 元，不足以支出 {amount} 元，未做任何修改。").format(
            bureau=bureau.name, balance=yuan(left), amount=yuan(amount)
        ),
        field="amount",
    )


def post(
    session: Session,
    bureau: Unit,
    *,
    kind: str,
    amount: Decimal,
    booked_on: date,
    actor,
    reference: str = "",
    note: str = "",
    obj: tuple[str, int] | None = None,
    decision_id: int | None = None,
    request_key: str | None = None,
) -> FundEntry:
    """Write one line of the fund's ledger (``amount`` signed: in positive, out negative).
    Callers have checked the permission and the rules; this keeps the balance honest."""
    if session.get(Fund, bureau.id) is None:
        session.add(Fund(unit_id=bureau.id, balance=Decimal("0.00")))
        session.flush()
    try:
        with session.begin_nested():
            new_balance = session.execute(
                update(Fund)
                .where(Fund.unit_id == bureau.id)
                .values(balance=Fund.balance + amount)
                .returning(Fund.balance)
                .execution_options(synchronize_session=False)
            ).scalar_one()
    except IntegrityError:
        raise too_low(bureau, -amount, balance(session, bureau.id)) from None
    fund = session.get(Fund, bureau.id)
    session.expire(fund, ["balance"])
    entry = FundEntry(
        unit_id=bureau.id,
        booked_on=booked_on,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        reference=reference,
        note=note,
        object_type=obj[0] if obj else None,
        object_id=obj[1] if obj else None,
        decision_id=decision_id,
        recorded_by_id=getattr(actor, "id", None),
        request_key=request_key or None,
    )
    session.add(entry)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("这笔款项已经登记过，未重复记账。")) from None
    audit.record(
        session,
        actor,
        f"fund.{kind}",
        entry,
        unit_id=bureau.id,
        after={
            "amount": str(amount),
            "balance": str(new_balance),
            "reference": reference,
            "object": f"{obj[0]}:{obj[1]}" if obj else None,
            "decision": decision_id,
        },
        summary=note or reference,
    )
    return entry


def spend(
    session: Session,
    bureau: Unit,
    *,
    kind: str,
    amount: Decimal,
    booked_on: date,
    actor,
    obj: tuple[str, int] | None,
    reference: str = "",
    note: str = "",
    decision_id: int | None = None,
) -> FundEntry:
    """Pay from the fund for something approved (a purchase, a subsidy, a repair): refused,
    changing nothing, when the balance is too low."""
    if kind not in SPENDING_KINDS:
        raise DomainError(_("未知的支出类别。"), field="kind")
    left = balance(session, bureau.id)
    if amount > left:
        raise too_low(bureau, amount, left)
    return post(
        session,
        bureau,
        kind=kind,
        amount=-amount,
        booked_on=booked_on,
        actor=actor,
        reference=reference,
        note=note,
        obj=obj,
        decision_id=decision_id,
    )


def appropriate(
    session: Session,
    unit: Unit,
    *,
    amount,
    reference,
    actor,
    booked_on=None,
    note="",
    today: date | None = None,
    request_key: str | None = None,
) -> FundEntry:
    """Command staff book money into their bureau's fund (拨入): an appropriation of the
    finance bureau, with its document number."""
    today = today or date.today()
    bureau = bureau_for(session, unit)
    require(session, actor, "funds.manage", bureau)
    if request_key:
        earlier = session.scalar(select(FundEntry).where(FundEntry.request_key == request_key))
        if earlier is not None:
            return earlier
    problems = Problems()
    amount = problems.check(check_money, amount, "amount", label=_("金额"))
    reference = problems.check(
        check_text, reference, "reference", limit=REFERENCE_MAX, required=True, label=_("文号")
    )
    booked = problems.check(booked_on_date, booked_on, today)
    note = problems.check(check_note, note)
    problems.raise_any()
    return post(
        session,
        bureau,
        kind="appropriation",
        amount=amount,
        booked_on=booked,
        actor=actor,
        reference=reference,
        note=note,
        request_key=request_key,
    )


def pay_expense(
    session: Session,
    unit: Unit,
    *,
    kind: str,
    amount,
    reference,
    policy: Policy,
    actor,
    decision=None,
    obj: tuple[str, int] | None = None,
    booked_on=None,
    note="",
    today: date | None = None,
) -> FundEntry:
    """Command staff pay a repair or an allocation subsidy (调配补贴) from the fund; from the
    threshold up only with a collective decision. A repair is paid by someone other than
    whoever recorded it, once."""
    today = today or date.today()
    bureau = bureau_for(session, unit)
    require(session, actor, "funds.manage", bureau)
    problems = Problems()
    if kind not in ("repair", "allocation_subsidy"):
        problems.add("kind", _("这里只登记维修支出和调配补贴。"))
    amount = problems.check(check_money, amount, "amount", label=_("金额"))
    reference = problems.check(
        check_text, reference, "reference", limit=REFERENCE_MAX, required=True, label=_("用途")
    )
    booked = problems.check(booked_on_date, booked_on, today)
    note = problems.check(check_note, note)
    problems.raise_any()
    if obj is not None and obj[0] == "maintenance_records":
        from inventory.models import MaintenanceRecord

        record_ = session.get(MaintenanceRecord, obj[1])
        if record_ is None or record_.kind != "repair":
            raise DomainError(_("找不到这条维修记录。"), field="record")
        if record_.recorded_by_id is not None and record_.recorded_by_id == getattr(actor, "id", 0):
            raise Conflict(_("维修由您登记，付款须由另一位指挥部人员办理。"))
    entry_decision = check_spending(
        session, decision, bureau_id=bureau.id, amount=amount, policy=policy
    )
    return spend(
        session,
        bureau,
        kind=kind,
        amount=amount,
        booked_on=booked,
        actor=actor,
        obj=obj,
        reference=reference,
        note=note,
        decision_id=entry_decision.id if entry_decision else None,
    )


# The fund's ledger, newest first.
ENTRY_ORDER = paging.Order(
    "fund-entries",
    paging.Key(date, FundEntry.booked_on, descending=True),
    paging.Key(int, FundEntry.id, descending=True),
)


def entries_query(bureau_id: int, year: int | None = None):
    stmt = (
        select(FundEntry)
        .where(FundEntry.unit_id == bureau_id)
        .options(selectinload(FundEntry.recorded_by), selectinload(FundEntry.decision))
        .order_by(FundEntry.booked_on.desc(), FundEntry.id.desc())
    )
    if year is not None:
        stmt = stmt.where(
            FundEntry.booked_on >= date(year, 1, 1), FundEntry.booked_on <= date(year, 12, 31)
        )
    return stmt


@dataclass
class Statement:
    """A year of a fund: opening balance, money in and out by kind, closing balance."""

    year: int
    opening: Decimal
    closing: Decimal
    by_kind: dict[str, Decimal] = field(default_factory=dict)
    entries: list[FundEntry] = field(default_factory=list)

    @property
    def money_in(self) -> Decimal:
        return sum((v for v in self.by_kind.values() if v > 0), Decimal("0.00"))

    @property
    def money_out(self) -> Decimal:
        return -sum((v for v in self.by_kind.values() if v < 0), Decimal("0.00"))

    def rows(self) -> list[tuple[str, str, Decimal]]:
        return [(k, str(FUND_KINDS[k]), self.by_kind.get(k, Decimal("0.00"))) for k in FUND_KINDS]


def statement(session: Session, bureau_id: int, year: int) -> Statement:
    """The fund's year: the opening balance is everything booked before 1 January."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    opening = session.scalar(
        select(func.coalesce(func.sum(FundEntry.amount), 0)).where(
            FundEntry.unit_id == bureau_id, FundEntry.booked_on < start
        )
    )
    by_kind: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for kind, total in session.execute(
        select(FundEntry.kind, func.sum(FundEntry.amount))
        .where(
            FundEntry.unit_id == bureau_id,
            FundEntry.booked_on >= start,
            FundEntry.booked_on <= end,
        )
        .group_by(FundEntry.kind)
    ):
        by_kind[kind] = Decimal(total).quantize(Decimal("0.01"))
    opening = Decimal(opening or 0).quantize(Decimal("0.01"))
    closing = opening + sum(by_kind.values(), Decimal("0.00"))
    rows = list(
        session.scalars(
            entries_query(bureau_id, year)
            .order_by(None)
            .order_by(FundEntry.booked_on, FundEntry.id)
        )
    )
    return Statement(year, opening, closing, dict(by_kind), rows)


def years(session: Session, bureau_id: int) -> list[int]:
    """The years a fund has entries in, newest first."""
    days = session.scalars(
        select(FundEntry.booked_on).where(FundEntry.unit_id == bureau_id).distinct()
    )
    return sorted({d.year for d in days}, reverse=True)

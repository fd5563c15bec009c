"""The reserve fund (储备金): appropriations in, spending out, a balance that never goes below
zero (in the service and in the database), and a yearly statement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from funding import fund
from funding.models import Fund, FundEntry
from readiness.errors import Conflict, DomainError, PermissionDenied
from tests.funding.conftest import POLICY


def test_spending_that_would_take_the_balance_below_zero_is_refused_and_changes_nothing(
    session, office
):
    with pytest.raises(fund.FundTooLow) as err:
        fund.spend(
            session,
            office["bureau"],
            kind="allocation_subsidy",
            amount=Decimal("300000.01"),
            booked_on=date.today(),
            actor=office["approver"],
            obj=("fund_payments", 1),
        )
    assert "300,000.00" in err.value.message and "300,000.01" in err.value.message
    session.rollback()
    assert fund.balance(session, office["bureau"].id) == Decimal("300000.00")
    assert session.scalar(select(func.count()).select_from(FundEntry)) == 1


def test_the_database_itself_refuses_a_negative_balance(session, office):
    with pytest.raises(IntegrityError):
        session.execute(update(Fund).where(Fund.unit_id == office["bureau"].id).values(balance=-1))
        session.flush()
    session.rollback()


def test_a_repair_is_paid_by_someone_other_than_whoever_recorded_it(session, office, make_item):
    from inventory import ledger, maintenance
    from inventory.models import Asset
    from readiness.permissions import SYSTEM

    pump = make_item("PUMP2", name="潜水泵", tracking="serial", unit_cost="8000")
    ledger.record_movement(
        session,
        unit=office["wh"],
        item=pump,
        kind="receipt",
        qty=1,
        serials=["P-1"],
        actor=SYSTEM,
    )
    session.commit()
    asset = session.scalar(select(Asset).where(Asset.serial == "P-1"))
    record = maintenance.record(
        session,
        asset,
        kind="repair",
        done_on=date.today(),
        result="pass",
        cost="3200",
        vendor="郑州水泵厂",
        actor=office["keeper"],
    )
    session.commit()
    entry = fund.pay_expense(
        session,
        office["bureau"],
        kind="repair",
        amount="3200",
        reference="潜水泵 P-1 维修",
        obj=("maintenance_records", record.id),
        policy=POLICY,
        actor=office["approver"],
    )
    session.commit()
    assert entry.amount == Decimal("-3200.00") and entry.balance_after == Decimal("296800.00")
    with pytest.raises(Conflict):  # the same repair is paid once
        fund.pay_expense(
            session,
            office["bureau"],
            kind="repair",
            amount="3200",
            reference="再付一次",
            obj=("maintenance_records", record.id),
            policy=POLICY,
            actor=office["drafter"],
        )


def test_appropriations_check_every_field_at_once_and_only_command_staff_book_them(session, office):
    with pytest.raises(DomainError) as err:
        fund.appropriate(
            session,
            office["bureau"],
            amount="-5",
            reference="",
            booked_on="2099-01-01",
            actor=office["drafter"],
        )
    assert {f for f, _m in err.value.problems} == {"amount", "reference", "booked_on"}
    with pytest.raises(PermissionDenied):
        fund.appropriate(
            session, office["bureau"], amount="5", reference="x", actor=office["keeper"]
        )


def test_the_yearly_statement_carries_the_balance_over(session, office):
    bureau = office["bureau"]
    fund.appropriate(
        session,
        bureau,
        amount="100000",
        reference="上年结转",
        booked_on=date(2025, 3, 1),
        actor=office["drafter"],
    )
    fund.spend(
        session,
        bureau,
        kind="subsidy",
        amount=Decimal("40000"),
        booked_on=date(2025, 12, 20),
        actor=office["approver"],
        obj=("shelter_subsidies", 99),
    )
    session.commit()
    last = fund.statement(session, bureau.id, 2025)
    assert (last.opening, last.money_in, last.money_out, last.closing) == (
        Decimal("0.00"),
        Decimal("100000.00"),
        Decimal("40000.00"),
        Decimal("60000.00"),
    )
    this = fund.statement(session, bureau.id, date.today().year)
    assert this.opening == Decimal("60000.00")
    assert this.closing == fund.balance(session, bureau.id) == Decimal("360000.00")
    assert fund.years(session, bureau.id)[-1] == 2025

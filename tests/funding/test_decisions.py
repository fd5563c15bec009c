"""Collective decisions (三重一大): a quorum of the bureau's leadership group, in speaking
order with the head of unit last, each one's position; spending from the threshold up is
approved only against such a decision, and never beyond what it decided."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from funding import decisions, fund
from funding.models import Decision
from funding.money import capital
from readiness.errors import Conflict, NotFound, PermissionDenied
from readiness.models import AuditEntry
from tests.funding.conftest import POLICY


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("507800", "伍拾万柒仟捌佰元整"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.05", "壹拾万柒仟元零伍分"),
        ("10", "壹拾元整"),
        ("10000500", "壹仟万零伍佰元整"),
        ("100000001", "壹亿零壹元整"),
        ("1.50", "壹元伍角整"),
        ("0.05", "伍分"),
        ("0", "零元整"),
    ],
)
def test_amounts_are_written_in_capital_numerals_as_the_accounting_rules_want(amount, words):
    assert capital(Decimal(amount)) == words


def test_a_decision_keeps_who_sat_in_speaking_order_and_each_position(session, office, decide):
    entry = decide(
        "120000",
        positions=["agree", "agree", "reserve", "agree"],
        remarks=["", "", "建议分两批采购", "同意"],
    )
    assert [(a.seq, a.name, a.position) for a in entry.attendees] == [
        (1, "李副局长", "agree"),
        (2, "王副局长", "agree"),
        (3, "赵政委", "reserve"),
        (4, "张局长", "agree"),
    ]
    assert entry.attendees[-1].is_head and entry.members_total == 4
    assert entry.attendees[2].remark == "建议分两批采购"
    assert "decision.record" in session.scalars(select(AuditEntry.action)).all()


def test_a_meeting_without_a_quorum_or_with_the_head_speaking_first_is_refused_all_at_once(
    session, office
):
    with pytest.raises(decisions.Refused) as err:
        decisions.record_decision(
            session,
            office["bureau"],
            met_on=date.today() + timedelta(days=1),
            attendees=["chief", "deputy1"],
            subject="",
            decision="同意",
            amount="80000",
            policy=POLICY,
            actor=office["drafter"],
        )
    fields = {f for f, _m in err.value.problems}
    assert {"met_on", "subject", "attendees"} <= fields
    message = err.value.message
    assert "到会 2 人" in message and "3 人" in message  # 2/3 of 4 members, rounded up
    assert "末位表态" in message and "张局长" in message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Decision)) == 0


def test_only_members_of_the_bureaus_leadership_group_sit(session, office):
    with pytest.raises(decisions.Refused) as err:
        decisions.record_decision(
            session,
            office["bureau"],
            met_on=date.today(),
            attendees=["deputy1", "approver", "deputy2", "chief"],
            subject="购置",
            decision="同意",
            amount="80000",
            policy=POLICY,
            actor=office["drafter"],
        )
    assert "approver" in err.value.message


def test_a_clerk_cannot_record_a_decision(session, office):
    with pytest.raises(PermissionDenied):
        decisions.record_decision(
            session,
            office["daye"],
            met_on=date.today(),
            attendees=["deputy1", "deputy2", "chief"],
            subject="购置",
            decision="同意",
            amount="80000",
            policy=POLICY,
            actor=office["clerk"],
        )


def test_spending_from_the_threshold_up_needs_a_decision_that_still_covers_it(
    session, office, decide
):
    with pytest.raises(Conflict) as err:
        decisions.check_spending(
            session, None, bureau_id=office["bureau"].id, amount=Decimal("50000"), policy=POLICY
        )
    assert "三重一大" in err.value.message and "50,000.00" in err.value.message
    # below the threshold none is needed
    assert (
        decisions.check_spending(
            session, None, bureau_id=office["bureau"].id, amount=Decimal("49999.99"), policy=POLICY
        )
        is None
    )
    entry = decide("60000")
    fund.pay_expense(
        session,
        office["bureau"],
        kind="repair",
        amount="50000",
        reference="排水泵大修",
        decision=entry.id,
        policy=POLICY,
        actor=office["approver"],
    )
    session.commit()
    assert decisions.used_amount(session, entry.id) == Decimal("50000")
    with pytest.raises(Conflict) as err:
        fund.pay_expense(
            session,
            office["bureau"],
            kind="repair",
            amount="50000",
            reference="发电机大修",
            decision=entry.id,
            policy=POLICY,
            actor=office["approver"],
        )
    assert "尚余 10,000.00 元" in err.value.message


def test_a_rejected_or_another_bureaus_decision_backs_nothing(
    session, office, decide, make_unit, make_user
):
    rejected = decide("90000", outcome="rejected")
    with pytest.raises(Conflict) as err:
        decisions.check_spending(
            session,
            rejected.id,
            bureau_id=office["bureau"].id,
            amount=Decimal("60000"),
            policy=POLICY,
        )
    assert "不通过" in err.value.message
    other = make_unit("WL", kind="bureau")
    with pytest.raises(NotFound):
        decisions.check_spending(
            session,
            decide("90000").id,
            bureau_id=other.id,
            amount=Decimal("60000"),
            policy=POLICY,
        )

"""Demo data of the shelter subsidies: Wenling's leadership group, the finance bureau's
appropriation into its fund, the collective decision on the year's subsidies to the towns
(50.78万元) and their approval against it, paid from the fund.

The shelters demo records the year-end inspections (as user ``wenling``), which propose the
subsidies; another member of command staff approves them. Dates follow the inspections'
(the demo counts back from ``today``). Loaded once: a bureau whose group is set, or a year
whose decision is recorded, is left as it is.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from funding import decisions, fund, subsidies
from funding.decisions import MemberInput, Policy
from funding.models import Decision, FundEntry, LeadershipMember, Subsidy
from readiness.models import Unit, User
from readiness.permissions import unit_ids_below
from shelters.models import Inspection

BUREAU = "WL"
# speaking order: the deputies first, the head of unit (局长) last
GROUP = [
    ("wl-deputy", "副局长", False),
    ("wl-deputy2", "副局长", False),
    ("wl-chief", "局长", True),
]
RECORDER = "wenling"
# who approves: the first of these who did not propose the subsidy
APPROVERS = ("wenling", "wl-deputy")
APPROPRIATION = Decimal("600000.00")


def _policy() -> Policy:
    try:
        from flask import current_app

        config = current_app.config
        return Policy.of(config["COLLECTIVE_DECISION_THRESHOLD"], config["DECISION_QUORUM"])
    except (RuntimeError, KeyError):  # no application: the house defaults
        return Policy.of(50000, "2/3")


def subject(year: int) -> str:
    return f"{year}年度避灾安置场所补助资金"


def load(session: Session, today: date) -> None:
    bureau = session.scalar(select(Unit).where(Unit.code == BUREAU))
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.username.in_([RECORDER, *APPROVERS, *(g[0] for g in GROUP)]))
        )
    }
    if bureau is None or any(name not in users for name in [RECORDER, *(g[0] for g in GROUP)]):
        return
    recorder = users[RECORDER]
    if (
        session.scalar(select(LeadershipMember.id).where(LeadershipMember.unit_id == bureau.id))
        is None
    ):
        decisions.set_leadership(
            session,
            bureau,
            [MemberInput(name, title, is_head) for name, title, is_head in GROUP],
            actor=recorder,
        )
    towns = unit_ids_below(session, bureau.id)
    pending = list(
        session.scalars(
            select(Subsidy).where(Subsidy.unit_id.in_(towns), Subsidy.status == "proposed")
        )
    )
    by_year: dict[int, list[Subsidy]] = defaultdict(list)
    for s in pending:
        by_year[s.year].append(s)
    policy = _policy()
    for year, group in sorted(by_year.items()):
        if session.scalar(
            select(Decision.id).where(
                Decision.unit_id == bureau.id, Decision.subject == subject(year)
            )
        ):
            continue  # this year was loaded before: what users did since stays as it is
        _year(session, bureau, year, group, users, policy, today)
    session.flush()


def _year(session, bureau, year, group, users, policy, today) -> None:
    """One year: the money in, the meeting in December (or soon after the last inspection,
    if December has not come yet), the approvals a few days later."""
    inspected = {
        i.id: i.inspected_on
        for i in session.scalars(
            select(Inspection).where(Inspection.id.in_({s.inspection_id for s in group}))
        )
    }
    first, last = min(inspected.values()), max(inspected.values())
    total = sum((s.amount for s in group), Decimal("0.00"))
    recorder = users[RECORDER]
    reference = f"温财预〔{year}〕35号"
    if session.scalar(select(FundEntry.id).where(FundEntry.reference == reference)) is None:
        fund.appropriate(
            session,
            bureau,
            amount=max(APPROPRIATION, total),
            reference=reference,
            booked_on=max(date(year, 1, 1), min(date(year, 2, 20), first)),
            note="避灾安置场所补助资金",
            actor=recorder,
            today=today,
        )
    december = date(year, 12, 15)
    met_on = (
        december if december <= today and december >= last else min(last + timedelta(10), today)
    )
    decision = decisions.record_decision(
        session,
        bureau,
        met_on=met_on,
        attendees=[name for name, _title, _head in GROUP],
        positions=["agree"] * len(GROUP),
        subject=subject(year),
        decision=(
            f"同意按{year}年度避灾安置场所检查结果，向各镇（街道）拨付避灾安置场所补助资金"
            f"共计 {total:,} 元，从本局应急物资储备金列支，由减灾救灾科逐笔审批拨付。"
        ),
        amount=total,
        policy=policy,
        actor=recorder,
        today=today,
    )
    booked = min(met_on + timedelta(days=5), today)
    for s in sorted(group, key=lambda s: (inspected[s.inspection_id], s.id)):
        approver = next(
            users[name]
            for name in APPROVERS
            if name in users and users[name].id != s.proposed_by_id
        )
        subsidies.approve_subsidy(
            session,
            s,
            decision=decision.id,
            booked_on=max(booked, inspected[s.inspection_id]),
            policy=policy,
            actor=approver,
            today=today,
        )

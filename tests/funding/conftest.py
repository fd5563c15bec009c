"""A bureau with money to spend: its leadership group, command staff who draft and approve,
a station short of life jackets, a warehouse with some to spare, and the standard."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from funding import decisions, fund
from funding.decisions import MemberInput, Policy
from inventory import standard
from readiness.permissions import SYSTEM

POLICY = Policy.of(50000, "2/3")


@pytest.fixture
def office(session, make_unit, make_user, make_item, stock):
    bureau = make_unit("DF", name="登封市公安局", kind="bureau", headcount=520)
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau, headcount=28)
    junzhao = make_unit("JUNZHAO", name="君召派出所", parent=bureau, headcount=14)
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse", parent=bureau, headcount=6)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    pumps = make_item("PUMP", name="排水泵", unit_cost="8500.00")
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[
            standard.StandardLineInput("station", "LJ", "2", "1"),  # 大冶 30, 君召 16
            standard.StandardLineInput("station", "PUMP", "2", "0"),
        ],
        actor=SYSTEM,
    )
    session.commit()
    stock(daye, jackets, 6)
    stock(wh, jackets, 10)
    users = {
        name: make_user(name, "command", bureau, name=full)
        for name, full in [
            ("chief", "张局长"),
            ("deputy1", "李副局长"),
            ("deputy2", "王副局长"),
            ("deputy3", "赵政委"),
            ("drafter", "王敏（装备科）"),
            ("approver", "刘强（分管领导）"),
        ]
    }
    users["keeper"] = make_user("keeper", "keeper", wh)
    users["clerk"] = make_user("clerk", "clerk", daye)
    decisions.set_leadership(
        session,
        bureau,
        [
            MemberInput("deputy1", "副局长"),
            MemberInput("deputy2", "副局长"),
            MemberInput("deputy3", "政委"),
            MemberInput("chief", "局长", is_head=True),
        ],
        actor=users["drafter"],
    )
    fund.appropriate(
        session,
        bureau,
        amount="300000.00",
        reference="登财预〔2026〕12号",
        actor=users["drafter"],
    )
    session.commit()
    return {
        "bureau": bureau,
        "daye": daye,
        "junzhao": junzhao,
        "wh": wh,
        "jackets": jackets,
        "pumps": pumps,
        **users,
    }


@pytest.fixture
def decide(session, office):
    """Record an approved decision of the bureau (the whole group, the head last)."""

    def make(amount, subject="购置排水泵等应急装备", **kw) -> decisions.Decision:
        entry = decisions.record_decision(
            session,
            office["bureau"],
            met_on=kw.pop("met_on", date.today()),
            attendees=kw.pop("attendees", ["deputy1", "deputy2", "deputy3", "chief"]),
            subject=subject,
            decision=kw.pop("decision", "同意购置，资金从储备金列支。"),
            amount=Decimal(str(amount)),
            policy=POLICY,
            actor=office["drafter"],
            **kw,
        )
        session.commit()
        return entry

    return make

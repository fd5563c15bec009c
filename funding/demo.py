"""Demo data for the money (issue 20): Dengfeng's leadership group and reserve fund, and a
purchase request built from its shortfall — the flood-rescue lines the Dengfeng report asks
the city for ("向市局党委、市财政局申请购置应急物资，明确各单位需要发放的申请的物资数") —
decided collectively, approved from the fund and partly delivered; then Wenling's
subsidies to the towns (``funding.subsidy_demo``)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from funding import decisions, fund, purchases
from funding.decisions import MemberInput, Policy
from funding.models import LeadershipMember
from readiness.models import Unit, User

POLICY = Policy.of(50000, "2/3")
# The first request asks for the flood-rescue, water-rescue and lighting lines (over the
# threshold: it needed the leadership's decision); the pumps and drones are left in the gap
# for a user trying the demo to request.
FIRST_CATEGORIES = {"防汛救生", "水域救援", "照明"}


def load(session: Session, today: date | None = None, attachment_dir: Path | None = None) -> None:
    from funding import subsidy_demo

    today = today or date.today()
    _dengfeng(session, today, attachment_dir)
    subsidy_demo.load(session, today)


def _dengfeng(session: Session, today: date, attachment_dir: Path | None) -> None:
    users = {u.username: u for u in session.scalars(select(User))}
    needed = {"command", "df-chief", "df-deputy", "df-deputy2", "df-zhengwei", "clerk"}
    bureau = session.scalar(select(Unit).where(Unit.code == "DF"))
    if bureau is None or not needed <= set(users):
        return
    if session.scalar(select(LeadershipMember.id).where(LeadershipMember.unit_id == bureau.id)):
        return  # loaded before
    decisions.set_leadership(
        session,
        bureau,
        [
            MemberInput("df-deputy", "副局长（分管装备）"),
            MemberInput("df-deputy2", "副局长"),
            MemberInput("df-zhengwei", "政委"),
            MemberInput("df-chief", "局长", is_head=True),
        ],
        actor=users["command"],
    )
    start = max(date(today.year, 1, 1), today - timedelta(days=120))
    fund.appropriate(
        session,
        bureau,
        amount="800000.00",
        reference=f"登财预〔{start.year}〕8号",
        booked_on=start,
        note="市财政局拨入应急物资储备金",
        actor=users["command"],
        today=today,
    )
    lines = [
        purchases.LineInput(unit.code, item.code, qty, price)
        for unit, item, qty, price in purchases.gap_lines(session, bureau)
        if item.category in FIRST_CATEGORIES
    ]
    if not lines:
        return
    request = purchases.create_request(
        session,
        bureau,
        title="关于申请购置防汛救生等应急装备物资的请示",
        lines=lines,
        actor=users["command"],
    )
    purchases.submit_request(session, request, actor=users["command"])
    total = request.total
    decision = decisions.record_decision(
        session,
        bureau,
        met_on=today - timedelta(days=5),
        attendees=["df-deputy", "df-deputy2", "df-zhengwei", "df-chief"],
        positions=["agree", "agree", "agree", "agree"],
        remarks=["按缺口报告逐单位核实数量", "", "严格按政府采购程序执行", "同意，汛前到位"],
        subject=request.title,
        decision=f"同意购置，金额不超过 {total:,.2f} 元，从应急物资储备金列支。",
        amount=total,
        policy=POLICY,
        actor=users["command"],
        today=today,
    )
    if attachment_dir is not None:
        decisions.attach_minutes(
            session,
            decision,
            ("党委会会议纪要.pdf", _minutes(decision)),
            storage_dir=attachment_dir,
            actor=users["command"],
        )
    purchases.approve_request(
        session,
        request,
        approved_amount=total,
        funding_source="reserve_fund",
        decision=decision.id,
        policy=POLICY,
        booked_on=today - timedelta(days=3),
        actor=users["df-deputy"],
    )
    # 大冶 has received its life jackets; the rest is still on order
    for line in request.lines:
        if line.unit.code == "DF-DAYE" and line.item.code == "LJ":
            purchases.receive(
                session,
                line,
                qty=line.expected,
                lot_code=f"LJ-{today.year}-PR{request.id}",
                expires_on=today + timedelta(days=1825),
                actor=users["clerk"],
            )
    session.flush()


def _minutes(decision) -> bytes:
    """The meeting's minutes as the secretary would scan them: a one-page PDF."""
    from readiness.pdf import PdfFacts, PdfText, pdf_document

    return pdf_document(
        "登封市公安局党委会会议纪要",
        [f"会议日期：{decision.met_on.isoformat()}"],
        [
            PdfFacts([(a.title or "成员", a.name) for a in decision.attendees]),
            PdfText(f"议题：{decision.subject}"),
            PdfText("与会班子成员依次发表意见，局长最后表态。"),
            PdfText(f"决定：{decision.decision}"),
        ],
        landscape_page=False,
    )

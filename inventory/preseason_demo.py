"""The demo's pre-season check (汛前检查): Dengfeng's bureau sets its flood season to start
on 6月1日 and keeps the checklist; the checks are open. The central warehouse's keeper has
tested one pump and answered the checklist — the radios' batteries failed, now a corrective
action — and still has the other pieces, the stocktake and the lapsed sandbags to do;
大冶派出所 has answered everything and is complete; the other stations have not started."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import preseason
from readiness import services as core
from readiness.models import User
from readiness.permissions import SYSTEM

FAILED = {"照明、通信设备电池电量充足": "对讲机 6 部电池老化，待更换"}


def season_start(today: date) -> tuple[date, int]:
    """Dengfeng's season starts on 6月1日: the next one, its checks opening today at the
    latest (at most 180 days ahead); when it is further off than that, this year's (begun,
    its checks late)."""
    upcoming = date(today.year, 6, 1)
    if upcoming < today:
        upcoming = date(today.year + 1, 6, 1)
    days = (upcoming - today).days
    if days <= preseason.LEAD_DAYS_MAX:
        return upcoming, max(preseason.DEFAULT_LEAD_DAYS, days)
    return date(today.year, 6, 1), preseason.DEFAULT_LEAD_DAYS


def load(session: Session, today: date | None = None) -> None:
    """Dengfeng's season, checklist and checks (needs the demo's units, users and stock)."""
    today = today or date.today()
    bureau = core.get_unit(session, "DF")
    starts, lead = season_start(today)
    preseason.set_season(session, bureau, starts, lead, actor=SYSTEM)
    preseason.set_template(session, bureau, "\n".join(preseason.DEFAULT_ITEMS), actor=SYSTEM)
    preseason.open_checks(session, None, today=today)
    users = {u.username: u for u in session.scalars(select(User))}
    checks = {
        c.unit.code: c for c in session.scalars(preseason.checks_query(None, starts.year)).unique()
    }
    warehouse = checks.get("DF-WH")
    if warehouse is not None and "keeper" in users:
        tests = [i for i in warehouse.items if i.kind == "test"]
        answers = [
            preseason.Answer(i.position, i.item not in FAILED, FAILED.get(i.item, ""))
            for i in warehouse.items
            if i.kind == "checklist"
        ]
        if tests:
            answers.append(preseason.Answer(tests[0].position, True, "试机 10 分钟，出水正常"))
        preseason.answer_items(session, warehouse, answers, actor=users["keeper"], today=today)
    daye = checks.get("DF-DAYE")
    if daye is not None and "clerk" in users:
        answers = [
            preseason.Answer(
                i.position,
                True,
                "过期沙袋已清出库房，单独存放，等待报废审批" if i.kind == "lot" else "",
            )
            for i in daye.items
            if i.kind in ("checklist", "lot")
        ]
        if answers:
            preseason.answer_items(session, daye, answers, actor=users["clerk"], today=today)
    session.flush()

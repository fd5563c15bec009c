"""Drill demonstration data: Dengfeng's drills as the inspection report tells them, and
Wenling's rescue-team certificates.

One large flood drill whose roles were unclear and whose rescue tools nobody had
practised; then, bureau-wide with the stations taking part, three field exercises, three
flood training drills and one minimum-combat-unit drill. Corrective actions are left in
every state. Every date counts back from ``today``, so a fresh install tells the same
story in any year.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drills import records as rec
from drills import requirements as req
from drills import training as trn
from drills.attachments import add_attachment
from drills.models import Drill
from inventory.models import Item
from readiness import services as core
from readiness.models import User
from readiness.pdf import pdf_table
from readiness.permissions import SYSTEM
from rectification import actions as act


def _sheet(title: str, unit: str, names: list[str]) -> bytes:
    """A printed sign-in sheet, as a station would scan and attach it."""
    return pdf_table(
        title,
        [unit],
        ["序号", "姓名", "签到时间", "签名"],
        [[n, name, "08:20", name] for n, name in enumerate(names, start=1)],
    )


def _attach(session, drill, kind, filename, data, storage_dir, *, action=None, actor=SYSTEM):
    if storage_dir is not None:
        add_attachment(
            session,
            drill,
            kind=kind,
            filename=filename,
            data=data,
            storage_dir=storage_dir,
            max_bytes=len(data),
            action=action,
            actor=actor,
        )


def load(session: Session, storage_dir: Path | None = None, today: date | None = None) -> bool:
    """The drills of the last months; with a storage folder, also their sign-in sheets and
    evidence files."""
    if session.scalar(select(func.count()).select_from(Drill)):
        return False
    today = today or date.today()
    ago = lambda days: today - timedelta(days=days)  # noqa: E731
    users = {u.username: u for u in session.scalars(select(User))}
    if not {"clerk", "command", "inspector"} <= set(users):
        return False
    unit = lambda code: core.get_unit(session, code)  # noqa: E731
    stations = [
        "DF-DAYE",
        "DF-BAIPING",
        "DF-LUDIAN",
        "DF-JUNZHAO",
        "DF-XUANHUA",
        "DF-CHONGGAO",
        "DF-GAOCHENG",
        "DF-SHAOLIN",
    ]
    req.set_requirements(
        session,
        [
            # one comprehensive drill a year, an on-site exercise every six months
            req.RequirementInput("station", "flood_drill", per_year=1),
            req.RequirementInput("station", "field_exercise", interval_days=182),
            req.RequirementInput("station", "training_drill", per_year=2),
            req.RequirementInput("squad", "combat_unit_drill", per_year=1),
        ],
        actor=SYSTEM,
    )
    items = {i.code: i for i in session.scalars(select(Item))}
    command, clerk = users["command"], users["clerk"]
    # The comprehensive drill, some five months ago; its findings are due over the months
    # after it, so some are met, one moved, one overdue.
    held = ago(160)
    flood = rec.create_drill(
        session,
        title=f"{held.year}年大型防汛抢险救灾演练",
        kind="flood_drill",
        held_on=held,
        lead_unit=unit("DF"),
        units=[unit(c) for c in stations] + [unit("DF-TRAFFIC"), unit("DF-ORDER")],
        participants=260,
        start_time=time(8, 30),
        end_time=time(12, 30),
        hazard="洪涝",
        location="颍河登封段",
        scenario="强降雨致颍河水位超警戒，沿河村庄群众被困，需转移安置并维护交通秩序",
        items=[items[c] for c in ("LJ", "ROPE", "BOAT", "TAPE", "BREAKER") if c in items],
        purpose="检验全局防汛抢险救灾预案，锻炼多警种协同转移群众、维护秩序的能力",
        summary="治安、交警、特警及 8 个派出所参演，完成群众转移、交通管制和水域搜救科目。",
        problems="参演警种过多，具体岗位任务不明确；对专业救援工具未开展专题培训，民警无实操经验。",
        lessons="每个单位制定岗位职责表；救援器材必须先训后用，纳入日常练兵。",
        objectives=[
            ("30 分钟内完成沿河 3 个村群众转移", "S"),
            ("受灾路段 15 分钟内完成交通管制", "P"),
            ("冲锋舟、救援绳等专业器材规范使用", "M"),
        ],
        findings=[
            rec.FindingInput(
                "参演警种过多，具体岗位任务不明确",
                owner=command,
                due_on=held + timedelta(days=94),
                element="organisation",
                objective=1,
            ),
            rec.FindingInput(
                "专业救援工具未开展专题培训，民警无实操训练经验",
                owner=clerk,
                due_on=held + timedelta(days=125),
                element="training",
                objective=3,
            ),
            rec.FindingInput(
                "应急预案以内设机构名义制订，未以正式文件印发",
                owner=command,
                due_on=held + timedelta(days=64),
                element="planning",
            ),
            rec.FindingInput(
                "基层派出所救生衣、警戒带等物资与警力不匹配",
                owner=clerk,
                due_on=held + timedelta(days=120),
                element="equipment",
            ),
            rec.FindingInput(
                "演练现场临时搭建的指挥帐篷不足",
                owner=clerk,
                due_on=held + timedelta(days=64),
                element="equipment",
            ),
            rec.FindingInput(
                "交通管制按预案快速到位", is_strength=True, element="exercise", objective=2
            ),
        ],
        actor=SYSTEM,
        today=held,
    )
    actions = [a for f in flood.findings for a in f.actions]
    officers = ["王建国", "李卫东", "赵海涛", "孙志刚", "周永强", "吴立新"]
    _attach(
        session,
        flood,
        "sign_in",
        "大型防汛演练签到表.pdf",
        _sheet(f"{flood.title}签到表", "登封市公安局", officers),
        storage_dir,
    )
    # organisation: verified; training: done awaiting verification; planning: in progress,
    # moved once; equipment: still open (and overdue).
    act.mark_done(
        session, actions[0], "修订《各单位防汛抢险救灾工作职责分工》一览表并印发", actor=command
    )
    act.verify_action(session, actions[0], actor=users["inspector"])
    act.mark_done(
        session, actions[1], "组织救援绳、破窗锤、冲锋舟实操培训 3 次，签到表附后", actor=clerk
    )
    _attach(
        session,
        flood,
        "evidence",
        "救援器材实操培训签到表.pdf",
        _sheet("救援绳、破窗锤、冲锋舟实操培训签到表", "大冶派出所", officers[:3]),
        storage_dir,
        action=actions[1],
        actor=clerk,
    )
    act.start_action(session, actions[2], actor=command)
    # moved before its old date had passed: asked for by its owner, approved by the
    # inspection team; the new date is still ahead
    act.request_extension(
        session,
        actions[2],
        today + timedelta(days=30),
        "待局党委会议审议后以红头文件印发",
        actor=command,
        today=held + timedelta(days=53),
    )
    act.approve_extension(
        session, actions[2], actor=users["inspector"], today=held + timedelta(days=55)
    )
    # the tents: cancelled by command, the reason kept
    act.cancel_action(
        session, actions[4], "指挥帐篷已列入装备标准，由物资缺口报告统一采购", actor=command
    )
    rec.advance_drill(session, flood, "evaluated", actor=SYSTEM, today=today)
    # The report's follow-up: three field exercises, three flood training drills and one
    # minimum-combat-unit drill, each organised by the command centre for the whole bureau
    # with the stations taking part (君召派出所 missed the field exercises: its row is the
    # one the compliance page shows late).
    centre = unit("DF-CMD")
    series = [
        (
            "实战大练兵（第{n}次）",
            "field_exercise",
            150,
            [ago(150), ago(90), ago(30)],
            [c for c in stations if c != "DF-JUNZHAO"],
        ),
        (
            "防汛应急培训演练（第{n}次）",
            "training_drill",
            90,
            [ago(140), ago(75), ago(20)],
            stations,
        ),
    ]
    for title, kind, minutes, days, taking_part in series:
        for n, day in enumerate(days, start=1):
            drill = rec.create_drill(
                session,
                title=title.format(n=n),
                kind=kind,
                held_on=day,
                lead_unit=centre,
                units=[unit(c) for c in taking_part],
                participants=12 * len(taking_part),
                duration_minutes=minutes,
                hands_on_training=True,
                items=[items[c] for c in ("ROPE", "LJ", "BREAKER") if c in items],
                objectives=[("每名参训民警独立完成救援绳、破窗锤实操", "P")],
                actor=SYSTEM,
                today=today,
            )
            # nothing left open: these were evaluated and filed
            for status in ("evaluated", "closed"):
                rec.advance_drill(session, drill, status, actor=SYSTEM, today=today)
    rec.create_drill(
        session,
        title="最小作战单元现场处置集中训练",
        kind="combat_unit_drill",
        held_on=ago(100),
        lead_unit=centre,
        units=[unit(c) for c in stations] + [unit("DF-TRAFFIC-7")],
        participants=110,
        duration_minutes=120,
        actor=SYSTEM,
        today=today,
    )
    trn.add_training(
        session,
        unit("DF-DAYE"),
        course="冲锋舟、救援绳实操培训",
        held_on=ago(155),
        trainees=3,
        trainee_names="王建国\n李卫东\n赵海涛",
        actor=SYSTEM,
        today=today,
    )
    _wenling_certificates(session, today)
    return True


# Wenling's town rescue teams (综合应急救援队): (town, members on the roster, certified).
# The report: 275 members certified in first aid, 86.75 % of the teams (275 ÷ 317).
WENLING_TEAMS = [
    ("WL-CB", 55, 48),
    ("WL-ST", 66, 60),
    ("WL-CN", 60, 52),
    ("WL-BH", 52, 45),
    ("WL-SQT", 36, 30),
    ("WL-XH", 48, 40),
]


def _wenling_certificates(session: Session, today: date) -> None:
    """The first-aid certificates the Red Cross training gave the town rescue teams; a
    town's headcount is its team's roster (readiness.demo.DEMO_UNITS)."""
    from readiness.models import Unit

    for code, _members, certified in WENLING_TEAMS:
        town = session.scalar(select(Unit).where(Unit.code == code))
        if town is None:
            continue
        for n in range(1, certified + 1):
            trn.add_certificate(
                session,
                town,
                person_name=f"{town.name}救援队员{n:02d}",
                kind="first_aid",
                number=f"HSH-{code}-{n:03d}",
                valid_until=today + timedelta(days=3 * 365 - 420),
                actor=SYSTEM,
            )

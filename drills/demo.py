"""Drill demonstration data: Dengfeng's 2022 drills as the inspection report tells them.

One large flood drill whose roles were unclear and whose rescue tools nobody had
practised; then three field exercises, three flood training drills and one
minimum-combat-unit drill. Corrective actions are left in every state.
"""

from __future__ import annotations

from datetime import date, time
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


def load(session: Session, storage_dir: Path | None = None) -> bool:
    """The 2022 drills; with a storage folder, also their sign-in sheets and evidence files."""
    if session.scalar(select(func.count()).select_from(Drill)):
        return False
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
    flood = rec.create_drill(
        session,
        title="2022年大型防汛抢险救灾演练",
        kind="flood_drill",
        held_on=date(2022, 6, 28),
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
                due_on=date(2022, 9, 30),
                element="organisation",
                objective=1,
            ),
            rec.FindingInput(
                "专业救援工具未开展专题培训，民警无实操训练经验",
                owner=clerk,
                due_on=date(2022, 10, 31),
                element="training",
                objective=3,
            ),
            rec.FindingInput(
                "应急预案以内设机构名义制订，未以正式文件印发",
                owner=command,
                due_on=date(2022, 8, 31),
                element="planning",
            ),
            rec.FindingInput(
                "基层派出所救生衣、警戒带等物资与警力不匹配",
                owner=clerk,
                due_on=date(2022, 12, 31),
                element="equipment",
            ),
            rec.FindingInput(
                "演练现场临时搭建的指挥帐篷不足",
                owner=clerk,
                due_on=date(2022, 8, 31),
                element="equipment",
            ),
            rec.FindingInput(
                "交通管制按预案快速到位", is_strength=True, element="exercise", objective=2
            ),
        ],
        actor=SYSTEM,
        today=date(2022, 12, 31),
    )
    actions = [a for f in flood.findings for a in f.actions]
    officers = ["王建国", "李卫东", "赵海涛", "孙志刚", "周永强", "吴立新"]
    _attach(
        session,
        flood,
        "sign_in",
        "大型防汛演练签到表.pdf",
        _sheet("2022年大型防汛抢险救灾演练签到表", "登封市公安局", officers),
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
    # moved in the autumn of 2022, before its old date had passed: asked for by its owner,
    # approved by the inspection team
    act.request_extension(
        session,
        actions[2],
        date(2022, 11, 30),
        "待局党委会议审议后以红头文件印发",
        actor=command,
        today=date(2022, 8, 20),
    )
    act.approve_extension(session, actions[2], actor=users["inspector"], today=date(2022, 8, 22))
    # the tents: cancelled by command, the reason kept
    act.cancel_action(
        session, actions[4], "指挥帐篷已列入装备标准，由物资缺口报告统一采购", actor=command
    )
    rec.advance_drill(session, flood, "evaluated", actor=SYSTEM, today=date(2022, 12, 31))
    # The report's follow-up: three field exercises and three flood training drills.
    series = [
        (
            "实战大练兵（第{n}次）",
            "field_exercise",
            40,
            150,
            [
                (date(2022, 7, 15), "DF-DAYE"),
                (date(2022, 8, 12), "DF-CHONGGAO"),
                (date(2022, 9, 9), "DF-SHAOLIN"),
            ],
        ),
        (
            "防汛应急培训演练（第{n}次）",
            "training_drill",
            25,
            90,
            [
                (date(2022, 7, 5), "DF-LUDIAN"),
                (date(2022, 8, 2), "DF-GAOCHENG"),
                (date(2022, 9, 20), "DF-BAIPING"),
            ],
        ),
    ]
    for title, kind, participants, minutes, held in series:
        for n, (day, lead) in enumerate(held, start=1):
            drill = rec.create_drill(
                session,
                title=title.format(n=n),
                kind=kind,
                held_on=day,
                lead_unit=unit(lead),
                participants=participants,
                duration_minutes=minutes,
                hands_on_training=True,
                items=[items[c] for c in ("ROPE", "LJ", "BREAKER") if c in items],
                objectives=[("每名参训民警独立完成救援绳、破窗锤实操", "P")],
                actor=SYSTEM,
                today=date(2022, 12, 31),
            )
            # nothing left open: these were evaluated and filed
            for status in ("evaluated", "closed"):
                rec.advance_drill(session, drill, status, actor=SYSTEM, today=date(2022, 12, 31))
    rec.create_drill(
        session,
        title="最小作战单元现场处置集中训练",
        kind="combat_unit_drill",
        held_on=date(2022, 8, 25),
        lead_unit=unit("DF-TRAFFIC-7"),
        participants=18,
        duration_minutes=120,
        actor=SYSTEM,
        today=date(2022, 12, 31),
    )
    trn.add_training(
        session,
        unit("DF-DAYE"),
        course="冲锋舟、救援绳实操培训",
        held_on=date(2022, 7, 8),
        trainees=3,
        trainee_names="王建国\n李卫东\n赵海涛",
        actor=SYSTEM,
    )
    return True

"""Register demonstration data: the two inspection reports' rectification stories.

Wenling: the city party committee's third inspection team (市委第三巡察组) found 33 problems
in three groups; at the progress report 26 were closed and 7 were not ("巡察反馈的三方面
33个问题，已完成整改26个，未完成7个"). Dengfeng: a superior unit's check visited the stations
and found a task the register said was done that was not ("重形式轻效果"); it went back for
rework.

Every record goes through the register's services, as the accounts concerned: the team
records the visit (on the day of the visit, so its due dates were ahead then), the owners
report their work done, someone else verifies it or sends it back. Dates count back from
``today`` so the story reads the same in any year.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readiness.models import Unit, User
from rectification import actions as act
from rectification.models import InspectionVisit
from rectification.visits import VisitFinding, record_visit

GROUPS = {
    1: "一、贯彻落实党的理论路线方针政策和党中央决策部署方面",
    2: "二、群众身边腐败问题和不正之风方面",
    3: "三、基层党组织领导班子和干部队伍建设方面",
}

# Where each problem stood at the progress report.
VERIFIED = "verified"  # reported done by its owner, verified by the inspection team
WORKING = "working"  # in progress, due date still ahead
OVERDUE = "overdue"  # in progress, its due date passed
RETURNED = "returned"  # reported done, sent back: the check found it not done

# (group, problem as the report words it, measures, owner, unit, leader, days to due, state)
WENLING = [
    (1, "学习习近平总书记关于应急管理系列重要讲话和指示批示精神存在差距",
     "坚持第一议题学习制度；系统学习2019年以来关于安全生产及应急管理的重要指示批示精神",
     "wl-office", "WL", "局党委书记", 60, VERIFIED),
    (1, "贯彻落实上级决策部署不够有力：推进安全生产“除险保安”百日攻坚行动存在短板",
     "完善对镇（街道）及安委会成员单位的“除险保安”考核机制（待全市考核办法下发后完成）",
     "wenling", "WL", "分管副局长", 300, WORKING),
    (1, "对授权的事故调查职责履行不到位：未正确适用法律",
     "对涉及的5件火灾事故复盘，更正事故调查报告，依法作出行政处罚",
     "wl-law", "WL", "分管副局长", 120, VERIFIED),
    (1, "未按照《浙江省生产安全事故报告和调查处理规定》履行事故调查报告批复的落实和责任追究职责",
     "收集归档11份事故处理结果缺少的资料；印发《安全生产事故调查处理闭环管理规定》",
     "wl-law", "WL", "分管副局长", 60, VERIFIED),
    (1, "未履行执法职责，事故调查相关行政处罚不到位",
     "对2起事故复盘，启动纠正程序，重新调查处理",
     "wl-law", "WL", "分管副局长", 150, OVERDUE),
    (1, "应急预案编制不及时、不准确：60个市级专项预案仍有18个未完成编制及修订",
     "督促相关主管部门加快专项预案编制和修订；重新修订《温岭市烟花爆竹事故应急预案》",
     "wenling", "WL", "分管副局长", 270, RETURNED),
    (1, "应急救援队伍建设滞后：专业森林消防队伍未按要求组建，"
        "5个镇（街道）未配备一定数量的持证救护人员",
     "组建市级专职森林消防队伍；联合市红十字会对镇（街道）综合应急救援队开展应急救护取证培训",
     "wenling", "WL", "分管副局长", 90, VERIFIED),
    (1, "应急物资管理不规范：未建立应急物资台账、物资调拨内部审批制度",
     "印发《温岭市应急管理局应急物资调拨内部审批制度》，建立应急物资出入库台账",
     "wenling", "WL", "分管副局长", 45, VERIFIED),
    (1, "基层防汛防台体系标准化建设推进缓慢：村级防汛抢险应急技能培训逾期未完成",
     "完成村级防汛抢险应急技能培训，扣回服务单位违约金；完成标准化建设验收",
     "wenling", "WL", "分管副局长", 45, VERIFIED),
    (1, "减灾救灾职能发挥不够：全市规范化避灾安置场所198个，与省要求60%的覆盖率差距较大",
     "摸排公共房屋资源，加快规范化避灾安置场所建设，2年内达到省规定要求；修缮已建场所、补充和轮换救灾物资",
     "wenling", "WL", "分管副局长", 600, WORKING),
    (2, "涉案危险化学品管理缺位",
     "制定涉案危险化学品定期清点盘库制度，每2个月清点盘库；重新签订委托保管协议",
     "wl-law", "WL", "分管副局长", 90, VERIFIED),
    (2, "对安全生产社会化服务机构监管不够有力",
     "约谈6家专家配备不足的服务机构，责令限期整改（承诺年底前配备专家）；排查机关干部及退休人员从事中介服务情况",
     "wl-law", "WL", "分管副局长", 280, WORKING),
    (2, "烟花爆竹经营审批把关不严",
     "严格控制零售点总量；镇街以抓阄、摇号等方式定摊位；排查烟花爆竹利益相关人员",
     "wl-law", "WL", "分管副局长", 60, VERIFIED),
    (2, "行政执法不够规范：处罚裁量不规范",
     "对2019年以来497件行政处罚案件开展“回头看”；复盘石塘镇办理的3起案件并通报",
     "shitang", "WL-ST", "石塘镇分管领导", 90, VERIFIED),
    (2, "对逾期缴纳罚款的行为未加罚",
     "与法律顾问会商加处罚款；落实延期或分期缴纳审批程序，做好案件闭环管理",
     "wl-law", "WL", "分管副局长", 140, OVERDUE),
    (2, "行政处罚案件信息未依法公开：2018年9月至2022年9月一般程序案件1327件，网上公开仅64件",
     "公开2018年1月以来的行政处罚案件信息，后续案件即时公开",
     "wl-law", "WL", "分管副局长", 30, VERIFIED),
    (2, "案卷存档保管不规范：温安监管罚[2018]193号案件副卷缺失，2021年有12件案卷尚未归档",
     "收回、查明并归档全部案卷；落实内勤人员1名负责案卷归档",
     "wl-law", "WL", "分管副局长", 60, VERIFIED),
    (2, "镇（街道）应急队伍执法证持证率不高：在编79人，持证61人，占比77.2%",
     "将执法人员持证率列入年度考核；会同司法局指导执法人员参加考证培训",
     "wl-law", "WL", "分管副局长", 160, OVERDUE),
    (2, "非车辆租赁定点服务机构租车",
     "严格落实定点租车制度",
     "wl-office", "WL", "办公室主任", 30, VERIFIED),
    (2, "租车费超标：2020年、2021年租车费占交通补贴总额17.5%、12.8%，超过10%的标准",
     "专人调度车辆；印发《温岭市应急管理局公车使用管理制度》",
     "wl-office", "WL", "办公室主任", 60, VERIFIED),
    (2, "物资处置不规范",
     "开展物资管理、财务管理知识培训；物资登记入“资产云”平台，补录未入账的处置经费",
     "wl-office", "WL", "办公室主任", 45, VERIFIED),
    (2, "年休假补贴未按规定发放：2名干部因私出国（境），年休假未按实扣除",
     "收回多发的年休假补贴",
     "wl-office", "WL", "办公室主任", 30, VERIFIED),
    (2, "违规发放工会福利",
     "收回相关工会经费；修订印发《工会经费支出范围和标准规定》",
     "wl-office", "WL", "办公室主任", 45, VERIFIED),
    (3, "党风廉政“一岗双责”弱化：2019-2021年未听取领导班子成员履行“一岗双责”情况汇报",
     "领导班子成员每年至少1次向党委汇报履行党风廉政“一岗双责”情况",
     "wl-office", "WL", "局党委书记", 60, VERIFIED),
    (3, "廉政风险防范意识不够强：未能提供2018-2021年各科室及个人廉政风险点台账",
     "每年梳理机关干部岗位廉政风险点并建立台账",
     "wl-office", "WL", "局党委书记", 45, VERIFIED),
    (3, "党风廉政教育成效不明显：未通报本系统典型案例，2021年未召开廉政警示教育大会",
     "每年召开廉政警示教育大会，及时通报系统典型案例，完善会议记录",
     "wl-office", "WL", "局党委书记", 90, VERIFIED),
    (3, "机关效能检查不正常：2018-2021年均未建立检查台账",
     "出台机关作风和效能建设巡查制度，每月开展效能检查并登记",
     "wl-office", "WL", "局党委书记", 45, VERIFIED),
    (3, "未配备专职党务工作者：2名党务工作者均为兼职",
     "党委会议研究确定1名办公室人员为专职党务工作者",
     "wl-office", "WL", "局党委书记", 30, VERIFIED),
    (3, "党员发展程序不规范：1名入党积极分子未经推优确定",
     "加强党务工作者业务培训，严格按照党员发展程序开展推优",
     "wl-office", "WL", "局党委书记", 60, VERIFIED),
    (3, "党务公开不及时：党务公开栏仍张贴2021年内容",
     "每月及时公开党务信息，建立党务公开信息审核制度",
     "wl-office", "WL", "局党委书记", 30, VERIFIED),
    (3, "选人用人不够规范：1名行政执法监督岗位中层干部连续任职超过5年未交流",
     "严格执行中层干部交流制度，按程序完成岗位调整",
     "wl-office", "WL", "局党委书记", 60, VERIFIED),
    (3, "内控机制未有效建立：制度修订工作滞后",
     "修订印发应急物资调拨内部审批、“三重一大”事项集体决策等制度",
     "wl-office", "WL", "局党委书记", 60, VERIFIED),
    (3, "制度执行不严格",
     "严格执行党委书记末位表态制度和“三重一大”集体决策制度（5万元以上资金支出集体讨论）",
     "wl-office", "WL", "局党委书记", 90, VERIFIED),
]  # fmt: skip

# Dengfeng: (problem, measures, owner, unit, leader, days to due, state)
DENGFENG = [
    ("大冶派出所防汛应急预案未按局新修订的预案重新制订，所内仍使用旧版",
     "按局新修订的防汛抗洪抢险救灾应急处置工作预案重新制订所防汛预案，组织全所学习",
     "clerk", "DF-DAYE", "大冶派出所所长", 30, RETURNED),
    ("交警大队未按预案交通保畅组要求建立应急信息快速发布机制",
     "制定突发自然灾害信息报送、会商研判机制，以红头文件印发",
     "command", "DF", "分管副局长", 20, VERIFIED),
    ("应急物资仓库发放无领用登记，未做到专人发放",
     "建立领用登记簿，出入库经保管员登记后发放",
     "keeper", "DF-WH", "装备科科长", 20, VERIFIED),
    ("大冶派出所救生衣仅6件，与28名警力不匹配",
     "按防汛基本装备配备标准申请调拨补齐",
     "clerk", "DF-DAYE", "大冶派出所所长", 90, WORKING),
    ("整改以印发文件、收取资料为主，未跟踪落实的实际效果",
     "建立整改台账，逐项实地督导，每月通报进度",
     "command", "DF", "局党委书记", 75, WORKING),
]  # fmt: skip

WENLING_DAYS_AGO = 240
DENGFENG_DAYS_AGO = 50


def load(session: Session, today: date | None = None) -> bool:
    """The Wenling inspection tour and the Dengfeng check, once (when no visit is recorded
    yet). Returns True if loaded."""
    if session.scalar(select(func.count()).select_from(InspectionVisit)):
        return False
    users = {u.username: u for u in session.scalars(select(User))}
    units = {u.code: u for u in session.scalars(select(Unit))}
    today = today or date.today()
    loaded = False
    if {"wl-inspector", "wenling", "wl-law", "wl-office", "shitang"} <= set(users):
        findings = [(f"【{GROUPS[g]}】{text}", *rest) for g, text, *rest in WENLING]
        _visit(
            session,
            users,
            units,
            today,
            kind="inspection_tour",
            unit="WL",
            days_ago=WENLING_DAYS_AGO,
            team="温岭市委第三巡察组",
            summary="对温岭市应急管理局党委开展巡察，反馈三方面33个问题；局党委制定《巡察反馈问题整改清单》，"
            "逐项落实到责任领导、责任科室和具体责任人，明确完成时限，完成一件、销号一件。",
            findings=findings,
            inspector=users["wl-inspector"],
            returned="回头看核查：60个市级专项预案仍有9个未修编（修编率85%），报告“已完成”与实际不符。",
        )
        loaded = True
    if {"inspector", "command", "clerk", "keeper"} <= set(users):
        _visit(
            session,
            users,
            units,
            today,
            kind="check",
            unit="DF",
            days_ago=DENGFENG_DAYS_AGO,
            team="上级公安机关督导检查组（“7.20”特大暴雨灾害问题整改回头看）",
            summary="实地走访派出所、仓库，核对整改台账与实际情况：部分事项台账标注“已完成”，实际未落实。",
            findings=DENGFENG,
            inspector=users["inspector"],
            returned="实地回访：所内仍使用旧版预案，未见重新制订的预案和学习记录，"
            "台账报“已完成”与实际不符，退回重新整改。",
        )
        loaded = True
    return loaded


def _visit(
    session, users, units, today, *, kind, unit, days_ago, team, summary, findings, inspector,
    returned,
):  # fmt: skip
    """One visit recorded on its day by the team, then each finding's life up to today."""
    visited_on = today - timedelta(days=days_ago)
    visit = record_visit(
        session,
        kind=kind,
        unit=units[unit],
        visited_on=visited_on,
        team=team,
        summary=summary,
        findings=[
            VisitFinding(
                text=text,
                unit=units[unit_code],
                owner=users[owner],
                due_on=visited_on + timedelta(days=days),
                measures=measures,
                leader=leader,
            )
            for text, measures, owner, unit_code, leader, days, _state in findings
        ],
        actor=inspector,
        today=visited_on,
    )
    for action, (_t, measures, _o, _u, _l, _d, state) in zip(visit.actions, findings, strict=True):
        owner = action.owner
        if state == VERIFIED:
            act.mark_done(session, action, f"已完成：{measures}", actor=owner)
            act.verify_action(session, action, actor=inspector)
        elif state == RETURNED:
            act.mark_done(session, action, "已完成", actor=owner)
            act.return_action(session, action, returned, actor=inspector)
        else:  # WORKING, OVERDUE: started, not yet done
            act.start_action(session, action, actor=owner)
    return visit

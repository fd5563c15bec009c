"""The audit log in words: each action code as a sentence in the reader's language, its
object linked to the record's page when the reader may open that page.

``WORDS`` names every action code the application records (a test reads the codes from
the source and fails on one without a sentence). ``{obj}`` in a sentence stands for the
object: ``#12``, a unit's name, an account's user name, an item's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from readiness.db import Base
from readiness.models import AuditEntry
from readiness.permissions import PERMISSIONS
from readiness.services import visible_unit_ids

WORDS = {
    # corrective actions (整改)
    "action.create": _l("登记了整改事项 {obj}"),
    "action.start": _l("开始整改事项 {obj}"),
    "action.done": _l("报告整改事项 {obj} 已完成"),
    "action.verify": _l("验证并销号了整改事项 {obj}"),
    "action.return": _l("退回了整改事项 {obj}，要求重新整改"),
    "action.cancel": _l("取消了整改事项 {obj}"),
    "action.extension_request": _l("为整改事项 {obj} 申请延期"),
    "action.extension_approve": _l("批准了整改事项 {obj} 的延期"),
    "action.extension_reject": _l("驳回了整改事项 {obj} 的延期申请"),
    "action.reassign": _l("把整改事项 {obj} 交给了他人"),
    # allocations (调拨)
    "allocation.create": _l("起草了调拨单 {obj}"),
    "allocation.edit": _l("修改了调拨单 {obj}"),
    "allocation.submit": _l("提交了调拨单 {obj}"),
    "allocation.approve": _l("批准了调拨单 {obj}"),
    "allocation.reject": _l("驳回了调拨单 {obj}"),
    "allocation.cancel": _l("取消了调拨单 {obj}"),
    "allocation.dispatch": _l("发出了调拨单 {obj} 的物资"),
    "allocation.receive": _l("签收了调拨单 {obj} 的物资"),
    "allocation.reassign": _l("把调拨单 {obj} 交给了他人"),
    # serial equipment
    "asset.seen": _l("扫码确认设备 {obj} 在位"),
    "asset.status": _l("更改了设备 {obj} 的状态"),
    "maintenance.service": _l("登记了设备保养 {obj}"),
    "maintenance.function_test": _l("登记了设备功能测试 {obj}"),
    "maintenance.repair": _l("登记了设备维修 {obj}"),
    # counts (盘库)
    "count.start": _l("开始了盘库 {obj}"),
    "count.enter": _l("在盘库 {obj} 中录入了清点数量"),
    "count.not_counted": _l("在盘库 {obj} 中标记了未清点的一项"),
    "count.clear": _l("在盘库 {obj} 中清除了一项清点"),
    "count.submit": _l("提交了盘库 {obj} 待审核"),
    "count.approve": _l("审核通过了盘库 {obj}"),
    "count.return": _l("退回了盘库 {obj}，要求重新清点"),
    "count.cancel": _l("取消了盘库 {obj}"),
    "count.reassign": _l("把盘库 {obj} 交给了他人"),
    "count_interval.set": _l("设置了 {obj} 的盘库周期"),
    "count_variance_threshold.set": _l("设置了盘库差异阈值 {obj}"),
    # stock movements (出入库)
    "movement.receipt": _l("登记了入库 {obj}"),
    "movement.issue": _l("登记了出库 {obj}"),
    "movement.write_off": _l("登记了报损核销 {obj}"),
    "movement.adjustment": _l("按盘库结果调整了库存 {obj}"),
    "movement.transfer_out": _l("登记了调拨出库 {obj}"),
    "movement.transfer_in": _l("登记了调拨入库 {obj}"),
    "movement.reversal": _l("登记了撤销更正 {obj}"),
    "movement.undo": _l("撤销了出入库记录 {obj}"),
    # catalog and standard
    "item.create": _l("新增了物资品目 {obj}"),
    "item.update": _l("修改了物资品目 {obj}"),
    "item.maintenance_intervals": _l("设置了品目 {obj} 的保养和测试周期"),
    "standard.publish": _l("发布了装备标准版本 {obj}"),
    "override.set": _l("调整了 {obj} 的标准数量"),
    "override.remove": _l("取消了 {obj} 的标准数量调整"),
    # checks and rounds
    "flood_season.set": _l("设置了汛期 {obj}"),
    "preseason_template.set": _l("设置了汛前检查清单"),
    "preseason.open": _l("开启了汛前检查 {obj}"),
    "preseason.answer": _l("填写了汛前检查 {obj}"),
    "preseason.complete": _l("完成了汛前检查 {obj}"),
    "round_template.set": _l("设置了隐患排查清单"),
    "round.record": _l("登记了隐患排查 {obj}"),
    # labels
    "labels.profile_save": _l("保存了打印机配置 {obj}"),
    "labels.profile_retire": _l("停用了打印机配置 {obj}"),
    # drills and training
    "drill.create": _l("登记了演练 {obj}"),
    "drill.update": _l("修改了演练 {obj}"),
    "drill.evaluate": _l("评估了演练 {obj}"),
    "drill.status": _l("更改了演练 {obj} 的状态"),
    "finding.add": _l("登记了演练发现的问题 {obj}"),
    "attachment.add": _l("上传了演练附件 {obj}"),
    "drill_kind.save": _l("保存了演练类型 {obj}"),
    "drill_requirements.set": _l("设置了演练次数要求"),
    "training.add": _l("登记了培训 {obj}"),
    "certificate.add": _l("登记了持证记录 {obj}"),
    # inspection visits and bulletins
    "visit.record": _l("登记了检查督察 {obj}"),
    "bulletin.issue": _l("印发了通报 {obj}"),
    # shelters
    "shelter.create": _l("登记了避灾安置场所 {obj}"),
    "shelter.update": _l("修改了避灾安置场所 {obj}"),
    "shelter.inspect": _l("登记了避灾安置场所检查 {obj}"),
    "shelter.defect_resolve": _l("处理完了避灾安置场所的问题 {obj}"),
    "shelter.acceptance_request": _l("申请验收避灾安置场所 {obj}"),
    "shelter.accept": _l("验收通过了避灾安置场所 {obj}"),
    "shelter.acceptance_withdraw": _l("撤销了避灾安置场所 {obj} 的验收"),
    "shelter.coverage_target": _l("设置了避灾安置覆盖率目标"),
    "village.create": _l("新增了村（社区） {obj}"),
    "village.update": _l("修改了村（社区） {obj}"),
    # money
    "leadership.set": _l("设置了 {obj} 的领导班子"),
    "decision.record": _l("登记了集体决策 {obj}"),
    "decision.minutes": _l("上传了集体决策 {obj} 的会议纪要"),
    "fund.appropriation": _l("登记了储备金拨入 {obj}"),
    "fund.purchase": _l("从储备金支出采购款 {obj}"),
    "fund.subsidy": _l("从储备金支出补助款 {obj}"),
    "fund.repair": _l("从储备金支出维修费 {obj}"),
    "fund.allocation_subsidy": _l("从储备金支出调配补贴 {obj}"),
    "purchase.create": _l("起草了采购申请 {obj}"),
    "purchase.edit": _l("修改了采购申请 {obj}"),
    "purchase.submit": _l("提交了采购申请 {obj}"),
    "purchase.approve": _l("批准了采购申请 {obj}"),
    "purchase.reject": _l("驳回了采购申请 {obj}"),
    "purchase.deliver": _l("登记了采购申请 {obj} 的到货"),
    "subsidy.propose": _l("提出了补助 {obj}"),
    "subsidy.amend": _l("修改了补助 {obj}"),
    "subsidy.approve": _l("批准了补助 {obj}"),
    "subsidy.refuse": _l("驳回了补助 {obj}"),
    "subsidy.withdraw": _l("撤回了补助 {obj}"),
    # units, accounts, sign-in
    "unit.create": _l("新建了单位 {obj}"),
    "unit.update": _l("修改了单位 {obj}"),
    "unit.activate": _l("启用了单位 {obj}"),
    "unit.deactivate": _l("停用了单位 {obj}"),
    "unit.set_custodian": _l("指定了单位 {obj} 的保管责任人"),
    "user.create": _l("新建了账号 {obj}"),
    "user.update": _l("修改了账号 {obj}"),
    "user.activate": _l("启用了账号 {obj}"),
    "user.deactivate": _l("停用了账号 {obj}"),
    "user.reset_password": _l("重置了账号 {obj} 的密码"),
    "user.change_password": _l("修改了自己的密码"),
    "user.set_language": _l("更改了界面语言"),
    "user.handover": _l("移交了账号 {obj} 名下的全部事项"),
    "user.login": _l("登录了系统"),
    "user.logout": _l("退出了登录"),
    "user.login_failed": _l("登录失败（账号 {obj}）"),
    "login.throttle": _l("因多次登录失败暂停了 {obj} 的登录"),
    "token.issue": _l("签发了接口令牌 {obj}"),
    "token.revoke": _l("吊销了账号 {obj} 的接口令牌"),
    "demo.load": _l("载入了演示数据"),
}

# What the object of an entry is called, for the filter (the stored type is a table name).
OBJECT_NOUNS = {
    "allocations": _l("调拨单"),
    "assets": _l("设备"),
    "bulletins": _l("通报"),
    "collective_decisions": _l("集体决策"),
    "corrective_actions": _l("整改事项"),
    "counts": _l("盘库"),
    "drills": _l("演练"),
    "fund_entries": _l("储备金收支"),
    "inspection_visits": _l("检查督察"),
    "items": _l("物资品目"),
    "movements": _l("出入库记录"),
    "preseason_checks": _l("汛前检查"),
    "printer_profiles": _l("打印机配置"),
    "purchase_requests": _l("采购申请"),
    "safety_rounds": _l("隐患排查"),
    "shelter_subsidies": _l("补助"),
    "shelters": _l("避灾安置场所"),
    "standard_versions": _l("装备标准版本"),
    "units": _l("单位"),
    "users": _l("账号"),
    "villages": _l("村（社区）"),
    "api_tokens": _l("接口令牌"),
    "certificates": _l("持证记录"),
    "count_intervals": _l("盘库周期"),
    "count_variance_thresholds": _l("盘库差异阈值"),
    "coverage_targets": _l("覆盖率目标"),
    "drill_attachments": _l("演练附件"),
    "drill_kind": _l("演练类型"),
    "drill_requirements": _l("演练次数要求"),
    "findings": _l("演练发现的问题"),
    "flood_seasons": _l("汛期"),
    "login": _l("登录"),
    "preseason_templates": _l("汛前检查清单"),
    "requirement_overrides": _l("标准数量调整"),
    "round_templates": _l("隐患排查清单"),
    "shelter_defects": _l("避灾安置场所的问题"),
    "shelter_inspections": _l("避灾安置场所检查"),
    "training_sessions": _l("培训"),
}


def _by_id(endpoint: str, arg: str) -> Callable:
    return lambda e, names: (endpoint, {arg: int(e.object_id)}) if e.object_id.isdecimal() else None


def _by_code(endpoint: str, arg: str) -> Callable:
    def page(e, names):
        code = names.get((e.object_type, e.object_id), (None, None))[0]
        return (endpoint, {arg: code}) if code else None

    return page


def _from_after(endpoint: str, arg: str, key: str) -> Callable:
    """The page of the record an entry's ``after`` names (a finding's drill, say)."""

    def page(e, names):
        value = (e.after or {}).get(key)
        return (endpoint, {arg: value}) if value else None

    return page


def _list_page(endpoint: str) -> Callable:
    return lambda e, names: (endpoint, {})


def _town_page(e, names):
    return ("shelters.town_detail", {"code": e.unit.code}) if e.unit else None


def _movement_page(e, names):
    after = e.after or {}
    if not (after.get("unit") and after.get("item")):
        return None
    return "inventory.item_history", {"code": after["unit"], "item_code": after["item"]}


# object type → its page for an entry: (endpoint, arguments), or None.
PAGES: dict[str, Callable] = {
    "allocations": _by_id("allocations.detail", "allocation_id"),
    "assets": _by_id("maintenance.asset", "asset_id"),
    "bulletins": _by_id("ranking.bulletin_file", "bulletin_id"),
    "collective_decisions": _by_id("funding.decision_detail", "decision_id"),
    "corrective_actions": _by_id("drills.action_detail", "action_id"),
    "counts": _by_id("inventory.count_detail", "count_id"),
    "drills": _by_id("drills.detail", "drill_id"),
    "drill_attachments": _from_after("drills.detail", "drill_id", "drill_id"),
    "findings": _from_after("drills.detail", "drill_id", "drill"),
    "fund_entries": _list_page("funding.funds"),
    "inspection_visits": _by_id("rectification.visit", "visit_id"),
    "items": _by_code("inventory.item_edit", "code"),
    "movements": _movement_page,
    "preseason_checks": _by_id("preseason.check", "check_id"),
    "printer_profiles": _by_id("labels.printer", "profile_id"),
    "purchase_requests": _by_id("funding.purchase_detail", "request_id"),
    "safety_rounds": _by_id("rounds.detail", "round_id"),
    "shelter_inspections": _from_after("shelters.site_detail", "shelter_id", "shelter_id"),
    "shelter_subsidies": _list_page("subsidies.index"),
    "shelters": _by_id("shelters.site_detail", "shelter_id"),
    "standard_versions": _list_page("inventory.standard"),
    "training_sessions": _list_page("drills.training"),
    "certificates": _list_page("drills.training"),
    "units": _by_code("admin.unit_detail", "code"),
    "users": _by_id("admin.user_detail", "user_id"),
    "villages": _town_page,
}

# object type → (table, column used in the page's address, column shown): read in one query
# per type, so an entry reads "新建了单位 大冶派出所" rather than "#7".
NAMED = {
    "units": ("units", "code", "name"),
    "users": ("users", "username", "username"),
    "items": ("items", "code", "code"),
}


def object_noun(object_type: str) -> str:
    """A stored object type as the reader calls it (the type itself when it has no name)."""
    return str(OBJECT_NOUNS[object_type]) if object_type in OBJECT_NOUNS else object_type


def _names(session: Session, entries: Iterable[AuditEntry]) -> dict[tuple[str, str], tuple]:
    """(type, id) → (address code, shown name) for the entries' units, accounts and items."""
    out: dict[tuple[str, str], tuple] = {}
    for object_type, (table_name, code_col, name_col) in NAMED.items():
        ids = {
            int(e.object_id)
            for e in entries
            if e.object_type == object_type and e.object_id.isdecimal()
        }
        table = Base.metadata.tables.get(table_name)
        if not ids or table is None:
            continue
        rows = session.execute(
            select(table.c.id, table.c[code_col], table.c[name_col]).where(table.c.id.in_(ids))
        )
        out.update({(object_type, str(r[0])): (r[1], r[2]) for r in rows})
    return out


def _may_open(actor, endpoint: str, reach: set[int] | None, entry: AuditEntry) -> bool:
    """Does the reader's role hold the page's permission, and is the entry's unit theirs?"""
    view = current_app.view_functions.get(endpoint)
    needed = getattr(view, "permission", None)
    if needed is None or needed not in PERMISSIONS:
        return False
    if actor.role not in PERMISSIONS[needed]:
        return False
    return reach is None or entry.unit_id is None or entry.unit_id in reach


def _object(entry: AuditEntry, names: dict, actor, reach: set[int] | None) -> Markup:
    """The entry's object as text, a link when the reader may open its page."""
    if not entry.object_id:
        return Markup("")
    named = names.get((entry.object_type, entry.object_id))
    text = named[1] if named else entry.object_id
    if not named and entry.object_id.isdecimal():
        text = f"#{entry.object_id}"
    page = PAGES.get(entry.object_type)
    target = page(entry, names) if page else None
    if target is None or not _may_open(actor, target[0], reach, entry):
        return escape(text)
    try:
        href = url_for(target[0], **target[1])
    except (BuildError, ValueError):  # stored values that no longer fit the address
        return escape(text)
    return Markup('<a href="{}">{}</a>').format(href, text)


def _phrase(entry: AuditEntry, obj: Markup) -> Markup:
    words = WORDS.get(entry.action)
    if words is None:
        return escape(_("操作 {action}")).format(action=entry.action) + " " + obj
    return escape(str(words)).format(obj=obj).strip()


def sentences(session: Session, actor, entries: list[AuditEntry]) -> dict[int, Markup]:
    """Each entry's sentence ("批准了调拨单 #12"), keyed by entry id, for one page of the log."""
    reach = visible_unit_ids(session, actor)
    names = _names(session, entries)
    return {e.id: _phrase(e, _object(e, names, actor, reach)) for e in entries}

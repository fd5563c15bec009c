"""Inventory demonstration data: the Dengfeng stations as the 2022 inspection found them.

大冶 holds 6 life jackets for 28 officers, 白坪 1 roll of warning tape, 卢店 one
searchlight, 君召 no whistles and no window breakers; the central warehouse holds
reserves (some of them expired), and 大冶 has a finished count with variances.
Dengfeng (DF) and Wenling (WL) each publish their own edition of the standard; Wenling's
towns hold flood and typhoon relief stock against it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.catalog import create_item, update_item
from inventory.counts import approve_count, enter_count, start_count, submit_count
from inventory.ledger import record_movement
from inventory.models import Asset, Item
from inventory.standard import StandardLineInput, publish_standard
from readiness import services as core
from readiness.models import User
from readiness.permissions import SYSTEM

# code, name, category, uom, unit cost, shelf life (days), tracking
ITEMS = [
    ("LJ", "救生衣", "防汛救生", "件", "120.00", 1825, "bulk"),
    ("LB", "救生圈", "防汛救生", "个", "85.00", None, "bulk"),
    ("ROPE", "救援绳", "防汛救生", "根", "60.00", None, "bulk"),
    ("SANDBAG", "吸水沙袋", "防汛救生", "个", "8.00", 730, "bulk"),
    ("TAPE", "警戒带", "警戒", "盘", "25.00", None, "bulk"),
    ("VEST", "反光背心", "警戒", "件", "30.00", None, "bulk"),
    ("LIGHT", "探照灯", "照明", "个", "680.00", None, "bulk"),
    ("TORCH", "强光手电", "照明", "个", "120.00", None, "bulk"),
    ("WHISTLE", "口哨", "通讯", "个", "5.50", None, "bulk"),
    ("BREAKER", "破窗锤", "破拆", "个", "35.00", None, "bulk"),
    ("MEDKIT", "急救包", "医疗", "个", "150.00", 1095, "bulk"),
    ("PUMP", "排水泵", "排涝", "台", "4800.00", None, "serial"),
    ("BOAT", "冲锋舟", "水域救援", "艘", "56000.00", None, "serial"),
    ("DRONE", "无人机", "侦察", "架", "26000.00", None, "serial"),
]

# code -> the catalog's English (name, category, unit of measure), for the English UI
# (issue 22); the shelter demo's relief supplies are here too.
ENGLISH = {
    "LJ": ("Life jacket", "Flood rescue", "pcs"),
    "LB": ("Life buoy", "Flood rescue", "pcs"),
    "ROPE": ("Rescue rope", "Flood rescue", "pcs"),
    "SANDBAG": ("Water-absorbing sandbag", "Flood rescue", "pcs"),
    "TAPE": ("Cordon tape", "Cordon", "rolls"),
    "VEST": ("Reflective vest", "Cordon", "pcs"),
    "LIGHT": ("Searchlight", "Lighting", "pcs"),
    "TORCH": ("High-power torch", "Lighting", "pcs"),
    "WHISTLE": ("Whistle", "Communications", "pcs"),
    "BREAKER": ("Window breaker", "Forcible entry", "pcs"),
    "MEDKIT": ("First-aid kit", "Medical", "pcs"),
    "PUMP": ("Drainage pump", "Drainage", "units"),
    "BOAT": ("Assault boat", "Water rescue", "boats"),
    "DRONE": ("Drone", "Reconnaissance", "units"),
    "COT": ("Folding cot", "Shelter relief", "pcs"),
    "QUILT": ("Quilt", "Shelter relief", "pcs"),
    "WATER": ("Bottled drinking water", "Shelter relief", "cases"),
    "FOOD": ("Instant food", "Shelter relief", "cases"),
    "LAMP": ("Emergency lamp", "Shelter relief", "pcs"),
}

# unit kind, item, base, per officer: a basic flood-equipment edition (life jackets, ropes,
# sandbags, lights), not the modernization standard (应急装备现代化) the report calls for
STANDARD = [
    ("station", "LJ", "2", "1"),
    ("station", "LB", "2", "0.2"),
    ("station", "ROPE", "4", "0.2"),
    ("station", "SANDBAG", "100", "2"),
    ("station", "TAPE", "5", "0.2"),
    ("station", "VEST", "0", "1"),
    ("station", "LIGHT", "2", "0.1"),
    ("station", "TORCH", "0", "0.5"),
    ("station", "WHISTLE", "0", "1"),
    ("station", "BREAKER", "2", "0.2"),
    ("station", "MEDKIT", "2", "0.1"),
    ("station", "PUMP", "1", "0"),
    ("squad", "LJ", "2", "0.5"),
    ("squad", "TAPE", "10", "0.3"),
    ("squad", "VEST", "0", "1"),
    ("squad", "TORCH", "0", "0.5"),
    ("squad", "WHISTLE", "0", "1"),
    ("brigade", "LJ", "4", "0.2"),
    ("brigade", "VEST", "0", "1"),
    ("brigade", "TAPE", "10", "0.2"),
    ("centre", "DRONE", "2", "0"),
    ("centre", "LIGHT", "2", "0"),
    ("warehouse", "LJ", "100", "0"),
    ("warehouse", "SANDBAG", "2000", "0"),
    ("warehouse", "PUMP", "4", "0"),
    ("warehouse", "BOAT", "2", "0"),
]

# Wenling's own edition (温岭市应急管理局, after the 2023 rectification): what each town
# (镇/街道) keeps for flood and typhoon relief; towns count no officers, so base quantities
# only. The shelter demo adds its sites' relief supplies to this edition.
WL_STANDARD = [
    ("town", "LJ", "30", "0"),
    ("town", "LB", "10", "0"),
    ("town", "ROPE", "10", "0"),
    ("town", "SANDBAG", "500", "0"),
    ("town", "TAPE", "10", "0"),
    ("town", "LIGHT", "2", "0"),
    ("town", "TORCH", "10", "0"),
    ("town", "MEDKIT", "5", "0"),
    ("town", "PUMP", "1", "0"),
]

# unit code -> {item: qty}; the seed's figures first.
STOCK = {
    "DF-DAYE": {
        "LJ": 6,
        "LB": 4,
        "ROPE": 6,
        "TAPE": 8,
        "VEST": 20,
        "LIGHT": 2,
        "TORCH": 10,
        "WHISTLE": 20,
        "BREAKER": 4,
        "MEDKIT": 3,
    },
    "DF-BAIPING": {
        "SANDBAG": 40,
        "TAPE": 1,
        "LJ": 10,
        "LB": 2,
        "ROPE": 4,
        "VEST": 10,
        "LIGHT": 2,
        "TORCH": 6,
        "WHISTLE": 16,
        "BREAKER": 3,
        "MEDKIT": 2,
    },
    "DF-LUDIAN": {
        "SANDBAG": 60,
        "LIGHT": 1,
        "LJ": 15,
        "LB": 4,
        "ROPE": 6,
        "TAPE": 6,
        "VEST": 22,
        "TORCH": 8,
        "WHISTLE": 10,
        "BREAKER": 4,
        "MEDKIT": 3,
    },
    "DF-JUNZHAO": {
        "SANDBAG": 30,
        "WHISTLE": 0,
        "BREAKER": 0,
        "LJ": 8,
        "LB": 2,
        "ROPE": 3,
        "TAPE": 4,
        "VEST": 14,
        "LIGHT": 2,
        "TORCH": 4,
        "MEDKIT": 1,
    },
    "DF-XUANHUA": {
        "SANDBAG": 80,
        "LJ": 12,
        "LB": 3,
        "ROPE": 5,
        "TAPE": 6,
        "VEST": 15,
        "LIGHT": 3,
        "TORCH": 6,
        "WHISTLE": 15,
        "BREAKER": 5,
        "MEDKIT": 4,
    },
    "DF-CHONGGAO": {
        "SANDBAG": 200,
        "LJ": 60,
        "LB": 12,
        "ROPE": 14,
        "TAPE": 16,
        "VEST": 50,
        "LIGHT": 8,
        "TORCH": 25,
        "WHISTLE": 50,
        "BREAKER": 12,
        "MEDKIT": 8,
    },
    "DF-GAOCHENG": {
        "SANDBAG": 100,
        "LJ": 22,
        "LB": 6,
        "ROPE": 8,
        "TAPE": 9,
        "VEST": 24,
        "LIGHT": 4,
        "TORCH": 12,
        "WHISTLE": 24,
        "BREAKER": 7,
        "MEDKIT": 5,
    },
    "DF-SHAOLIN": {
        "SANDBAG": 120,
        "LJ": 30,
        "LB": 8,
        "ROPE": 10,
        "TAPE": 11,
        "VEST": 30,
        "LIGHT": 5,
        "TORCH": 15,
        "WHISTLE": 30,
        "BREAKER": 8,
        "MEDKIT": 5,
    },
    "DF-TRAFFIC": {"LJ": 10, "VEST": 80, "TAPE": 20},
    "DF-TRAFFIC-7": {"VEST": 18, "TAPE": 12, "TORCH": 6, "WHISTLE": 18, "LJ": 4},
    "DF-ORDER": {"LJ": 8, "VEST": 35, "TAPE": 12},
    "DF-CMD": {"LIGHT": 2},
    # Wenling's towns: the coast (石塘, 滨海) better stocked than inland.
    "WL-ST": {"LJ": 40, "LB": 12, "ROPE": 12, "SANDBAG": 600, "TAPE": 10, "TORCH": 12},
    "WL-BH": {"LJ": 30, "LB": 8, "ROPE": 8, "SANDBAG": 400, "TAPE": 6, "LIGHT": 2},
    "WL-CB": {"LJ": 20, "ROPE": 6, "SANDBAG": 300, "TAPE": 8, "MEDKIT": 5},
    "WL-CN": {"LJ": 16, "SANDBAG": 200, "TORCH": 4},
    "WL-SQT": {"LJ": 10, "SANDBAG": 120, "MEDKIT": 2},
    "WL-XH": {"LJ": 8, "SANDBAG": 80},
    "DF-WH": {
        "LJ": 150,
        "LB": 20,
        "ROPE": 30,
        "TAPE": 40,
        "VEST": 60,
        "LIGHT": 8,
        "TORCH": 30,
        "WHISTLE": 100,
        "BREAKER": 30,
    },
}

SERIALS = {
    "DF-WH": {"PUMP": ["PUMP-2021-01", "PUMP-2021-02", "PUMP-2022-03"], "BOAT": ["CFZ-2020-01"]},
    "DF-CMD": {"DRONE": ["UAV-DJI-0001"]},
    "DF-CHONGGAO": {"PUMP": ["PUMP-2022-07"]},
}


def add_items(session: Session, rows) -> None:
    """Catalog entries from (code, name, category, uom, cost, shelf life, tracking) rows, with
    their English from ENGLISH; codes already in the catalog only get the English they lack."""
    known = {i.code: i for i in session.scalars(select(Item))}
    for code, name, category, uom, cost, shelf, tracking in rows:
        name_en, category_en, uom_en = ENGLISH.get(code, ("", "", ""))
        if code in known:
            _add_english(session, known[code], name)
            continue
        create_item(
            session,
            code=code,
            name=name,
            category=category,
            uom=uom,
            unit_cost=cost,
            shelf_life_days=shelf,
            tracking=tracking,
            name_en=name_en,
            category_en=category_en,
            uom_en=uom_en,
            actor=SYSTEM,
        )


def add_english(session: Session, rows) -> None:
    """The English the demo's items in the catalog lack (a demo database from before the
    catalog kept English); nothing is added to the catalog."""
    known = {i.code: i for i in session.scalars(select(Item))}
    for code, name, *_rest in rows:
        if code in known:
            _add_english(session, known[code], name)


def _add_english(session: Session, item: Item, name: str) -> None:
    """Only the demo's own item (same code, same Chinese name) gets the English it lacks;
    what anyone has written stays."""
    name_en, category_en, uom_en = ENGLISH.get(item.code, ("", "", ""))
    if item.name != name or not (name_en or category_en or uom_en):
        return
    wanted = (item.name_en or name_en, item.category_en or category_en, item.uom_en or uom_en)
    if wanted == (item.name_en, item.category_en, item.uom_en):
        return
    update_item(
        session,
        item,
        name=item.name,
        category=item.category,
        uom=item.uom,
        unit_cost=item.unit_cost,
        shelf_life_days=item.shelf_life_days,
        is_active=item.is_active,
        name_en=wanted[0],
        category_en=wanted[1],
        uom_en=wanted[2],
        actor=SYSTEM,
    )


def load(session: Session, today: date | None = None) -> bool:
    """Load the inventory demo once (when the catalog is empty; on a demo catalog from before
    issue 22 only the English of its items is filled in). Returns True if loaded."""
    if session.scalar(select(func.count()).select_from(Item)):
        add_english(session, ITEMS)
        return False
    today = today or date.today()
    add_items(session, ITEMS)
    # Each bureau keeps its own edition, in force for its own tree only.
    publish_standard(
        session,
        effective_from=today - timedelta(days=520),
        lines=[StandardLineInput(*line) for line in STANDARD],
        note="防汛基本装备配备标准（演示）：按单位类型和警力核定基层防汛装备",
        actor=SYSTEM,
        unit=core.get_unit(session, "DF"),
    )
    publish_standard(
        session,
        effective_from=today - timedelta(days=400),
        lines=[StandardLineInput(*line) for line in WL_STANDARD],
        note="依据《温岭市应急管理局应急物资调拨内部审批制度》整改要求，核定各镇（街道）储备",
        actor=SYSTEM,
        unit=core.get_unit(session, "WL"),
    )
    users = {u.username: u for u in session.scalars(select(User))}
    items = {i.code: i for i in session.scalars(select(Item))}

    def actor_for(unit_code: str):
        if unit_code == "DF-DAYE" and "clerk" in users:
            return users["clerk"]
        if unit_code == "DF-WH" and "keeper" in users:
            return users["keeper"]
        if unit_code == "WL-ST" and "shitang" in users:
            return users["shitang"]
        return SYSTEM

    for unit_code, lines in STOCK.items():
        unit = core.get_unit(session, unit_code)
        for item_code, qty in lines.items():
            if qty:
                record_movement(
                    session,
                    unit=unit,
                    item=items[item_code],
                    kind="receipt",
                    qty=qty,
                    note="清查建账",
                    actor=actor_for(unit_code),
                )
    for unit_code, by_item in SERIALS.items():
        unit = core.get_unit(session, unit_code)
        for item_code, serials in by_item.items():
            record_movement(
                session,
                unit=unit,
                item=items[item_code],
                kind="receipt",
                qty=len(serials),
                serials=serials,
                note="清查建账",
                actor=actor_for(unit_code),
            )

    # Lots with expiry dates: fresh, about to lapse, and already lapsed.
    wh = core.get_unit(session, "DF-WH")
    daye = core.get_unit(session, "DF-DAYE")
    lots = [
        (wh, "SANDBAG", "SB-2024-A", today + timedelta(days=500), 2600),
        (wh, "SANDBAG", "SB-2020-B", today - timedelta(days=40), 500),
        (wh, "MEDKIT", "MK-2023-05", today + timedelta(days=45), 40),
        (daye, "SANDBAG", "SB-2019-D", today - timedelta(days=200), 40),
        (daye, "SANDBAG", "SB-2024-A", today + timedelta(days=500), 60),
    ]
    for unit, item_code, lot, expires, qty in lots:
        record_movement(
            session,
            unit=unit,
            item=items[item_code],
            kind="receipt",
            qty=qty,
            lot_code=lot,
            expires_on=expires,
            note="入库",
            actor=actor_for(unit.code),
        )
    record_movement(
        session,
        unit=daye,
        item=items["LJ"],
        kind="issue",
        qty=2,
        note="汛期巡逻领用后归还前",
        actor=actor_for("DF-DAYE"),
    )
    record_movement(
        session,
        unit=daye,
        item=items["LJ"],
        kind="receipt",
        qty=2,
        note="巡逻归还",
        actor=actor_for("DF-DAYE"),
    )
    record_movement(
        session,
        unit=wh,
        item=items["TORCH"],
        kind="write_off",
        qty=2,
        reason="damaged",
        note="演练中损坏",
        actor=actor_for("DF-WH"),
    )

    # A finished count at 大冶 with variances, approved by command staff.
    if "clerk" in users and "command" in users:
        count = start_count(session, daye, actor=users["clerk"], note="汛前全面清点")
        found = {"ROPE": 5, "VEST": 19, "WHISTLE": 20, "LJ": 6}
        for line in list(count.lines):
            item = session.get(Item, line.item_id)
            if item.code in found and line.lot_id is None:
                enter_count(session, count, item, None, found[item.code], actor=users["clerk"])
            elif line.book > 0:  # a full count: every position with stock is counted
                enter_count(session, count, item, line.lot, line.book, actor=users["clerk"])
        submit_count(session, count, actor=users["clerk"])
        approve_count(session, count, actor=users["command"])
    _allocations(session, users)
    _maintenance(session, items, today, actor_for("DF-WH"))
    from inventory import rounds_demo

    rounds_demo.load(session, today)
    from inventory import preseason_demo

    preseason_demo.load(session, today)
    return True


def _allocations(session: Session, users: dict) -> None:
    """大冶 asks the warehouse for life jackets; 卢店 got pumps on flood night, unapproved yet."""
    from inventory import allocations as alloc

    if not {"clerk", "command", "keeper"} <= set(users):
        return
    wh = core.get_unit(session, "DF-WH")
    alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=core.get_unit(session, "DF-DAYE"),
        lines=[alloc.LineInput("LJ", 24), alloc.LineInput("WHISTLE", 8)],
        reason="汛前补齐救生衣和口哨，达到防汛基本装备配备标准",
        actor=users["clerk"],
    )
    emergency = alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=core.get_unit(session, "DF-LUDIAN"),
        lines=[alloc.LineInput("SANDBAG", 200)],
        reason="卢店辖区河道漫堤，紧急调用吸水沙袋",
        emergency=True,
        actor=users["command"],
    )
    alloc.dispatch_allocation(session, emergency, actor=users["keeper"])


# The pumps and the boat of the central warehouse: tested and serviced on a schedule (every
# 30 days a pump is started and run), one pump failed its test two days ago and is out of
# service (the shortfall report counts it out), one was never tested (overdue).
MAINTENANCE_INTERVALS = {"PUMP": (180, 30), "BOAT": (90, 30), "DRONE": (None, 30)}
MAINTENANCE = [
    ("PUMP-2021-01", "service", 60, "pass", "更换机油、检查叶轮", ""),
    ("PUMP-2021-01", "function_test", 12, "pass", "启动正常，连续运行 15 分钟，出水正常", ""),
    ("PUMP-2021-02", "function_test", 2, "fail", "三次启动失败，疑似电机受潮", ""),
    ("CFZ-2020-01", "service", 100, "pass", "船外机保养、检查船体", "登封市船舶修造厂"),
    ("CFZ-2020-01", "function_test", 20, "pass", "下水试航 10 分钟，正常", ""),
]


def _maintenance(session: Session, items: dict, today: date, actor) -> None:
    from inventory import maintenance

    for code, (service_days, test_days) in MAINTENANCE_INTERVALS.items():
        maintenance.set_intervals(session, items[code], service_days, test_days, actor=SYSTEM)
    # the pieces were put on the books at the first stocktake, more than a year ago
    registered = datetime.combine(today - timedelta(days=400), time(9), tzinfo=UTC)
    for asset in session.scalars(select(Asset)):
        asset.registered_at = registered
    for serial, kind, days_ago, result, readings, vendor in MAINTENANCE:
        asset = session.scalar(select(Asset).where(Asset.serial == serial))
        maintenance.record(
            session,
            asset,
            kind=kind,
            done_on=today - timedelta(days=days_ago),
            result=result,
            readings=readings,
            vendor=vendor,
            actor=actor,
            today=today,
        )

"""Shelter demonstration data: a Wenling-style county as its inspection report tells it.

Six towns the report names, their villages, a mix of standardized and ordinary sites, so
coverage sits below the province's 60%; year-end inspections found worn signage and expired
relief supplies, rotated them, and paid the towns 50.78万元 of subsidy between them. Village
names and figures are made up for the demonstration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from inventory import ledger, standard
from inventory.demo import add_english, add_items
from inventory.models import Item, StandardLine
from readiness import services as core
from readiness.models import User
from readiness.pdf import pdf_table
from readiness.permissions import SYSTEM
from shelters import acceptance, inspections, places, sites
from shelters.models import CHECKLIST, Shelter, Village

# (town code, villages); communities end in 社区. The towns are units of the demo tree.
TOWN_VILLAGES = {
    "WL-CB": "横湖村 双峰村 上林村 下林村 三星社区 九龙社区 万昌社区 楼山村 塘岙村 前洋村",
    "WL-ST": "海山村 桂岙村 里箬村 东山村 五岙村 前红村 后沙村 粗沙头村 箬山社区",
    "WL-CN": "太湖村 岙环村 上街村 下街村 新城社区 山前村 沙岙村 横塘村",
    "WL-BH": "东海村 南港村 北港村 东浦村 新塘村 海湾社区 盐场村 渔港村",
    "WL-SQT": "石桥村 北岙村 南岙村 西岸村 东岸村 石头社区 竹屿村",
    "WL-XH": "新河村 长屿村 塘下村 城西村 城东社区 中心村 沙门村 浦口村",
}
COASTAL = {"WL-ST", "WL-BH", "WL-SQT"}

# Relief supplies a shelter holds, and the shelter standard per person it takes.
SHELTER_ITEMS = [
    ("COT", "折叠床", "避灾安置", "张", "180.00", None, "bulk"),
    ("QUILT", "棉被", "避灾安置", "床", "150.00", None, "bulk"),
    ("WATER", "瓶装饮用水", "避灾安置", "箱", "30.00", 365, "bulk"),
    ("FOOD", "方便食品", "避灾安置", "箱", "90.00", 270, "bulk"),
    ("LAMP", "应急照明灯", "避灾安置", "个", "95.00", None, "bulk"),
]
SHELTER_STANDARD = [
    ("shelter", "COT", "0", "0.3"),
    ("shelter", "QUILT", "0", "1"),
    ("shelter", "WATER", "0", "0.2"),
    ("shelter", "FOOD", "0", "0.2"),
    ("shelter", "LAMP", "2", "0.02"),
]

# (town, name, level, capacity, area m², standardized on (None: not standardized),
#  status, villages served (indexes into the town's list), generator, in floodplain)
SITES = [
    (
        "WL-CB",
        "城北街道综合避灾中心",
        "town",
        400,
        "720",
        date(2019, 6, 20),
        "active",
        (0, 1, 2),
        True,
        False,
    ),
    (
        "WL-CB",
        "三星社区文化家园",
        "village",
        120,
        "210",
        date(2021, 5, 12),
        "active",
        (4, 5),
        False,
        False,
    ),
    (
        "WL-CB",
        "万昌社区服务中心",
        "village",
        80,
        "150",
        date(2023, 4, 26),
        "active",
        (6, 7),
        False,
        False,
    ),
    ("WL-CB", "前洋村老年活动室", "village", 40, "70", None, "active", (9,), False, True),
    (
        "WL-ST",
        "石塘镇中心小学",
        "town",
        450,
        "600",
        date(2020, 7, 1),
        "active",
        (0, 1, 8),
        True,
        False,
    ),
    (
        "WL-ST",
        "东山村文化礼堂",
        "village",
        60,
        "80",
        date(2023, 4, 26),
        "active",
        (3,),
        False,
        False,
    ),
    ("WL-ST", "里箬村祠堂", "village", 50, "90", None, "active", (2,), False, True),
    ("WL-ST", "五岙村避灾点", "village", 60, "100", None, "construction", (4, 5), False, False),
    (
        "WL-CN",
        "城南镇避灾安置中心",
        "town",
        250,
        "330",
        date(2018, 9, 30),
        "active",
        (0, 1, 4),
        True,
        False,
    ),
    (
        "WL-CN",
        "上街村文化礼堂",
        "village",
        70,
        "120",
        date(2023, 4, 26),
        "active",
        (2,),
        False,
        False,
    ),
    (
        "WL-CN",
        "沙岙村旧校舍",
        "village",
        90,
        "160",
        date(2017, 5, 1),
        "suspended",
        (6, 7),
        False,
        True,
    ),
    (
        "WL-BH",
        "滨海镇中学体育馆",
        "town",
        600,
        "900",
        date(2020, 6, 15),
        "active",
        (0, 1, 2),
        True,
        False,
    ),
    ("WL-BH", "盐场村村委会", "village", 40, "90", None, "active", (6, 7), False, True),
    ("WL-BH", "渔港村避灾安置点", "village", 60, "110", None, "planned", (7,), False, False),
    (
        "WL-SQT",
        "石桥头镇避灾中心",
        "town",
        180,
        "300",
        date(2021, 8, 3),
        "active",
        (0, 1, 5),
        True,
        False,
    ),
    ("WL-SQT", "竹屿村文化礼堂", "village", 50, "60", None, "active", (6,), False, True),
    (
        "WL-XH",
        "新河镇综合文化站",
        "town",
        300,
        "400",
        date(2019, 11, 8),
        "active",
        (0, 3, 4),
        True,
        False,
    ),
    ("WL-XH", "长屿村礼堂", "village", 60, "95", None, "active", (1,), False, False),
]

# Year-end subsidies (yuan) paid through the first inspection of each standardized site:
# 50.78万元 in all, as the report states.
SUBSIDIES = [
    Decimal("96000.00"),
    Decimal("32000.00"),
    Decimal("25800.00"),
    Decimal("80000.00"),
    Decimal("21000.00"),
    Decimal("45000.00"),
    Decimal("22000.00"),
    Decimal("30000.00"),
    Decimal("104000.00"),
    Decimal("52000.00"),
]
assert sum(SUBSIDIES) == Decimal("507800.00")

MANAGERS = ["王建国", "李海平", "张丽华", "刘志强", "陈晓东", "杨春燕", "黄卫民", "赵金花"]

REGISTERED_DAYS_AGO = 730
# The site whose scanned acceptance form the demo keeps (when it has an attachment folder):
# suspended, so the coverage page lists it among the sites that would close the gap.
SCANNED_FORM = "沙岙村旧校舍"
# Sites whose towns asked for acceptance, with what they wrote.
REQUESTED = {
    "里箬村祠堂": "房屋安全检测报告已出具，指示牌已更换，申请规范化验收。",
    "长屿村礼堂": "已完成改造，物资已按标准储备，请安排验收。",
}
ALL_PASS = dict.fromkeys(CHECKLIST, "pass")


def _village_figures(town_code: str, n: int) -> tuple[int, int]:
    """A village's population and people to relocate: coastal villages move more."""
    population = 900 + (n * 437 + len(town_code) * 211) % 2600
    share = Decimal("0.07") if town_code in COASTAL else Decimal("0.04")
    return population, int(population * share)


def _ensure_shelter_standard(session: Session, today: date) -> None:
    add_items(session, SHELTER_ITEMS)
    wenling = core.get_unit(session, "WL")  # the sites' supplies join Wenling's own edition
    current = standard.standard_as_of(session, today, wenling)
    lines = []
    if current is not None:
        if any(line.unit_kind == "shelter" for line in current.lines):
            return
        lines = [
            standard.StandardLineInput(
                line.unit_kind, line.item.code, line.base_qty, line.per_officer
            )
            for line in session.scalars(
                select(StandardLine).where(StandardLine.version_id == current.id)
            )
        ]
    effective = current.effective_from if current else today - timedelta(days=365)
    standard.publish_standard(
        session,
        effective_from=effective,
        lines=[*lines, *(standard.StandardLineInput(*line) for line in SHELTER_STANDARD)],
        note="增加避灾安置场所救灾物资储备（按核定容量）",
        actor=SYSTEM,
        unit=wenling,
    )


def _acceptance_form(site) -> bytes:
    """The signed acceptance form of a site, as the bureau would scan and attach it."""
    return pdf_table(
        "避灾安置场所规范化验收表",
        [site.town.name, site.name],
        ["验收项目", "结论"],
        [[str(label), "合格"] for label in CHECKLIST.values()],
    )


def load(session: Session, today: date | None = None, attachment_dir: Path | None = None) -> bool:
    """Load the shelter demo once (when no village exists). Returns True if loaded. With
    ``attachment_dir`` one accepted site also carries its scanned acceptance form."""
    if session.scalar(select(func.count()).select_from(Village)):
        add_english(session, SHELTER_ITEMS)  # a demo database from before issue 22
        return False
    today = today or date.today()
    users = {u.username: u for u in session.scalars(select(User))}
    command = users.get("wenling") or users.get("command") or SYSTEM
    for code, names in TOWN_VILLAGES.items():
        town = core.get_unit(session, code)
        villages = []
        for n, name in enumerate(names.split()):
            population, to_relocate = _village_figures(code, n)
            kind = "community" if name.endswith("社区") else "village"
            villages.append(places.VillageInput(name, population, to_relocate, kind))
        places.save_town(session, code=town.code, name=town.name, villages=villages, actor=command)
    _ensure_shelter_standard(session, today)
    items = {i.code: i for i in session.scalars(select(Item))}
    subsidies = iter(SUBSIDIES)
    for n, (code, name, level, cap, area, std_on, status, served, gen, flood) in enumerate(SITES):
        town = core.get_unit(session, code)
        names = TOWN_VILLAGES[code].split()
        site = sites.create_shelter(
            session,
            sites.ShelterInput(
                name=name,
                town=town,
                level=level,
                capacity=cap,
                area_m2=area,
                address=f"温岭市{town.name}{names[served[0]]}",
                structure="frame" if level == "town" else "masonry",
                is_accessible=level == "town",
                has_generator=gen,
                is_in_floodplain=flood,
                status=status,
                manager_name=MANAGERS[n % len(MANAGERS)],
                manager_phone=f"1390576{n:04d}",
                villages=[names[i] for i in served],
            ),
            actor=command,
            today=today,
        )
        # the bureau put its sites on the system two years ago: the year-end inspections
        # below come after their registration, as the service insists
        # (a plain UPDATE: the site stays at version 1, never edited)
        registered = datetime.combine(today - timedelta(days=REGISTERED_DAYS_AGO), time(1), UTC)
        session.execute(update(Shelter).where(Shelter.id == site.id).values(created_at=registered))
        session.expire(site, ["created_at"])
        if std_on is not None:
            # accepted long before the bureau put its sites on the system: carried over by
            # the system on the day of registration, the historical date kept in the note
            scanned = attachment_dir is not None and name == SCANNED_FORM
            form = _acceptance_form(site) if scanned else None
            acceptance.accept_shelter(
                session,
                site,
                accepted_on=registered.date(),
                note=f"系统导入：原已于 {std_on.isoformat()} 通过规范化验收",
                documents=[acceptance.Upload("规范化验收表.pdf", form)] if form else [],
                storage_dir=attachment_dir,
                max_bytes=len(form) if form else 0,
                actor=SYSTEM,
                today=today,
            )
        elif name in REQUESTED:
            # the towns asked for acceptance; command staff have yet to visit (待验收)
            acceptance.request_acceptance(
                session,
                site,
                note=REQUESTED[name],
                actor=users.get("shitang") if code == "WL-ST" and "shitang" in users else SYSTEM,
            )
        if status != "active":
            continue
        _stock(session, site, items, today)
        if std_on is None:
            continue
        # the year-end survey: signage, supplies replenished, expired stock rotated, subsidy
        checklist = dict(ALL_PASS)
        defects = []
        if n % 4 == 1:
            checklist["signage"] = "fail"
            defects.append(inspections.DefectInput("场所指示牌褪色、疏散示意图缺失"))
        if n % 5 == 0:
            defects.append(inspections.DefectInput("应急照明灯 2 个损坏", True))
        inspections.record_inspection(
            session,
            site,
            inspected_on=today - timedelta(days=330 - n * 7),
            inspector="市应急管理局减灾救灾科",
            checklist=checklist,
            defects=defects,
            replenished_qty=cap // 2,
            rotated_qty=cap // 10,
            subsidy=next(subsidies),
            note="修缮房屋、更换指示标识牌，补充救灾物资并轮换过期物资",
            actor=command,
            today=today,
        )
        if n % 3 == 0:
            # the spring follow-up before the flood season; some sites still wait for it
            inspections.record_inspection(
                session,
                site,
                inspected_on=today - timedelta(days=40 + n),
                inspector="镇应急管理办公室",
                checklist={**ALL_PASS, "supplies": "fail"} if n == 0 else ALL_PASS,
                defects=[inspections.DefectInput("部分瓶装饮用水已过期，待轮换")] if n == 0 else [],
                actor=command,
                today=today,
            )
    return True


def _stock(session: Session, site, items: dict[str, Item], today: date) -> None:
    """Relief supplies on the site's shelves; a few sites hold less than the standard, and the
    first one still has an expired lot of water waiting to be rotated."""
    unit = site.unit
    fill = Decimal("1") if site.id % 3 else Decimal("0.5")
    for code, per_person in (("COT", "0.3"), ("QUILT", "1"), ("LAMP", "0.04")):
        qty = int(site.capacity * Decimal(per_person) * fill)
        if qty:
            ledger.record_movement(
                session,
                unit=unit,
                item=items[code],
                kind="receipt",
                qty=qty,
                actor=SYSTEM,
                note="避灾安置场所物资储备",
            )
    for code, days in (("WATER", 200), ("FOOD", 150)):
        ledger.record_movement(
            session,
            unit=unit,
            item=items[code],
            kind="receipt",
            qty=int(site.capacity * Decimal("0.2") * fill) or 1,
            lot_code=f"{code[0]}{today.year}-{site.id:03d}",
            expires_on=today + timedelta(days=days),
            actor=SYSTEM,
            today=today,
        )
    if site.id == 1:
        ledger.record_movement(
            session,
            unit=unit,
            item=items["WATER"],
            kind="receipt",
            qty=20,
            lot_code="W-OLD-001",
            expires_on=today - timedelta(days=15),
            actor=SYSTEM,
            today=today - timedelta(days=380),
        )

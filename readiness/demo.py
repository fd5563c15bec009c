"""Demonstration data: the Dengfeng police bureau of the 2021 flood inspection report.

Every record goes through the services (as the system actor), so the demo
also fills the audit log the way real use would.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readiness import audit, services
from readiness.audit import AuditEntry
from readiness.models import Unit, User
from readiness.permissions import SYSTEM

# The audit action that marks a database as holding the demo (the banner reads it).
LOADED = "demo.load"

DEMO_PASSWORD = "demo-2021-0720"

# (code, name, kind, parent code, headcount)
DEMO_UNITS = [
    ("DF", "登封市公安局", "bureau", None, 520),
    ("DF-CMD", "情指联勤中心", "centre", "DF", 40),
    ("DF-WH", "应急物资中心仓库", "warehouse", "DF", 6),
    ("DF-TRAFFIC", "交警大队", "brigade", "DF", 80),
    ("DF-TRAFFIC-7", "交警七中队", "squad", "DF-TRAFFIC", 18),
    ("DF-ORDER", "治安大队", "brigade", "DF", 35),
    ("DF-DAYE", "大冶派出所", "station", "DF", 28),
    ("DF-BAIPING", "白坪派出所", "station", "DF", 16),
    ("DF-LUDIAN", "卢店派出所", "station", "DF", 22),
    ("DF-JUNZHAO", "君召派出所", "station", "DF", 14),
    ("DF-XUANHUA", "宣化派出所", "station", "DF", 15),
    ("DF-CHONGGAO", "崇高路派出所", "station", "DF", 45),
    ("DF-GAOCHENG", "告成派出所", "station", "DF", 24),
    ("DF-SHAOLIN", "少林派出所", "station", "DF", 30),
    # the Wenling emergency-management bureau and the towns its report names (shelters)
    # a town's headcount is its rescue team's roster (综合应急救援队, 317 in all): the
    # training page's certification rate counts over it; the bureau's own office staff
    # are no rescue team
    ("WL", "温岭市应急管理局", "bureau", None, 0),
    ("WL-CB", "城北街道", "town", "WL", 55),
    ("WL-ST", "石塘镇", "town", "WL", 66),
    ("WL-CN", "城南镇", "town", "WL", 60),
    ("WL-BH", "滨海镇", "town", "WL", 52),
    ("WL-SQT", "石桥头镇", "town", "WL", 36),
    ("WL-XH", "新河镇", "town", "WL", 48),
]

# (username, role, unit code, name)
DEMO_USERS = [
    ("admin", "admin", "DF", "系统管理员"),
    ("command", "command", "DF", "王敏（装备科）"),
    ("inspector", "inspector", "DF", "李强（督察大队）"),
    ("keeper", "keeper", "DF-WH", "赵磊（仓库保管员）"),
    ("clerk", "clerk", "DF-DAYE", "陈刚（大冶派出所）"),
    ("wenling", "command", "WL", "周敏（温岭市应急管理局减灾救灾科）"),
    ("shitang", "clerk", "WL-ST", "林洁（石塘镇应急管理办公室）"),
    ("wl-inspector", "inspector", "WL", "郑涛（温岭市委第三巡察组）"),
    ("wl-law", "clerk", "WL", "叶青（温岭市应急管理局政策法规科）"),
    ("wl-office", "clerk", "WL", "潘虹（温岭市应急管理局办公室）"),
    # the two leadership groups (领导班子) that take collective decisions on spending (三重一大)
    ("df-chief", "command", "DF", "张建军（局长）"),
    ("df-deputy", "command", "DF", "刘强（副局长，分管装备）"),
    ("df-deputy2", "command", "DF", "孙丽（副局长）"),
    ("df-zhengwei", "command", "DF", "马涛（政委）"),
    ("wl-chief", "command", "WL", "陈国华（局长）"),
    ("wl-deputy", "command", "WL", "吴晓东（副局长）"),
    ("wl-deputy2", "command", "WL", "许静（副局长）"),
]


def database_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Unit))


def load(session: Session, attachment_dir: Path | None = None, today: date | None = None) -> None:
    """Create whatever of the demo data is missing; existing records are left alone.
    With ``attachment_dir`` the drills also get their sign-in sheets and evidence files.
    Dates count back from ``today`` (by default the real one)."""
    from drills import demo as drills_demo
    from funding import demo as funding_demo
    from inventory import demo as inventory_demo
    from labels import demo as labels_demo
    from rectification import demo as rectification_demo
    from shelters import demo as shelters_demo

    for code, name, kind, parent_code, headcount in DEMO_UNITS:
        if session.scalar(select(Unit).where(Unit.code == code)):
            continue
        parent = services.get_unit(session, parent_code) if parent_code else None
        services.create_unit(
            session,
            code=code,
            name=name,
            kind=kind,
            parent=parent,
            headcount=headcount,
            actor=SYSTEM,
        )
    for username, role, unit_code, name in DEMO_USERS:
        if session.scalar(select(User).where(User.username == username)):
            continue
        services.create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            unit=services.get_unit(session, unit_code),
            name=name,
            actor=SYSTEM,
            password_policy=False,  # published on purpose; the banner says so
        )
    inventory_demo.load(session, today)
    drills_demo.load(session, attachment_dir, today)
    shelters_demo.load(session, today, attachment_dir=attachment_dir)
    rectification_demo.load(session, today)
    labels_demo.load(session)
    funding_demo.load(session, today, attachment_dir)
    audit.record(session, SYSTEM, LOADED, summary="demo data loaded")


def foreign_data(session: Session) -> list[str]:
    """What in the database is not the demo's: accounts other than the demo accounts and
    top-level units other than the demo bureaus (a real installation has both)."""
    names = [username for username, *_ in DEMO_USERS]
    roots = [code for code, _n, _k, parent, _h in DEMO_UNITS if parent is None]
    users = session.scalars(select(User.username).where(User.username.not_in(names)).limit(5))
    units = session.scalars(
        select(Unit.code).where(Unit.parent_id.is_(None), Unit.code.not_in(roots)).limit(5)
    )
    return [f"user {u}" for u in users] + [f"unit {c}" for c in units]


def is_demo_in_use(session: Session) -> bool:
    """The demo was loaded here and one of its accounts can still sign in (banner shown)."""
    names = [username for username, *_ in DEMO_USERS]
    loaded = select(AuditEntry.id).where(AuditEntry.action == LOADED).limit(1)
    account = select(User.id).where(User.username.in_(names), User.is_active).limit(1)
    return session.scalar(loaded) is not None and session.scalar(account) is not None


def active_demo_accounts(session: Session) -> list[User]:
    """Demo accounts still active and still on the demo password (worth printing)."""
    from werkzeug.security import check_password_hash

    names = [username for username, *_ in DEMO_USERS]
    users = session.scalars(
        select(User).where(User.username.in_(names), User.is_active).order_by(User.id)
    )
    return [u for u in users if check_password_hash(u.password_hash, DEMO_PASSWORD)]


def init_app(app) -> None:
    """Every page says so while the demo is in use (its accounts have a published password)."""
    from readiness.extensions import db

    @app.context_processor
    def demo_banner():
        # Called by the template only where it is shown, so error pages never query for it.
        return {"demo_in_use": lambda: is_demo_in_use(db.session)}

"""The home page: the dashboard and what the signed-in user's role does next."""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from overview import dashboard
from readiness.auth import current_actor, permission
from readiness.extensions import db
from readiness.models import ROLES
from shelters.coverage import parse_target

# What each role does next, listed on the home page.
NEXT_STEPS: dict[str, list[tuple[str, object]]] = {
    "clerk": [
        ("inventory.stock_index", _l("登记入库、出库和报损")),
        ("inventory.counts", _l("按时盘库清点")),
        ("inventory.shortfall_report", _l("看本单位离标准还差多少")),
    ],
    "keeper": [
        ("inventory.stock_index", _l("登记入库、出库和报损")),
        ("inventory.counts", _l("组织盘库并审批他人的盘点")),
        ("inventory.expiry_report", _l("轮换临期物资")),
    ],
    "command": [
        ("inventory.shortfall_report", _l("查看装备缺口、采购预算和调剂建议")),
        ("inventory.counts", _l("审批盘点、督促逾期未盘单位")),
        ("inventory.standard", _l("维护装备配备标准")),
        ("audit.index", _l("查阅审计日志")),
    ],
    "inspector": [
        ("inventory.shortfall_report", _l("核查装备缺口")),
        ("inventory.ledger", _l("调阅出入库台账")),
        ("inventory.counts", _l("检查盘库是否按时")),
        ("audit.index", _l("查阅审计日志")),
    ],
    "admin": [
        ("admin.units", _l("维护单位")),
        ("inventory.items", _l("维护物资目录")),
        ("admin.users", _l("管理用户和角色")),
        ("audit.index", _l("查阅审计日志")),
    ],
}


@permission("home.view")
def home():
    """The dashboard: what is short, late or waiting in my area, and what my role does next."""
    actor = current_actor()
    steps = [(ep, label) for ep, label in NEXT_STEPS.get(actor.role, [])]
    target = parse_target(None, current_app.config["SHELTER_COVERAGE_TARGET"])
    board = dashboard.gather(db.session, actor, today=date.today(), shelter_target=target)
    return render_template("readiness/home.html", steps=steps, board=board, roles=ROLES)

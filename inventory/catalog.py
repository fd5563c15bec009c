"""Use cases for the item catalog: adding items and changing their description."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.models import Item
from readiness import audit
from readiness.checks import check_decimal
from readiness.errors import Conflict, DomainError, NotFound
from readiness.permissions import require
from readiness.services import CODE_RE

NAME_MAX = 100

ITEM_FIELDS = (
    "code",
    "name",
    "category",
    "uom",
    "unit_cost",
    "shelf_life_days",
    "tracking",
    "is_active",
)


def get_item(session: Session, code: str) -> Item:
    item = session.scalar(select(Item).where(Item.code == code))
    if item is None:
        raise NotFound(_("物资代码 {code} 不存在。").format(code=code), field="item")
    return item


def _check_item_values(name, category, uom, unit_cost, shelf_life_days, tracking):
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise DomainError(_("请填写物资名称（最多 {n} 个字）。").format(n=NAME_MAX), field="name")
    category = (category or "").strip()
    if not category or len(category) > 40:
        raise DomainError(_("请填写类别（最多 40 个字）。"), field="category")
    uom = (uom or "").strip()
    if not uom or len(uom) > 10:
        raise DomainError(_("请填写计量单位（如 件、盘、个、根）。"), field="uom")
    cost = check_decimal(
        unit_cost, "unit_cost", places=2, maximum=Decimal("9999999999"), label=_("单价（元）")
    )
    if shelf_life_days is not None:
        if isinstance(shelf_life_days, bool) or not isinstance(shelf_life_days, int):
            raise DomainError(_("保质期必须是整数天数。"), field="shelf_life_days")
        if not 1 <= shelf_life_days <= 36500:
            raise DomainError(_("保质期应在 1 到 36500 天之间。"), field="shelf_life_days")
    if tracking not in ("bulk", "serial"):
        raise DomainError(_("管理方式只能是按数量或按件。"), field="tracking")
    return name, category, uom, cost


def create_item(
    session: Session,
    *,
    code: str,
    name: str,
    category: str,
    uom: str,
    unit_cost,
    shelf_life_days: int | None,
    tracking: str,
    actor,
) -> Item:
    """Add an item to the catalog."""
    require(session, actor, "items.manage")
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise DomainError(
            _("物资代码只能由字母、数字、- 和 _ 组成，以字母或数字开头，最长 32 位。"),
            field="code",
        )
    name, category, uom, cost = _check_item_values(
        name, category, uom, unit_cost, shelf_life_days, tracking
    )
    clash = session.scalar(select(Item).where(func.lower(Item.code) == code.lower()))
    if clash is not None:
        raise Conflict(
            _("物资代码 {code} 已被 {name} 使用。").format(code=clash.code, name=clash.name),
            field="code",
        )
    item = Item(
        code=code,
        name=name,
        category=category,
        uom=uom,
        unit_cost=cost,
        shelf_life_days=shelf_life_days,
        tracking=tracking,
    )
    session.add(item)
    session.flush()
    audit.record(session, actor, "item.create", item, after=audit.snapshot(item, ITEM_FIELDS))
    return item


def update_item(
    session: Session,
    item: Item,
    *,
    name: str,
    category: str,
    uom: str,
    unit_cost,
    shelf_life_days: int | None,
    is_active: bool,
    actor,
) -> Item:
    """Change an item's description, price or shelf life (its code and tracking stay)."""
    require(session, actor, "items.manage")
    name, category, uom, cost = _check_item_values(
        name, category, uom, unit_cost, shelf_life_days, item.tracking
    )
    before = audit.snapshot(item, ITEM_FIELDS)
    item.name, item.category, item.uom, item.unit_cost = name, category, uom, cost
    item.shelf_life_days = shelf_life_days
    item.is_active = bool(is_active)
    session.flush()
    after = audit.snapshot(item, ITEM_FIELDS)
    if after != before:
        audit.record(session, actor, "item.update", item, before=before, after=after)
    return item

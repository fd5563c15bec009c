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
# The English beside the Chinese (issue 22): optional, at most as long as the columns hold.
ENGLISH_MAX = {"name_en": 100, "category_en": 40, "uom_en": 20}

ITEM_FIELDS = (
    "code",
    "name",
    "category",
    "uom",
    "name_en",
    "category_en",
    "uom_en",
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


def _check_english(name_en, category_en, uom_en) -> tuple[str, str, str]:
    """The English name, category and unit of measure, stripped; empty when not given."""
    labels = {"name_en": _("英文名称"), "category_en": _("英文类别"), "uom_en": _("英文计量单位")}
    values = {"name_en": name_en, "category_en": category_en, "uom_en": uom_en}
    out = []
    for field, raw in values.items():
        if raw is not None and not isinstance(raw, str):
            raise DomainError(_("{label}必须是文字。").format(label=labels[field]), field=field)
        text = (raw or "").strip()
        if len(text) > ENGLISH_MAX[field]:
            raise DomainError(
                _("{label}最多 {n} 个字符。").format(label=labels[field], n=ENGLISH_MAX[field]),
                field=field,
            )
        out.append(text)
    return out[0], out[1], out[2]


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
    name_en: str | None = "",
    category_en: str | None = "",
    uom_en: str | None = "",
    actor,
) -> Item:
    """Add an item to the catalog (its English name, category and unit of measure are
    optional)."""
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
    name_en, category_en, uom_en = _check_english(name_en, category_en, uom_en)
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
        name_en=name_en,
        category_en=category_en,
        uom_en=uom_en,
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
    name_en: str | None = None,
    category_en: str | None = None,
    uom_en: str | None = None,
    actor,
) -> Item:
    """Change an item's description (in Chinese and English), price or shelf life (its code
    and tracking stay). English left as None stays as it is."""
    require(session, actor, "items.manage")
    name, category, uom, cost = _check_item_values(
        name, category, uom, unit_cost, shelf_life_days, item.tracking
    )
    english = _check_english(
        item.name_en if name_en is None else name_en,
        item.category_en if category_en is None else category_en,
        item.uom_en if uom_en is None else uom_en,
    )
    before = audit.snapshot(item, ITEM_FIELDS)
    item.name, item.category, item.uom, item.unit_cost = name, category, uom, cost
    item.name_en, item.category_en, item.uom_en = english
    item.shelf_life_days = shelf_life_days
    item.is_active = bool(is_active)
    session.flush()
    after = audit.snapshot(item, ITEM_FIELDS)
    if after != before:
        audit.record(session, actor, "item.update", item, before=before, after=after)
    return item

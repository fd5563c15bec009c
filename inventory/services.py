"""Use cases for the item catalog, the standard, the ledger, serial assets and stocktakes.

The shortfall report lives in ``inventory/shortfall.py``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import String, case, func, literal, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from inventory.models import (
    ASSET_STATUSES,
    MANUAL_KINDS,
    OUTBOUND_KINDS,
    Asset,
    Count,
    CountInterval,
    CountLine,
    Item,
    Lot,
    Movement,
    Position,
    RequirementOverride,
    StandardLine,
    StandardVersion,
)
from readiness import audit
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import require
from readiness.services import CODE_RE

MAX_QTY = 1_000_000
NOTE_MAX = 500
NAME_MAX = 100
LOT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")
WRITE_OFF_REASONS = ("expired", "damaged", "lost")
DEFAULT_COUNT_DAYS = 90
# Warehouses count monthly (专库储存 with 日周月 checks); a row in count_intervals overrides.
DEFAULT_COUNT_INTERVALS = {"warehouse": 30}

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


class InsufficientStock(Conflict):
    """The write would take a balance below zero (or into reserved stock)."""


# ---------------------------------------------------------------- small checks


def check_qty(value, *, field_name: str = "qty", allow_zero: bool = False) -> int:
    """A whole, positive (or zero) quantity below the sanity limit."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise DomainError(_("数量必须是整数。"), field=field_name)
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError(
            _("数量必须大于零。") if not allow_zero else _("数量不能为负数。"), field=field_name
        )
    if value > MAX_QTY:
        raise DomainError(_("数量不能超过 {n}。").format(n=f"{MAX_QTY:,}"), field=field_name)
    return value


def check_note(note: str | None, field_name: str = "note") -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_("备注不能超过 {n} 个字。").format(n=NOTE_MAX), field=field_name)
    return note


def _decimal(value, field_name: str, *, places: int = 3, maximum: Decimal = Decimal(10**6)):
    if isinstance(value, bool):
        raise DomainError(_("{field} 必须是数字。").format(field=field_name), field=field_name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(
            _("{field} 必须是数字。").format(field=field_name), field=field_name
        ) from None
    if not number.is_finite() or number < 0:
        raise DomainError(_("{field} 不能为负数。").format(field=field_name), field=field_name)
    if number > maximum:
        raise DomainError(_("{field} 数值过大。").format(field=field_name), field=field_name)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(
            _("{field} 最多 {n} 位小数。").format(field=field_name, n=places), field=field_name
        )
    return number


# ---------------------------------------------------------------- items


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
    cost = _decimal(unit_cost, "unit_cost", places=2, maximum=Decimal("9999999999"))
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


# ---------------------------------------------------------------- the standard


@functools.lru_cache(maxsize=65536)
def required_qty(base_qty: Decimal, per_officer: Decimal, headcount: int) -> int:
    """ceil(base + per_officer × headcount), computed exactly."""
    return math.ceil(Decimal(base_qty) + Decimal(per_officer) * headcount)


@dataclass(frozen=True)
class StandardLineInput:
    unit_kind: str
    item_code: str
    base_qty: object
    per_officer: object


def publish_standard(
    session: Session,
    *,
    effective_from: date,
    lines: Sequence[StandardLineInput],
    note: str = "",
    actor,
) -> StandardVersion:
    """Publish a new edition of the standard; earlier editions stay readable."""
    require(session, actor, "standard.manage")
    if not isinstance(effective_from, date):
        raise DomainError(_("请填写生效日期。"), field="effective_from")
    if not lines:
        raise DomainError(_("标准至少要有一行。"), field="lines")
    if len(lines) > 5000:
        raise DomainError(_("标准最多 5000 行。"), field="lines")
    note = check_note(note)
    seen: set[tuple[str, int]] = set()
    version = StandardVersion(
        effective_from=effective_from, note=note, published_by_id=getattr(actor, "id", None)
    )
    items = {i.code: i for i in session.scalars(select(Item))}
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=line.unit_kind),
                field="lines",
            )
        item = items.get(line.item_code)
        if item is None:
            raise DomainError(
                _("第 {n} 行：物资代码 {code} 不存在。").format(n=n, code=line.item_code),
                field="lines",
            )
        try:
            base = _decimal(line.base_qty, "base_qty")
            per = _decimal(line.per_officer, "per_officer")
        except DomainError as err:
            raise DomainError(
                _("第 {n} 行：{message}").format(n=n, message=err.message), field="lines"
            ) from None
        key = (line.unit_kind, item.id)
        if key in seen:
            raise DomainError(
                _("第 {n} 行：{kind} 的 {item} 重复。").format(
                    n=n, kind=UNIT_KINDS[line.unit_kind], item=item.name
                ),
                field="lines",
            )
        seen.add(key)
        version.lines.append(
            StandardLine(unit_kind=line.unit_kind, item=item, base_qty=base, per_officer=per)
        )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "standard.publish",
        version,
        after={"effective_from": effective_from.isoformat(), "lines": len(version.lines)},
        summary=note,
    )
    return version


def standard_as_of(session: Session, on: date) -> StandardVersion | None:
    """The edition in force on a date: the latest published with effective_from ≤ date."""
    return session.scalar(
        select(StandardVersion)
        .where(StandardVersion.effective_from <= on)
        .order_by(StandardVersion.effective_from.desc(), StandardVersion.id.desc())
        .limit(1)
    )


def set_override(
    session: Session, unit: Unit, item: Item, qty: int | None, *, reason: str, actor
) -> RequirementOverride | None:
    """Set (or with qty None, remove) an explicit requirement for one unit and item."""
    require(session, actor, "standard.manage")
    reason = check_note(reason, "reason")
    existing = session.scalar(
        select(RequirementOverride).where(
            RequirementOverride.unit_id == unit.id, RequirementOverride.item_id == item.id
        )
    )
    before = {"qty": existing.qty, "reason": existing.reason} if existing else None
    if qty is None:
        if existing is None:
            return None
        session.delete(existing)
        session.flush()
        audit.record(
            session,
            actor,
            "override.remove",
            object_type="requirement_overrides",
            object_id=f"{unit.code}/{item.code}",
            unit_id=unit.id,
            before=before,
        )
        return None
    qty = check_qty(qty, allow_zero=True)
    if not reason:
        raise DomainError(_("请说明调整原因。"), field="reason")
    if existing is None:
        existing = RequirementOverride(unit=unit, item=item, qty=qty, reason=reason)
        session.add(existing)
    existing.qty, existing.reason = qty, reason
    existing.set_by_id = getattr(actor, "id", None)
    existing.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "override.set",
        object_type="requirement_overrides",
        object_id=f"{unit.code}/{item.code}",
        unit_id=unit.id,
        before=before,
        after={"qty": qty, "reason": reason},
    )
    return existing


@dataclass
class Requirement:
    item: Item
    base_qty: Decimal | None
    per_officer: Decimal | None
    headcount: int
    formula_qty: int | None
    override: RequirementOverride | None

    @property
    def required(self) -> int:
        if self.override is not None:
            return self.override.qty
        return self.formula_qty or 0


def requirements_for_unit(session: Session, unit: Unit, on: date) -> list[Requirement]:
    """What the standard in force on a date asks of this unit, and how each figure was derived."""
    version = standard_as_of(session, on)
    lines = []
    if version is not None:
        lines = session.scalars(
            select(StandardLine)
            .where(StandardLine.version_id == version.id, StandardLine.unit_kind == unit.kind)
            .options(joinedload(StandardLine.item))
        ).all()
    overrides = {
        o.item_id: o
        for o in session.scalars(
            select(RequirementOverride)
            .where(RequirementOverride.unit_id == unit.id)
            .options(joinedload(RequirementOverride.item))
        )
    }
    out: list[Requirement] = []
    for line in lines:
        out.append(
            Requirement(
                item=line.item,
                base_qty=line.base_qty,
                per_officer=line.per_officer,
                headcount=unit.headcount,
                formula_qty=required_qty(line.base_qty, line.per_officer, unit.headcount),
                override=overrides.pop(line.item_id, None),
            )
        )
    for override in overrides.values():
        out.append(Requirement(override.item, None, None, unit.headcount, None, override))
    out.sort(key=lambda r: (r.item.category, r.item.code))
    return out


# ---------------------------------------------------------------- the ledger


@dataclass
class Posted:
    movement: Movement
    balance: int
    warnings: list[str] = field(default_factory=list)
    replayed: bool = False


def _find_lot(session: Session, item: Item, code: str) -> Lot | None:
    return session.scalar(select(Lot).where(Lot.item_id == item.id, Lot.code == code))


def _lot_for_receipt(
    session: Session, item: Item, code: str | None, expires_on: date | None
) -> Lot | None:
    if code is None and expires_on is None:
        return None
    if code is None:
        code = f"EXP{expires_on:%Y%m%d}"
    if not LOT_CODE_RE.match(code):
        raise DomainError(_("批次号只能由字母、数字和 . _ / - 组成，最长 40 位。"), field="lot")
    lot = _find_lot(session, item, code)
    if lot is None:
        lot = Lot(item=item, code=code, expires_on=expires_on)
        session.add(lot)
        session.flush()
    elif expires_on is not None and lot.expires_on != expires_on:
        raise DomainError(
            _("批次 {lot} 的有效期是 {date}，与填写的不一致。").format(
                lot=code, date=lot.expires_on or "—"
            ),
            field="expires_on",
        )
    return lot


def _position(session: Session, unit_id: int, item_id: int, lot_id: int | None) -> Position | None:
    return session.scalar(
        select(Position).where(
            Position.unit_id == unit_id,
            Position.item_id == item_id,
            Position.lot_id.is_(None) if lot_id is None else Position.lot_id == lot_id,
        )
    )


def _position_for_write(session: Session, unit: Unit, item: Item, lot: Lot | None) -> Position:
    """The position row, created if new; a concurrent creator is tolerated."""
    lot_id = lot.id if lot else None
    pos = _position(session, unit.id, item.id, lot_id)
    if pos is not None:
        return pos
    pos = Position(unit_id=unit.id, item_id=item.id, lot_id=lot_id, qty=0)
    session.add(pos)
    try:
        session.flush()
    except IntegrityError:
        # Someone created the same position a moment ago. No savepoint here (SQLite's
        # driver mishandles them): the caller rolls back and the user tries again.
        raise Conflict(_("其他人正在登记同一物资，请重试。")) from None
    return pos


def _apply(session: Session, pos: Position, delta: int, *, may_use_reserved: bool) -> int | None:
    """Move a balance atomically; None when it would go below zero (or into reserved stock)."""
    floor = Position.qty if may_use_reserved else Position.qty - Position.reserved
    stmt = (
        update(Position)
        .where(Position.id == pos.id)
        .values(qty=Position.qty + delta, updated_at=utcnow())
        .returning(Position.qty)
    )
    if delta < 0:
        stmt = stmt.where(floor + delta >= 0)
    new_qty = session.execute(stmt, execution_options={"synchronize_session": False}).scalar()
    if new_qty is not None:
        session.expire(pos, ["qty", "updated_at"])
    return new_qty


def post_movement(
    session: Session,
    *,
    unit: Unit,
    item: Item,
    lot: Lot | None,
    kind: str,
    delta: int,
    actor,
    note: str = "",
    reason: str = "",
    document: str = "",
    serials: Sequence[str] = (),
    request_key: str | None = None,
    may_use_reserved: bool = False,
) -> Movement:
    """Write one ledger line and move the balance with it, or raise InsufficientStock.

    The one place balances change. Callers check permissions and input first.
    """
    pos = _position_for_write(session, unit, item, lot)
    new_qty = _apply(session, pos, delta, may_use_reserved=may_use_reserved)
    if new_qty is None:
        session.refresh(pos)
        available = pos.qty if may_use_reserved else pos.available
        lot_text = f" {lot.code}" if lot else ""
        if pos.reserved and not may_use_reserved:
            message = _(
                "{unit} 的 {item}{lot} 账面 {qty} {uom}，其中 {reserved} {uom} 已为调拨预留，"
                "可用 {available} {uom}，不足 {need} {uom}。"
            ).format(
                unit=unit.name,
                item=item.name,
                lot=lot_text,
                qty=pos.qty,
                uom=item.uom,
                reserved=pos.reserved,
                available=available,
                need=-delta,
            )
        else:
            message = _("{unit} 的 {item}{lot} 账面只有 {qty} {uom}，不足 {need} {uom}。").format(
                unit=unit.name,
                item=item.name,
                lot=lot_text,
                qty=available,
                uom=item.uom,
                need=-delta,
            )
        raise InsufficientStock(message, field="qty")
    movement = Movement(
        position_id=pos.id,
        unit_id=unit.id,
        item_id=item.id,
        lot_id=lot.id if lot else None,
        kind=kind,
        qty=delta,
        balance_after=new_qty,
        actor_id=getattr(actor, "id", None),
        actor_name=actor.username,
        note=note,
        reason=reason,
        document=document,
        serials=",".join(serials),
        request_key=request_key,
    )
    session.add(movement)
    session.flush()
    return movement


def _same_movement(
    earlier: Movement, unit, item, kind, qty, lot_code, expires_on, note, reason, serials
) -> bool:
    """Whether a retry with ``earlier``'s request key asks for the very same movement: only
    then is the earlier one answered again; anything else reusing the key is refused."""
    if (earlier.unit_id, earlier.item_id, earlier.kind) != (unit.id, item.id, kind):
        return False
    try:
        asked = (check_qty(qty), check_note(note), _parse_serials(serials))
    except DomainError:
        return False
    if asked != (abs(earlier.qty), earlier.note, [s for s in earlier.serials.split(",") if s]):
        return False
    if kind == "write_off" and reason != earlier.reason:
        return False
    lot = earlier.lot
    code = (lot_code or "").strip() or None
    # An issue without a lot takes whichever lot comes first; a receipt without one has none.
    if code is not None and (lot is None or lot.code != code):
        return False
    if expires_on is not None and (lot is None or lot.expires_on != expires_on):
        return False
    return not (kind == "receipt" and code is None and expires_on is None and lot is not None)


def _parse_serials(serials: Iterable[str] | str | None) -> list[str]:
    if serials is None:
        return []
    if isinstance(serials, str):
        serials = re.split(r"[\s,，;；]+", serials)
    out = []
    for s in serials:
        if not isinstance(s, str):
            raise DomainError(_("序列号格式不正确。"), field="serials")
        s = s.strip()
        if not s:
            continue
        if not SERIAL_RE.match(s):
            raise DomainError(_("序列号 {s} 格式不正确。").format(s=s[:60]), field="serials")
        out.append(s)
    if len(set(out)) != len(out):
        raise DomainError(_("序列号有重复。"), field="serials")
    return out


def record_movement(
    session: Session,
    *,
    unit: Unit,
    item: Item,
    kind: str,
    qty,
    actor,
    lot_code: str | None = None,
    expires_on: date | None = None,
    note: str = "",
    reason: str = "",
    serials: Iterable[str] | str | None = None,
    request_key: str | None = None,
    today: date | None = None,
) -> Posted:
    """Record a receipt, issue or write-off for a unit; the balance never goes below zero."""
    require(session, actor, "stock.write", unit)
    if request_key:
        earlier = session.scalar(select(Movement).where(Movement.request_key == request_key))
        if earlier is not None:
            same = _same_movement(
                earlier, unit, item, kind, qty, lot_code, expires_on, note, reason, serials
            )
            if not same:
                raise Conflict(_("该请求编号已用于另一份不同的内容，未做任何修改。"))
            return Posted(earlier, earlier.balance_after, replayed=True)
    if kind not in MANUAL_KINDS:
        raise DomainError(_("未知的出入库类型：{kind}。").format(kind=kind), field="kind")
    if not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    if not item.is_active and kind == "receipt":
        raise DomainError(_("物资 {name} 已停用，不能入库。").format(name=item.name), field="item")
    qty = check_qty(qty)
    note = check_note(note)
    today = today or date.today()
    warnings: list[str] = []
    if kind == "write_off":
        if reason not in WRITE_OFF_REASONS:
            raise DomainError(_("报损核销必须选择原因：过期、损坏或丢失。"), field="reason")
    else:
        reason = ""
    lot_code = (lot_code or "").strip() or None
    serial_list = _parse_serials(serials)
    if item.is_serial:
        if len(serial_list) != qty:
            raise DomainError(
                _("{item} 按件管理：请逐件填写序列号（数量 {qty}，已填 {n} 个）。").format(
                    item=item.name, qty=qty, n=len(serial_list)
                ),
                field="serials",
            )
        if lot_code or expires_on:
            raise DomainError(_("按件管理的物资不分批次。"), field="lot")
    elif serial_list:
        raise DomainError(
            _("{item} 按数量管理，不填序列号。").format(item=item.name), field="serials"
        )

    if kind == "receipt":
        lot = _lot_for_receipt(session, item, lot_code, expires_on)
        if lot is not None and lot.expires_on is not None and lot.expires_on < today:
            warnings.append(
                _("注意：批次 {lot} 已于 {date} 过期，入库后不计入在库可用数量。").format(
                    lot=lot.code, date=lot.expires_on.isoformat()
                )
            )
    else:
        lot = _lot_for_outbound(session, unit, item, lot_code)

    if item.is_serial:
        _move_serials(session, unit, item, kind, serial_list)

    delta = -qty if kind in OUTBOUND_KINDS else qty
    try:
        movement = post_movement(
            session,
            unit=unit,
            item=item,
            lot=lot,
            kind=kind,
            delta=delta,
            actor=actor,
            note=note,
            reason=reason,
            serials=serial_list,
            request_key=request_key,
        )
    except IntegrityError:
        # The same one-time key was written by a concurrent submit of the same form.
        raise Conflict(_("该表单已经提交过，请勿重复提交。")) from None
    audit.record(
        session,
        actor,
        f"movement.{kind}",
        movement,
        unit_id=unit.id,
        after={
            "unit": unit.code,
            "item": item.code,
            "lot": lot.code if lot else None,
            "qty": delta,
            "balance": movement.balance_after,
            "reason": reason or None,
            "serials": serial_list or None,
        },
        summary=note,
    )
    return Posted(movement, movement.balance_after, warnings)


def _lot_for_outbound(session: Session, unit: Unit, item: Item, lot_code: str | None) -> Lot | None:
    if lot_code:
        lot = _find_lot(session, item, lot_code)
        if lot is None:
            raise DomainError(
                _("{item} 没有批次 {lot}。").format(item=item.name, lot=lot_code), field="lot"
            )
        return lot
    if _position(session, unit.id, item.id, None) is not None:
        return None
    lots = session.scalars(
        select(Lot.code)
        .join(Position, Position.lot_id == Lot.id)
        .where(Position.unit_id == unit.id, Position.item_id == item.id, Position.qty > 0)
        .order_by(Lot.expires_on, Lot.code)
    ).all()
    if lots:
        raise DomainError(
            _("{item} 在本单位按批次存放，请选择批次：{lots}。").format(
                item=item.name, lots=", ".join(lots)
            ),
            field="lot",
        )
    return None  # nothing held at all: the balance check refuses it


def _move_serials(session: Session, unit: Unit, item: Item, kind: str, serials: list[str]) -> None:
    existing = {
        a.serial: a
        for a in session.scalars(
            select(Asset).where(Asset.item_id == item.id, Asset.serial.in_(serials))
        )
    }
    if kind == "receipt":
        for serial in serials:
            asset = existing.get(serial)
            if asset is not None and (asset.unit_id is not None or asset.status == "retired"):
                raise Conflict(
                    _("序列号 {serial} 已登记（{where}）。").format(
                        serial=serial,
                        where=asset.unit.name if asset.unit else ASSET_STATUSES[asset.status],
                    ),
                    field="serials",
                )
            if asset is None:
                session.add(Asset(item=item, serial=serial, unit_id=unit.id))
            else:
                asset.unit_id = unit.id
                asset.status = "in_service"
        return
    for serial in serials:
        asset = existing.get(serial)
        if asset is None or asset.unit_id != unit.id:
            raise DomainError(
                _("序列号 {serial} 不在 {unit} 的账上。").format(serial=serial, unit=unit.name),
                field="serials",
            )
        if kind == "write_off":
            asset.status = "retired"
        asset.unit_id = None


def set_asset_status(
    session: Session, asset: Asset, status: str, *, note: str = "", actor
) -> Asset:
    """Mark a serial asset in service or under repair (retiring goes through a write-off)."""
    require(session, actor, "stock.write", asset.unit_id)
    if status not in ("in_service", "under_repair"):
        raise DomainError(_("只能设为在用或维修中；报废请走报损核销。"), field="status")
    if asset.unit_id is None:
        raise Conflict(_("该设备已不在任何单位账上。"))
    before = {"status": asset.status}
    asset.status = status
    asset.note = check_note(note)
    session.flush()
    audit.record(
        session,
        actor,
        "asset.status",
        asset,
        unit_id=asset.unit_id,
        before=before,
        after={"status": status},
    )
    return asset


@dataclass
class Discrepancy:
    position_id: int
    unit_code: str
    item_code: str
    lot_code: str | None
    balance: int
    ledger: int


def verify_balances(session: Session) -> list[Discrepancy]:
    """Recompute every balance from the ledger and list those that differ."""
    ledger = (
        select(Movement.position_id, func.sum(Movement.qty).label("total"))
        .group_by(Movement.position_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Position.id,
            Unit.code,
            Item.code,
            Lot.code,
            Position.qty,
            func.coalesce(ledger.c.total, 0),
        )
        .join(Unit, Unit.id == Position.unit_id)
        .join(Item, Item.id == Position.item_id)
        .outerjoin(Lot, Lot.id == Position.lot_id)
        .outerjoin(ledger, ledger.c.position_id == Position.id)
        .where(Position.qty != func.coalesce(ledger.c.total, 0))
    ).all()
    return [Discrepancy(*row) for row in rows]


# ---------------------------------------------------------------- reading stock


@dataclass
class StockRow:
    position: Position
    expired: bool
    expiring_soon: bool
    last_count_on: date | None = None


def stock_of_unit(
    session: Session, unit: Unit, *, today: date, soon_days: int = 90
) -> list[StockRow]:
    """Every position a unit holds (or held), with expiry flags, by category and item."""
    positions = session.scalars(
        select(Position)
        .join(Item, Item.id == Position.item_id)
        .outerjoin(Lot, Lot.id == Position.lot_id)
        .where(Position.unit_id == unit.id)
        .options(joinedload(Position.item), joinedload(Position.lot))
        .order_by(Item.category, Item.code, Lot.expires_on, Lot.code)
    ).all()
    soon = today + timedelta(days=soon_days)
    out = []
    for p in positions:
        exp = p.lot.expires_on if p.lot else None
        out.append(
            StockRow(
                p,
                expired=exp is not None and exp <= today,
                expiring_soon=exp is not None and today < exp <= soon,
            )
        )
    return out


def stock_rows_for_api(session: Session, unit_ids: set[int] | None) -> list[dict]:
    stmt = (
        select(Unit.code, Item.code, Lot.code, Lot.expires_on, Position.qty)
        .join(Unit, Unit.id == Position.unit_id)
        .join(Item, Item.id == Position.item_id)
        .outerjoin(Lot, Lot.id == Position.lot_id)
        .order_by(Unit.code, Item.code, Lot.expires_on, Lot.code)
    )
    if unit_ids is not None:
        stmt = stmt.where(Position.unit_id.in_(unit_ids))
    return [
        {"unit": u, "item": i, "lot": lot, "expires_on": e.isoformat() if e else None, "qty": q}
        for u, i, lot, e, q in session.execute(stmt)
    ]


def item_history(session: Session, unit: Unit, item: Item, limit: int = 500) -> list[Movement]:
    """The ledger of one item at one unit, newest first, each line with its running balance."""
    return session.scalars(
        select(Movement)
        .where(Movement.unit_id == unit.id, Movement.item_id == item.id)
        .options(joinedload(Movement.lot))
        .order_by(Movement.id.desc())
        .limit(limit)
    ).all()


def _ledger_where(stmt, unit_ids: set[int] | None, date_from: date | None, date_to: date | None):
    """``stmt`` narrowed to the ledger lines of the given units (None: all) and days."""
    from datetime import UTC

    if unit_ids is not None:
        stmt = stmt.where(Movement.unit_id.in_(unit_ids))
    if date_from:
        stmt = stmt.where(Movement.at >= datetime.combine(date_from, time.min, UTC))
    if date_to:
        stmt = stmt.where(
            Movement.at < datetime.combine(date_to + timedelta(days=1), time.min, UTC)
        )
    return stmt


def ledger_query(unit_ids: set[int] | None, date_from: date | None, date_to: date | None):
    """The ledger lines of the given units and days as movements, oldest first (for pages)."""
    stmt = (
        select(Movement)
        .options(joinedload(Movement.unit), joinedload(Movement.item), joinedload(Movement.lot))
        .order_by(Movement.id)
    )
    return _ledger_where(stmt, unit_ids, date_from, date_to)


def ledger_count(
    session: Session, unit_ids: set[int] | None, date_from: date | None, date_to: date | None
) -> int:
    """How many ledger lines the given units and days hold."""
    stmt = _ledger_where(select(func.count(Movement.id)), unit_ids, date_from, date_to)
    return session.scalar(stmt) or 0


# Rows fetched at a time by the ledger export: memory stays flat however long the period.
LEDGER_BATCH = 5000


def ledger_export_rows(
    session: Session,
    unit_ids: set[int] | None,
    date_from: date | None,
    date_to: date | None,
    *,
    kinds: dict[str, str],
    reasons: dict[str, str],
) -> Iterable[tuple]:
    """The ledger of the given units and days for a download, oldest first, as finished rows
    (id, time "YYYY-MM-DD HH:MM" UTC, unit, item, lot, kind label, qty, balance, actor,
    reason label, document, note), streamed from the database a batch at a time."""
    # Everything is formatted by the database: a year of the city is half a million lines,
    # and a Python datetime or label lookup per line costs more than the query itself.
    if session.get_bind().dialect.name == "postgresql":
        at = func.to_char(Movement.at, "YYYY-MM-DD HH24:MI")
    else:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
        at = func.substr(type_coerce(Movement.at, String()), 1, 16)
    stmt = (
        select(
            Movement.id,
            at,
            Unit.name,
            Item.name,
            func.coalesce(Lot.code, ""),
            case(kinds, value=Movement.kind, else_=Movement.kind) if kinds else Movement.kind,
            Movement.qty,
            Movement.balance_after,
            Movement.actor_name,
            case(reasons, value=Movement.reason, else_="") if reasons else literal(""),
            Movement.document,
            Movement.note,
        )
        .join(Unit, Unit.id == Movement.unit_id)
        .join(Item, Item.id == Movement.item_id)
        .outerjoin(Lot, Lot.id == Movement.lot_id)
        .order_by(Movement.id)
    )
    stmt = _ledger_where(stmt, unit_ids, date_from, date_to)
    # No ORM objects, not even the ORM's row handling: a million lines cost seconds and
    # hundreds of MB. yield_per streams (a server-side cursor on PostgreSQL).
    result = session.connection().execute(stmt.execution_options(yield_per=LEDGER_BATCH))
    for partition in result.partitions():
        yield from partition


# ---------------------------------------------------------------- stocktakes


def count_interval_days(session: Session, unit_kind: str) -> int:
    row = session.get(CountInterval, unit_kind)
    return row.days if row else DEFAULT_COUNT_INTERVALS.get(unit_kind, DEFAULT_COUNT_DAYS)


def open_count_for(session: Session, unit: Unit) -> Count | None:
    return session.scalar(
        select(Count).where(
            Count.unit_id == unit.id,
            Count.status.in_(("open", "submitted")),
            Count.is_spot.is_(False),
        )
    )


def start_count(session: Session, unit: Unit, *, actor, note: str = "") -> Count:
    """Begin a stocktake: the book quantity of every position is snapshotted now."""
    require(session, actor, "counts.write", unit)
    if not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    running = open_count_for(session, unit)
    if running is not None:
        raise Conflict(
            _("{unit} 已有进行中的盘点（第 {id} 号），请先完成或取消。").format(
                unit=unit.name, id=running.id
            )
        )
    count = Count(unit_id=unit.id, note=check_note(note), started_by_id=getattr(actor, "id", None))
    for pos in session.scalars(
        select(Position).where(Position.unit_id == unit.id).order_by(Position.item_id, Position.id)
    ):
        count.lines.append(
            CountLine(position_id=pos.id, item_id=pos.item_id, lot_id=pos.lot_id, book=pos.qty)
        )
    session.add(count)
    session.flush()
    audit.record(
        session, actor, "count.start", count, unit_id=unit.id, after={"lines": len(count.lines)}
    )
    return count


def _editable(count: Count) -> None:
    if count.status != "open":
        raise Conflict(
            _("盘点第 {id} 号已{status}，不能再修改。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )


def _count_status_text(status: str) -> str:
    from inventory.models import COUNT_STATUSES

    return str(COUNT_STATUSES.get(status, status))


def enter_count(
    session: Session, count: Count, item: Item, lot: Lot | None, counted, *, actor
) -> CountLine:
    """Enter the counted quantity of one position (a line is added if it was not on the books)."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    counted = check_qty(counted, field_name="counted", allow_zero=True)
    lot_id = lot.id if lot else None
    line = next((ln for ln in count.lines if ln.item_id == item.id and ln.lot_id == lot_id), None)
    if line is None:
        pos = _position(session, unit.id, item.id, lot_id)
        line = CountLine(
            position_id=pos.id if pos else None,
            item_id=item.id,
            lot_id=lot_id,
            book=pos.qty if pos else 0,
        )
        count.lines.append(line)
    before = {"counted": line.counted}
    line.counted = counted
    line.counted_at = utcnow()
    line.counted_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "count.enter",
        count,
        unit_id=unit.id,
        before=before,
        after={
            "item": item.code,
            "lot": lot.code if lot else None,
            "counted": counted,
            "book": line.book,
        },
    )
    return line


def submit_count(session: Session, count: Count, *, actor) -> Count:
    """Hand a finished count over for approval."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    _editable(count)
    if not any(line.counted is not None for line in count.lines):
        raise DomainError(_("还没有录入任何清点数量。"), field="lines")
    count.status = "submitted"
    count.submitted_at = utcnow()
    count.submitted_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "count.submit", count, unit_id=unit.id)
    return count


def approve_count(session: Session, count: Count, *, actor) -> list[Movement]:
    """Approve a submitted count: each variance becomes an adjustment movement."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.approve", unit)
    if count.status != "submitted":
        raise Conflict(
            _("盘点第 {id} 号当前状态为{status}，只有待审批的盘点可以审批。").format(
                id=count.id, status=_count_status_text(count.status)
            )
        )
    counters = {count.started_by_id, count.submitted_by_id} | {
        line.counted_by_id for line in count.lines
    }
    if getattr(actor, "id", None) in counters:
        raise PermissionDenied(_("清点人不能审批自己的盘点，请由另一名保管员或指挥部人员审批。"))
    movements = []
    for line in count.lines:
        if line.counted is None or line.variance == 0:
            continue
        item = session.get(Item, line.item_id)
        lot = session.get(Lot, line.lot_id) if line.lot_id else None
        movements.append(
            post_movement(
                session,
                unit=unit,
                item=item,
                lot=lot,
                kind="adjustment",
                delta=line.variance,
                actor=actor,
                document=f"count:{count.id}",
                note=_("盘点第 {id} 号调整").format(id=count.id),
                may_use_reserved=True,
            )
        )
    count.status = "approved"
    count.decided_at = utcnow()
    count.decided_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "count.approve",
        count,
        unit_id=unit.id,
        after={"adjustments": len(movements)},
    )
    return movements


def cancel_count(session: Session, count: Count, *, actor) -> Count:
    """Abandon a count that is not yet approved; nothing is posted."""
    unit = session.get(Unit, count.unit_id)
    require(session, actor, "counts.write", unit)
    if count.status not in ("open", "submitted"):
        raise Conflict(_("该盘点已结束，不能取消。"))
    count.status = "cancelled"
    count.decided_at = utcnow()
    count.decided_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "count.cancel", count, unit_id=unit.id)
    return count


@dataclass
class CountDue:
    unit: Unit
    interval_days: int
    last_counted_on: date | None
    due_on: date | None
    overdue: bool


def counts_due(session: Session, unit_ids: set[int] | None, *, today: date) -> list[CountDue]:
    """Each unit holding stock, when it was last counted (approved) and when the next is due."""
    last = (
        select(Count.unit_id, func.max(Count.decided_at).label("last"))
        .where(Count.status == "approved")
        .group_by(Count.unit_id)
        .subquery()
    )
    holders = select(Position.unit_id).distinct().subquery()
    stmt = (
        select(Unit, last.c.last)
        .join(holders, holders.c.unit_id == Unit.id)
        .outerjoin(last, last.c.unit_id == Unit.id)
        .where(Unit.is_active)
        .order_by(Unit.code)
    )
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    intervals = dict(DEFAULT_COUNT_INTERVALS)
    intervals.update({row.unit_kind: row.days for row in session.scalars(select(CountInterval))})
    out = []
    for unit, last_at in session.execute(stmt):
        days = intervals.get(unit.kind, DEFAULT_COUNT_DAYS)
        last_on = last_at.date() if last_at else None
        due = last_on + timedelta(days=days) if last_on else None
        out.append(CountDue(unit, days, last_on, due, overdue=due is None or due < today))
    out.sort(key=lambda d: (d.due_on or date.min, d.unit.code))
    return out


def set_count_interval(session: Session, unit_kind: str, days, *, actor) -> CountInterval:
    """How many days may pass between counts for a kind of unit."""
    require(session, actor, "standard.manage")
    if unit_kind not in UNIT_KINDS:
        raise DomainError(_("未知的单位类型：{kind}。").format(kind=unit_kind), field="unit_kind")
    days = check_qty(days, field_name="days")
    if days > 3660:
        raise DomainError(_("盘点间隔不能超过 3660 天。"), field="days")
    row = session.get(CountInterval, unit_kind)
    before = {"days": row.days} if row else None
    if row is None:
        row = CountInterval(unit_kind=unit_kind, days=days)
        session.add(row)
    row.days = days
    session.flush()
    audit.record(
        session,
        actor,
        "count_interval.set",
        object_type="count_intervals",
        object_id=unit_kind,
        before=before,
        after={"days": days},
    )
    return row


# ---------------------------------------------------------------- expiry


@dataclass
class ExpiryRow:
    position: Position
    days_left: int


def expiring_lots(
    session: Session, unit_ids: set[int] | None, *, today: date, within_days: int = 90
) -> list[ExpiryRow]:
    """Lots held (qty > 0) that expire within N days or have already expired, soonest first."""
    horizon = today + timedelta(days=within_days)
    stmt = (
        select(Position)
        .join(Lot, Lot.id == Position.lot_id)
        .where(Position.qty > 0, Lot.expires_on.is_not(None), Lot.expires_on <= horizon)
        .options(joinedload(Position.unit), joinedload(Position.item), joinedload(Position.lot))
        .order_by(Lot.expires_on, Position.unit_id)
    )
    if unit_ids is not None:
        stmt = stmt.where(Position.unit_id.in_(unit_ids))
    return [ExpiryRow(p, (p.lot.expires_on - today).days) for p in session.scalars(stmt)]

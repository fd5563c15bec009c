"""Use cases for the ledger: movements, lots, positions and their balances, serial assets,
and the check that every balance matches its ledger.

The read side (a unit's stock, the ledger for a page or a download, expiring lots) lives in
``inventory/stock.py``; stocktakes in ``inventory/counts.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from inventory.checks import check_qty
from inventory.models import (
    ASSET_STATUSES,
    MANUAL_KINDS,
    MOVEMENT_KINDS,
    OUTBOUND_KINDS,
    Asset,
    Item,
    Lot,
    Movement,
    Position,
)
from readiness import audit
from readiness.checks import check_expiry, check_note
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import Unit
from readiness.permissions import require

LOT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")
WRITE_OFF_REASONS = ("expired", "damaged", "lost")


class InsufficientStock(Conflict):
    """The write would take a balance below zero (or into reserved stock)."""


@dataclass
class Posted:
    """What one receipt, issue or write-off wrote. ``movement`` and ``balance`` describe the
    first ledger line; an issue or write-off without a lot may have taken several lots, one
    line each, all in ``movements``. ``unit_total`` is the unit's whole balance of the item
    after it, every lot together."""

    movement: Movement
    balance: int
    warnings: list[str] = field(default_factory=list)
    replayed: bool = False
    movements: list[Movement] = field(default_factory=list)
    unit_total: int = 0

    def __post_init__(self) -> None:
        if not self.movements:
            self.movements = [self.movement]

    def summary(self) -> str:
        """The message a user reads after it: what moved, the unit's total, each lot's rest."""
        m = self.movement
        item = m.item
        qty = sum(abs(x.qty) for x in self.movements)
        lots = "、".join(
            _("批次 {lot} 余 {qty} {uom}").format(
                lot=x.lot.code, qty=x.balance_after, uom=item.shown_uom
            )
            if x.lot is not None
            else _("无批次 余 {qty} {uom}").format(qty=x.balance_after, uom=item.shown_uom)
            for x in self.movements
        )
        return _("已{kind} {qty} {uom}{item}；本单位合计 {total} {uom}（{lots}）。").format(
            kind=MOVEMENT_KINDS[m.kind],
            qty=qty,
            uom=item.shown_uom,
            item=item.shown_name,
            total=self.unit_total,
            lots=lots,
        )


def unit_total(session: Session, unit_id: int, item_id: int) -> int:
    """How much of an item a unit holds, every lot (and no lot) together."""
    return (
        session.scalar(
            select(func.coalesce(func.sum(Position.qty), 0)).where(
                Position.unit_id == unit_id, Position.item_id == item_id
            )
        )
        or 0
    )


def fefo_positions(
    session: Session, unit_id: int, item_id: int, *, usable_on: date | None = None
) -> list[Position]:
    """The positions holding an item at a unit in the order stock leaves them (先到期先出),
    locked for the write.

    Lots with an expiry date come first, soonest first; lots without one and the stock kept
    without a lot come last, oldest position first (none of them ever expires, so nothing
    orders them but age). With ``usable_on``, lots expired on that day or before are left
    out. Allocations reserve in this order, and issues and write-offs without a lot take it.
    """
    rows = session.scalars(
        select(Position)
        .outerjoin(Lot, Lot.id == Position.lot_id)
        .where(Position.unit_id == unit_id, Position.item_id == item_id, Position.qty > 0)
        .order_by(Lot.expires_on.is_(None), Lot.expires_on, Position.id)
        .with_for_update(of=Position)
        .execution_options(populate_existing=True)
    ).all()
    return list(rows) if usable_on is None else _usable(rows, usable_on)


def _usable(positions: Iterable[Position], on: date) -> list[Position]:
    """The positions whose lot has not expired on that day (expiry day included)."""
    return [
        p for p in positions if p.lot is None or p.lot.expires_on is None or p.lot.expires_on > on
    ]


def find_lot(session: Session, item: Item, code: str) -> Lot | None:
    """The lot of an item with this code, if there is one."""
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
    lot = find_lot(session, item, code)
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


def find_position(
    session: Session, unit_id: int, item_id: int, lot_id: int | None
) -> Position | None:
    """The balance row of one item (and lot, or none) at one unit, if there is one."""
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
    pos = find_position(session, unit.id, item.id, lot_id)
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
    device_at: datetime | None = None,
    reverses_id: int | None = None,
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
                item=item.shown_name,
                lot=lot_text,
                qty=pos.qty,
                uom=item.shown_uom,
                reserved=pos.reserved,
                available=available,
                need=-delta,
            )
        else:
            message = _("{unit} 的 {item}{lot} 账面只有 {qty} {uom}，不足 {need} {uom}。").format(
                unit=unit.name,
                item=item.shown_name,
                lot=lot_text,
                qty=available,
                uom=item.shown_uom,
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
        device_at=device_at,
        reverses_id=reverses_id,
    )
    session.add(movement)
    session.flush()
    return movement


def _same_movement(
    posted: Posted, unit, item, kind, qty, lot_code, expires_on, note, reason, serials
) -> bool:
    """Whether a request asks for the very movement ``posted`` wrote: a retry with an
    earlier request key is answered again only then (anything else reusing the key is
    refused), and a repeat within ``REPEAT_WINDOW`` is asked about. ``note`` None leaves the
    note out of the comparison (a repeat is the same goods, whatever the note says)."""
    earlier = posted.movement
    if (earlier.unit_id, earlier.item_id, earlier.kind) != (unit.id, item.id, kind):
        return False
    try:
        asked = (check_qty(qty), _parse_serials(serials))
        if note is not None and check_note(note) != earlier.note:
            return False
    except DomainError:
        return False
    done = sum(abs(m.qty) for m in posted.movements)
    if asked != (done, [s for s in earlier.serials.split(",") if s]):
        return False
    if kind == "write_off" and reason != earlier.reason:
        return False
    lot = earlier.lot
    code = (lot_code or "").strip() or None
    # An issue without a lot takes whichever lots come first; a receipt without one has none.
    if code is not None and len(posted.movements) > 1:
        return False
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
    lot_only: bool = False,
    device_at: datetime | None = None,
    allow_repeat: bool = True,
) -> Posted:
    """Record a receipt, issue or write-off for a unit; the balance never goes below zero.

    An issue or write-off naming a lot takes only from that lot. Without a lot it takes the
    unit's stock earliest expiry first across its lots (see ``fefo_positions``), one ledger
    line per lot touched, unless ``lot_only`` (a scanned shelf without a lot) keeps it to
    the stock held without a lot.

    With ``allow_repeat`` False (the web form, where Back and submit again brings a fresh
    request key) a movement identical to one the same user recorded within
    ``REPEAT_WINDOW`` is refused with ``RepeatedMovement`` and nothing is written; the
    user confirms and the form sends it again with ``allow_repeat`` True. Callers with their
    own request keys (the API, the scan page) keep the default.
    """
    require(session, actor, "stock.write", unit)
    if request_key:
        earlier = session.scalar(select(Movement).where(Movement.request_key == request_key))
        if earlier is not None:
            posted = _replayed(session, earlier)
            same = _same_movement(
                posted, unit, item, kind, qty, lot_code, expires_on, note, reason, serials
            )
            if not same:
                raise Conflict(_("该请求编号已用于另一份不同的内容，未做任何修改。"))
            return posted
    if kind not in MANUAL_KINDS:
        raise DomainError(_("未知的出入库类型：{kind}。").format(kind=kind), field="kind")
    if not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    if not item.is_active and kind == "receipt":
        raise DomainError(
            _("物资 {name} 已停用，不能入库。").format(name=item.shown_name), field="item"
        )
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
                    item=item.shown_name, qty=qty, n=len(serial_list)
                ),
                field="serials",
            )
        if lot_code or expires_on:
            raise DomainError(_("按件管理的物资不分批次。"), field="lot")
    elif serial_list:
        raise DomainError(
            _("{item} 按数量管理，不填序列号。").format(item=item.shown_name), field="serials"
        )
    if kind == "receipt":
        check_expiry(expires_on, "expires_on", label=_("有效期至"), today=today)
    if not allow_repeat:
        _refuse_repeat(session, actor, unit, item, kind, qty, lot_code, expires_on, reason, serials)

    if kind == "receipt":
        lot = _lot_for_receipt(session, item, lot_code, expires_on)
        if lot is not None and lot.expires_on is not None and lot.expires_on < today:
            warnings.append(
                _("注意：批次 {lot} 已于 {date} 过期，入库后不计入在库可用数量。").format(
                    lot=lot.code, date=lot.expires_on.isoformat()
                )
            )
        plan: list[tuple[Lot | None, int]] = [(lot, qty)]
    elif item.is_serial:
        plan = [(None, qty)]  # serial pieces are named one by one, never by lot
    elif lot_code or lot_only:
        plan = [(_named_lot_for_outbound(session, unit, item, lot_code, qty), qty)]
    else:
        plan = _fefo_plan(session, unit, item, kind, qty, today)

    if item.is_serial:
        _move_serials(session, unit, item, kind, serial_list)

    sign = -1 if kind in OUTBOUND_KINDS else 1
    movements: list[Movement] = []
    for lot, take in plan:
        first = movements[0] if movements else None
        try:
            movement = post_movement(
                session,
                unit=unit,
                item=item,
                lot=lot,
                kind=kind,
                delta=sign * take,
                actor=actor,
                note=note,
                reason=reason,
                # The lines after the first of one request name the first as their document:
                # a retry with the same request key finds them all.
                document=f"{SPLIT_DOCUMENT}{first.id}" if first else "",
                serials=serial_list,
                request_key=None if first else request_key,
                device_at=device_at,
            )
        except IntegrityError:
            # The same one-time key was written by a concurrent submit of the same form.
            raise DuplicateSubmit(_("该表单已经提交过，请勿重复提交。")) from None
        except InsufficientStock:
            # Someone took the stock between the check and the write (SQLite locks nothing
            # on read): the refusal says the unit's total as it is now.
            if kind in OUTBOUND_KINDS and not (lot_code or lot_only or item.is_serial):
                _fefo_plan(session, unit, item, kind, qty, today)
            raise
        movements.append(movement)
    total = unit_total(session, unit.id, item.id)
    for movement in movements:
        audit.record(
            session,
            actor,
            f"movement.{kind}",
            movement,
            unit_id=unit.id,
            after={
                "unit": unit.code,
                "item": item.code,
                "lot": movement.lot.code if movement.lot else None,
                "qty": movement.qty,
                "balance": movement.balance_after,
                "unit_total": total,
                "reason": reason or None,
                "serials": serial_list or None,
            },
            summary=note,
        )
    first = movements[0]
    return Posted(first, first.balance_after, warnings, movements=movements, unit_total=total)


# The document of the second and later ledger lines of one issue or write-off split over lots.
SPLIT_DOCUMENT = "movement:"

# How long an identical movement by the same user counts as a repeat to ask about.
REPEAT_WINDOW = timedelta(minutes=2)


class RepeatedMovement(Conflict):
    """The same user recorded this very movement moments ago (Back, then submit again)."""


def _refuse_repeat(
    session: Session, actor, unit, item, kind, qty, lot_code, expires_on, reason, serials
) -> None:
    """Raise ``RepeatedMovement`` when the actor recorded the same movement (unit, item,
    kind, quantity, lot, expiry, serials, reason; the note aside) within ``REPEAT_WINDOW``
    and it was not undone."""
    actor_id = getattr(actor, "id", None)
    if actor_id is None:
        return
    reversal = aliased(Movement)
    undone = select(reversal.reverses_id).where(reversal.reverses_id.is_not(None))
    recent = session.scalars(
        select(Movement)
        .where(
            Movement.actor_id == actor_id,
            Movement.unit_id == unit.id,
            Movement.item_id == item.id,
            Movement.kind == kind,
            Movement.document == "",
            Movement.at >= utcnow() - REPEAT_WINDOW,
            Movement.id.not_in(undone),
        )
        .order_by(Movement.id.desc())
        .limit(5)
    )
    for earlier in recent:
        posted = _replayed(session, earlier)
        if _same_movement(
            posted, unit, item, kind, qty, lot_code, expires_on, None, reason, serials
        ):
            raise RepeatedMovement(_("刚刚已登记过相同的一笔，确定再登记一次？"))


class DuplicateSubmit(Conflict):
    """The same one-time key was written at this very moment by a concurrent request: after
    a rollback, the request finds the other's line and is answered as a retry."""


# How long after recording an issue or receipt its author may undo it (a slip of the thumb).
UNDO_WINDOW = timedelta(minutes=1)


def undo_movement(session: Session, request_key: str, *, actor, now: datetime | None = None):
    """Undo an issue or receipt the same user recorded less than a minute ago: one reversing
    ledger line for each line it wrote (nothing is deleted or changed), audited. Returns the
    unit's total of the item afterwards."""
    first = session.scalar(
        select(Movement).where(Movement.request_key == str(request_key or "")[:64])
    )
    if first is None:
        raise NotFound(_("没有找到要撤销的这笔登记。"), field="request_key")
    if getattr(actor, "id", None) != first.actor_id:
        raise PermissionDenied(_("只能撤销您本人刚登记的一笔。"))
    require(session, actor, "stock.write", first.unit)
    if first.kind not in ("issue", "receipt") or first.serials:
        raise DomainError(_("只有按数量管理的出库和入库可以撤销。"), field="request_key")
    if session.scalar(select(Movement.id).where(Movement.reverses_id == first.id)):
        raise Conflict(_("这笔登记已经撤销过。"))
    now = now or utcnow()
    if now - first.at > UNDO_WINDOW:
        raise Conflict(_("登记已超过 1 分钟，不能撤销；如有错误，请另行登记一笔更正（注明原因）。"))
    parts = [first, *_replayed(session, first).movements[1:]]
    for part in parts:
        try:
            post_movement(
                session,
                unit=first.unit,
                item=first.item,
                lot=part.lot,
                kind="reversal",
                delta=-part.qty,
                actor=actor,
                note=_("撤销第 {id} 笔（{kind} {qty}）").format(
                    id=part.id, kind=MOVEMENT_KINDS[part.kind], qty=abs(part.qty)
                ),
                document=f"undo:{part.id}",
                reverses_id=part.id,
            )
        except IntegrityError:
            raise Conflict(_("这笔登记已经撤销过。")) from None
    total = unit_total(session, first.unit_id, first.item_id)
    audit.record(
        session,
        actor,
        "movement.undo",
        first,
        unit_id=first.unit_id,
        before={"kind": first.kind, "qty": sum(p.qty for p in parts)},
        after={"unit_total": total},
    )
    return total


def _replayed(session: Session, earlier: Movement) -> Posted:
    """The answer to a retry: every line the first request wrote, and the unit's total then."""
    rest = session.scalars(
        select(Movement)
        .where(Movement.document == f"{SPLIT_DOCUMENT}{earlier.id}")
        .order_by(Movement.id)
    )
    parts = [earlier, *rest]
    total = session.scalar(
        select(func.coalesce(func.sum(Movement.qty), 0)).where(
            Movement.unit_id == earlier.unit_id,
            Movement.item_id == earlier.item_id,
            Movement.id <= parts[-1].id,
        )
    )
    return Posted(
        earlier, earlier.balance_after, replayed=True, movements=parts, unit_total=total or 0
    )


def _shortage_refusal(
    unit: Unit, item: Item, kind: str, need: int, total: int, available: int, detail: list[str]
) -> InsufficientStock:
    verb = MOVEMENT_KINDS[kind]
    if total < need or not detail:
        message = _("{unit} 的 {item} 账面合计只有 {total} {uom}，不够{kind} {need} {uom}。")
        message = message.format(
            unit=unit.name,
            item=item.shown_name,
            total=total,
            uom=item.shown_uom,
            kind=verb,
            need=need,
        )
    else:
        message = _(
            "{unit} 的 {item} 账面合计 {total} {uom}（{detail}），可{kind}的只有 {available} "
            "{uom}，不够{kind} {need} {uom}。"
        ).format(
            unit=unit.name,
            item=item.shown_name,
            total=total,
            uom=item.shown_uom,
            detail="、".join(detail),
            kind=verb,
            available=available,
            need=need,
        )
    return InsufficientStock(message, field="qty")


def _fefo_plan(
    session: Session, unit: Unit, item: Item, kind: str, qty: int, today: date
) -> list[tuple[Lot | None, int]]:
    """Which positions an issue or write-off without a lot takes, earliest expiry first.

    An issue leaves expired lots alone (they do not count as stock in hand and must not be
    handed out unnoticed: name the lot to issue one); a write-off takes them first.
    Reserved stock stays for its allocation. Refused, naming the unit's total, when what may
    be taken is short; nothing is written then.
    """
    every = fefo_positions(session, unit.id, item.id)
    usable = _usable(every, today) if kind == "issue" else every
    total = sum(p.qty for p in every)
    available = sum(p.available for p in usable)
    if available < qty:
        detail = []
        expired = sum(p.qty for p in every if p not in usable)
        reserved = sum(p.reserved for p in usable)
        if expired:
            detail.append(_("已过期 {n} {uom}").format(n=expired, uom=item.shown_uom))
        if reserved:
            detail.append(_("已为调拨预留 {n} {uom}").format(n=reserved, uom=item.shown_uom))
        raise _shortage_refusal(unit, item, kind, qty, total, available, detail)
    plan: list[tuple[Lot | None, int]] = []
    need = qty
    for pos in usable:
        take = min(need, pos.available)
        if take <= 0:
            continue
        plan.append((pos.lot, take))
        need -= take
        if need == 0:
            break
    return plan


def _named_lot_for_outbound(
    session: Session, unit: Unit, item: Item, lot_code: str | None, qty: int
) -> Lot | None:
    """The lot an issue or write-off names (None: the stock kept without a lot); refused,
    with that position's balance and the unit's total, when it alone cannot give the
    quantity."""
    lot = None
    if lot_code:
        lot = find_lot(session, item, lot_code)
        if lot is None:
            raise DomainError(
                _("{item} 没有批次 {lot}。").format(item=item.shown_name, lot=lot_code), field="lot"
            )
    pos = find_position(session, unit.id, item.id, lot.id if lot else None)
    available = pos.available if pos else 0
    if available < qty:
        total = unit_total(session, unit.id, item.id)
        if pos is not None and pos.reserved:
            message = _(
                "{unit} 的 {item}（{lot}）账面 {qty} {uom}，其中 {reserved} {uom} 已为调拨"
                "预留，可用 {available} {uom}，不足 {need} {uom}；本单位合计 {total} {uom}。"
            )
        else:
            message = _(
                "{unit} 的 {item}（{lot}）账面只有 {available} {uom}，不足 {need} {uom}；"
                "本单位合计 {total} {uom}。"
            )
        raise InsufficientStock(
            message.format(
                unit=unit.name,
                item=item.shown_name,
                lot=_("批次 {lot}").format(lot=lot.code) if lot else _("无批次"),
                qty=pos.qty if pos else 0,
                reserved=pos.reserved if pos else 0,
                available=available,
                uom=item.shown_uom,
                need=qty,
                total=total,
            ),
            field="qty",
        )
    return lot


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
    if asset.status == "out_of_service" and status == "in_service":
        # a failed function test is answered by a repair, not by a change of label
        raise DomainError(
            _("该设备功能测试不合格已停用：请记录维修（结果合格）后才恢复在用。"), field="status"
        )
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

"""The phone's scan actions (issue 19): what a code is and what the user may do with it,
acting on it once however often the phone resends, undo, and the unit's labels for offline
use. The rules are the ledger's and the stocktake's: nothing here records stock itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from inventory import counts, ledger, maintenance
from inventory.counts import shows_book
from inventory.models import (
    ASSET_STATUSES,
    EDITABLE_COUNT_STATUSES,
    Asset,
    Count,
    Item,
    MaintenanceRecord,
    Movement,
    Position,
)
from labels import services as lab
from labels.layouts import printed_code
from labels.models import LabelCode
from readiness import audit
from readiness import services as core
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import Unit
from readiness.permissions import can, in_scope, require

POSITION_ACTIONS = ("count", "issue", "receipt")
ASSET_ACTIONS = ("test_pass", "test_fail", "issue", "repair", "in_service", "seen")
REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# A phone whose clock runs ahead is believed up to this much; beyond, the time is refused.
CLOCK_SLACK = timedelta(minutes=10)


def found_for(session: Session, code, actor) -> lab.Resolved:
    """The scanned label, if it names something in the user's reach (else 403)."""
    found = lab.resolve(session, str(code or ""))
    if found.unit is not None and not in_scope(session, actor, found.unit):
        raise PermissionDenied(_("这张标签属于其他单位，您无权操作。"))
    return found


def _running_count(session: Session, unit_id: int) -> Count | None:
    return session.scalar(
        select(Count).where(
            Count.unit_id == unit_id,
            Count.status.in_(EDITABLE_COUNT_STATUSES),
            Count.is_spot.is_(False),
        )
    )


def _actions(session: Session, found: lab.Resolved, actor, memo: dict | None = None) -> list[str]:
    """What the reader may do with a scanned code; with ``memo``, worked out once per unit
    and kind of label (the offline pack describes every label of one unit: issue 21)."""
    unit = found.unit
    if unit is None or found.is_retired:
        return []
    key = (unit.id, found.asset is not None)
    if memo is not None and key in memo:
        return list(memo[key])
    out: list[str] = []
    if in_scope(session, actor, unit):
        writes = can(session, actor, "stock.write", unit)
        if found.asset is not None:
            out = list(ASSET_ACTIONS) if writes else []
        else:
            out = ["count"] if can(session, actor, "counts.write", unit) else []
            out += ["issue", "receipt"] if writes else []
    if memo is not None:
        memo[key] = out
    return list(out)


# ``describe``'s running count when the caller has not looked it up
_UNKNOWN: Any = object()


def describe(
    session: Session,
    found: lab.Resolved,
    actor,
    *,
    running: Count | None = _UNKNOWN,
    memo: dict | None = None,
) -> dict:
    """A scanned code as the phone shows it (the same shape online and in the offline pack).
    ``running``: the unit's running stocktake when the caller knows it (None: there is none)."""
    unit, lot, asset = found.unit, found.lot, found.asset
    if running is _UNKNOWN:
        running = _running_count(session, unit.id) if unit is not None else None
    blind = running is not None and running.is_blind
    book = None
    if found.position is not None and not blind and unit is not None:
        book = found.position.qty
    return {
        "code": found.label.code,
        "printed": printed_code(found.label.code),
        "kind": "asset" if asset is not None else "position",
        "unit": {"code": unit.code, "name": unit.name} if unit else None,
        "item": {
            "code": found.item.code,
            "name": found.item.shown_name,
            "uom": found.item.shown_uom,
        },
        "lot": {
            "code": lot.code,
            "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
            "expired": bool(lot.expires_on and lot.expires_on <= date.today()),
        }
        if lot
        else None,
        "serial": asset.serial if asset else None,
        "status": asset.status if asset else None,
        "status_label": str(ASSET_STATUSES[asset.status]) if asset else None,
        "last_seen_at": asset.last_seen_at.isoformat() if asset and asset.last_seen_at else None,
        "book": book,
        "actions": _actions(session, found, actor, memo),
        "page": f"/l/{found.label.code}",
    }


def _device_time(raw) -> datetime | None:
    """The phone's clock at the tap: ISO 8601 with its offset; none when not sent."""
    if raw in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise DomainError(
            _("手机时间格式不正确（应为带时区的 ISO 8601 时间）。"), field="device_at"
        )
    if when > utcnow() + CLOCK_SLACK:
        raise DomainError(
            _("手机时间比服务器快了 10 分钟以上，请校准手机时间后重发。"), field="device_at"
        )
    return when


def _request_key(raw) -> str:
    key = str(raw or "")
    if not REQUEST_KEY.match(key):
        raise DomainError(
            _("缺少或无效的请求编号（16 到 64 位字母、数字、- 或 _）。"), field="request_key"
        )
    return key


@dataclass
class ScanResult:
    result: str  # "recorded", or "already" when this request key was recorded before
    message: str
    action: str
    qty: int
    unit_total: int | None
    undo_until: datetime | None
    request_key: str

    def as_json(self) -> dict:
        return {
            "result": self.result,
            "message": self.message,
            "action": self.action,
            "qty": self.qty,
            "unit_total": self.unit_total,
            "undo_until": self.undo_until.isoformat() if self.undo_until else None,
            "request_key": self.request_key,
        }


def _qty(raw, *, allow_zero: bool) -> int:
    from inventory.checks import check_qty

    return check_qty(raw, field_name="qty", allow_zero=allow_zero)


def movement_message(kind: str, qty: int, item: Item, lot_code: str | None, total: int) -> str:
    """What the phone says after an issue or receipt: which way, how much, the unit's total."""
    what = item.shown_name + (_("（批次 {lot}）").format(lot=lot_code) if lot_code else "")
    text = _("出库 {qty} {uom}{item}，本单位现有 {total} {uom}。")
    if kind == "receipt":
        text = _("入库 {qty} {uom}{item}，本单位现有 {total} {uom}。")
    return text.format(qty=qty, uom=item.shown_uom, item=what, total=total)


def act(
    session: Session,
    code,
    action,
    qty,
    *,
    request_key,
    device_at,
    count_id=None,
    actor,
) -> ScanResult:
    """Do what the phone asks with the scanned label, once per request key: the same key
    sent again — even at the same moment, from two tabs — is answered "already"."""
    arguments = (code, action, qty, request_key, device_at, count_id, actor)
    try:
        return _act(session, *arguments)
    except (ledger.DuplicateSubmit, IntegrityError):
        # Another request wrote this key between our check and our write: start again,
        # and the check finds what it wrote.
        session.rollback()
        return _act(session, *arguments)


def _act(session, code, action, qty, request_key, device_at, count_id, actor) -> ScanResult:
    key = _request_key(request_key)
    when = _device_time(device_at)
    found = found_for(session, code, actor)
    action = str(action or "")
    if found.unit is None or found.is_retired:
        raise Conflict(_("该设备已报废或已出库，标签作废。"))
    if found.asset is not None:
        if action not in ASSET_ACTIONS:
            raise DomainError(
                _("按件管理的设备只能出库、送修、恢复在用或清点在位。"), field="action"
            )
        return _act_on_asset(session, found, action, key, when, actor)
    if action not in POSITION_ACTIONS:
        raise DomainError(_("未知的操作：{action}。").format(action=action[:20]), field="action")
    if action == "count":
        return _count(session, found, qty, key, when, count_id, actor)
    posted = ledger.record_movement(
        session,
        unit=found.unit,
        item=found.item,
        kind=action,
        qty=qty,
        lot_code=found.lot.code if found.lot else None,
        lot_only=True,  # the scanned shelf, not the unit's earliest lot
        request_key=key,
        device_at=when,
        actor=actor,
    )
    moved = abs(sum(m.qty for m in posted.movements))
    message = movement_message(
        action, moved, found.item, found.lot.code if found.lot else None, posted.unit_total
    )
    if posted.replayed:
        message = _("这一笔已经登记过，未重复记账：") + message
    undo_until = posted.movement.at + ledger.UNDO_WINDOW
    return ScanResult(
        "already" if posted.replayed else "recorded",
        message,
        action,
        moved,
        posted.unit_total,
        undo_until if undo_until > utcnow() else None,
        key,
    )


def _count(session, found, qty, key, when, count_id, actor) -> ScanResult:
    unit, position = found.unit, found.position
    counted = _qty(qty, allow_zero=True)
    earlier = session.scalar(select(Count).where(Count.request_key == key))
    if earlier is not None:
        return ScanResult(
            "already",
            _("这次点数已经记录过（盘点第 {id} 号），未重复记录。").format(id=earlier.id),
            "count",
            counted,
            None,
            None,
            key,
        )
    running = _running_count(session, unit.id)
    if count_id not in (None, "") and (running is None or str(running.id) != str(count_id)):
        raise Conflict(
            _("盘点第 {id} 号已不在进行中（已提交或已取消），这次点数未记入。").format(
                id=str(count_id)[:12]
            )
        )
    if running is None:
        count = lab.spot_count(session, position, counted, actor=actor)
        count.request_key = key
        line = count.lines[0]
        line.counted_on_device_at = when
        session.flush()
        message = _("已记录点数 {n} {uom}，待审批（盘点第 {id} 号）。").format(
            n=counted, uom=found.item.shown_uom, id=count.id
        )
        return ScanResult("recorded", message, "count", counted, None, None, key)
    line = next((ln for ln in running.lines if ln.position_id == position.id), None)
    if line is not None and line.request_key == key:
        return ScanResult(
            "already",
            _("这次点数已经记录过（盘点第 {id} 号），未重复记录。").format(id=running.id),
            "count",
            line.counted,
            None,
            None,
            key,
        )
    if line is not None and line.counted is not None and when is not None:
        entered = line.counted_on_device_at or line.counted_at
        if entered is not None and entered > when:
            if line.counted == counted:
                return ScanResult(
                    "already",
                    _("已计入盘点第 {id} 号：{n} {uom}。").format(
                        id=running.id, n=counted, uom=found.item.shown_uom
                    ),
                    "count",
                    counted,
                    None,
                    None,
                    key,
                )
            raise Conflict(
                _(
                    "该货位在这次点数之后已点为 {n} {uom}，较新的数不被旧数覆盖；"
                    "如需更正，请重新扫描点数。"
                ).format(n=line.counted, uom=found.item.shown_uom),
                field="qty",
            )
    line = counts.enter_count(session, running, found.item, found.lot, counted, actor=actor)
    line.counted_on_device_at = when
    line.request_key = key
    session.flush()
    message = _("已计入盘点第 {id} 号：{n} {uom}。").format(
        id=running.id, n=counted, uom=found.item.shown_uom
    )
    return ScanResult("recorded", message, "count", counted, None, None, key)


def _act_on_asset(session, found, action, key, when, actor) -> ScanResult:
    asset: Asset = found.asset
    item = found.item
    if action in ("test_pass", "test_fail"):
        # a function test (start it and run it) recorded from the piece's label
        earlier = session.scalar(
            select(MaintenanceRecord.id).where(MaintenanceRecord.request_key == key)
        )
        entry = maintenance.record(
            session,
            asset,
            kind="function_test",
            done_on=when.date() if when else date.today(),
            result="pass" if action == "test_pass" else "fail",
            request_key=key,
            actor=actor,
        )
        if entry.result == "pass":
            message = _("{item} {serial} 功能测试正常，已记录。").format(
                item=item.shown_name, serial=asset.serial
            )
        else:
            message = _(
                "{item} {serial} 功能测试故障：已停用，不计入在库数量，修好后请记录维修。"
            ).format(item=item.shown_name, serial=asset.serial)
        result = "already" if earlier else "recorded"
        return ScanResult(result, message, action, 1, None, None, key)
    if action == "issue":
        posted = ledger.record_movement(
            session,
            unit=found.unit,
            item=item,
            kind="issue",
            qty=1,
            serials=[asset.serial],
            request_key=key,
            device_at=when,
            actor=actor,
        )
        message = _("出库 {item} {serial}，本单位现有 {total} {uom}。").format(
            item=item.shown_name, serial=asset.serial, total=posted.unit_total, uom=item.shown_uom
        )
        result = "already" if posted.replayed else "recorded"
        return ScanResult(result, message, action, 1, posted.unit_total, None, key)
    if action == "in_service" and asset.status == "out_of_service":
        # back from a failed test only through a repair that passed
        maintenance.record(
            session,
            asset,
            kind="repair",
            done_on=when.date() if when else date.today(),
            result="pass",
            request_key=key,
            actor=actor,
        )
        message = _("已记录维修合格，{item} {serial} 恢复在用。").format(
            item=item.shown_name, serial=asset.serial
        )
        return ScanResult("recorded", message, action, 1, None, None, key)
    if action in ("repair", "in_service"):
        status = "under_repair" if action == "repair" else "in_service"
        if asset.status == status:
            message = _("{item} {serial} 已是“{status}”，未做修改。").format(
                item=item.shown_name, serial=asset.serial, status=ASSET_STATUSES[status]
            )
            return ScanResult("already", message, action, 1, None, None, key)
        ledger.set_asset_status(session, asset, status, actor=actor)
        message = _("{item} {serial} 已设为“{status}”。").format(
            item=item.shown_name, serial=asset.serial, status=ASSET_STATUSES[status]
        )
        return ScanResult("recorded", message, action, 1, None, None, key)
    require(session, actor, "stock.write", found.unit)
    asset.last_seen_at = when or utcnow()
    asset.last_seen_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "asset.seen",
        asset,
        unit_id=asset.unit_id,
        after={"serial": asset.serial, "device_at": when.isoformat() if when else None},
    )
    message = _("已确认 {item} {serial} 在位。").format(item=item.shown_name, serial=asset.serial)
    return ScanResult("recorded", message, action, 1, None, None, key)


def undo(session: Session, request_key, *, actor) -> tuple[int, str]:
    """Undo an issue or receipt; the message says what was undone and the unit's total."""
    first = session.scalar(
        select(Movement).where(Movement.request_key == str(request_key or "")[:64])
    )
    total = ledger.undo_movement(session, str(request_key or ""), actor=actor)
    item = first.item
    kind = _("出库") if first.kind == "issue" else _("入库")
    message = _("已撤销{kind} {qty} {uom}{item}，本单位现有 {total} {uom}。").format(
        kind=kind, qty=abs(first.qty), uom=item.shown_uom, item=item.shown_name, total=total
    )
    return total, message


def offline_pack(session: Session, unit_code, actor) -> dict:
    """Every label of a unit, described as ``describe`` does, for a phone going offline."""
    if unit_code:
        unit = core.get_unit(session, str(unit_code))
    elif actor.unit_id is not None:
        unit = session.get(Unit, actor.unit_id)
    else:
        raise DomainError(_("请指定单位。"), field="unit")
    if not in_scope(session, actor, unit):
        raise PermissionDenied(_("您只能下载本单位及下级单位的标签。"))
    running = _running_count(session, unit.id)
    labels = {}
    memo: dict = {}
    positions = session.scalars(
        select(LabelCode)
        .join(Position, Position.id == LabelCode.position_id)
        .where(Position.unit_id == unit.id)
        .options(
            joinedload(LabelCode.position).joinedload(Position.item),
            joinedload(LabelCode.position).joinedload(Position.lot),
        )
    )
    for label in positions:
        pos = label.position
        found = lab.Resolved(label, unit, pos.item, pos.lot, pos, None)
        labels[label.code] = describe(session, found, actor, running=running, memo=memo)
    assets = session.scalars(
        select(LabelCode)
        .join(Asset, Asset.id == LabelCode.asset_id)
        .where(Asset.unit_id == unit.id)
        .options(joinedload(LabelCode.asset).joinedload(Asset.item))
    )
    for label in assets:
        found = lab.Resolved(label, unit, label.asset.item, None, None, label.asset)
        labels[label.code] = describe(session, found, actor, running=running, memo=memo)
    return {
        "unit": {"code": unit.code, "name": unit.name},
        "generated_at": utcnow().isoformat(),
        "blind": bool(running and running.is_blind),
        "count": running.id if running else None,
        "labels": labels,
    }


def start(session: Session, unit_code, *, actor) -> Count:
    """The unit's running stocktake, or a new one started now."""
    if unit_code:
        unit = core.get_unit(session, str(unit_code))
    elif actor.unit_id is not None:
        unit = session.get(Unit, actor.unit_id)
    else:
        raise DomainError(_("请指定单位。"), field="unit")
    require(session, actor, "counts.write", unit)
    return _running_count(session, unit.id) or counts.start_count(session, unit, actor=actor)


def submit(session: Session, count_id: int, *, actor) -> Count:
    """Submit a stocktake from the phone, by the same rules as the desktop."""
    count = session.get(Count, count_id)
    if count is None or not in_scope(session, actor, count.unit_id):
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    return counts.submit_count(session, count, actor=actor)


def count_progress(session: Session, count_id: int, actor) -> dict:
    """A stocktake's lines with their label codes: what is counted and what is still to scan."""
    count = counts.count_with_lines(session, count_id)
    if count is None:
        raise NotFound(_("盘点第 {id} 号不存在。").format(id=count_id))
    if not in_scope(session, actor, count.unit_id):
        raise PermissionDenied(_("您只能查看本单位及下级单位的盘点。"))
    position_ids = [ln.position_id for ln in count.lines if ln.position_id]
    codes = dict(
        session.execute(
            select(LabelCode.position_id, LabelCode.code).where(
                LabelCode.position_id.in_(position_ids)
            )
        ).all()
    )
    lines = [
        {
            "code": codes.get(ln.position_id),
            "item": ln.item.shown_name,
            "lot": ln.lot.code if ln.lot else None,
            "counted": ln.counted,
            "not_counted_reason": ln.not_counted_reason,
        }
        for ln in sorted(count.lines, key=lambda ln: (ln.item.code, ln.lot_id or 0))
    ]
    unit = session.get(Unit, count.unit_id)
    return {
        "count": count.id,
        "unit": {"code": unit.code, "name": unit.name},
        "status": count.status,
        "blind": not shows_book(count),
        "lines": lines,
        "counted": sum(1 for ln in count.lines if ln.counted is not None),
        "total": len(count.lines),
    }

"""Maintenance and function tests of serial equipment (issue 20, item 1).

A pump that does not start is not on hand. Each serial item may carry a service interval and
a function-test interval; each piece's services, tests and repairs are recorded; a failed
function test takes the piece out of service (``out_of_service``: the shortfall report stops
counting it) until a repair that passes is recorded. The due list says, per piece, when its
next service and test fall due — counted from the last one, or from its registration when it
never had one — and which are overdue.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from inventory.models import (
    ASSET_STATUSES,
    MAINTENANCE_KINDS,
    Asset,
    Item,
    MaintenanceRecord,
)
from readiness import audit, paging
from readiness.checks import check_note, check_past_date
from readiness.errors import Conflict, DomainError, NotFound
from readiness.files import (
    FILE_TYPES,
    FILENAME_MAX,
    base_name,
    content_path,
    detect_type,
    megabytes,
    store,
)
from readiness.models import Unit
from readiness.permissions import require

MAX_INTERVAL_DAYS = 3650
MAX_COST = Decimal("99999999.99")
REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# The kinds with a schedule, and the item column holding each one's interval.
SCHEDULED = {"service": "service_interval_days", "function_test": "test_interval_days"}


def find_asset(session: Session, serial, item_code=None) -> Asset:
    """The piece with this serial number (and item, when two items share a serial)."""
    stmt = select(Asset).where(Asset.serial == str(serial or "").strip()[:60])
    if item_code:
        stmt = stmt.join(Item, Item.id == Asset.item_id).where(Item.code == str(item_code))
    assets = session.scalars(stmt).all()
    if len(assets) != 1:
        raise NotFound(
            _("序列号 {serial} 不存在或不唯一。").format(serial=str(serial or "")[:60]),
            field="asset",
        )
    return assets[0]


# What the service's day fields are called on the forms (named in refusals).
DAY_LABELS = {"done_on": _l("日期"), "sent_on": _l("送修日期")}


def _day(raw, field: str, today: date) -> date:
    """The day a service, test or repair happened: from 2000-01-01 to today."""
    return check_past_date(raw, field, today=today, label=DAY_LABELS[field])


def _cost(raw) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        cost = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("费用必须是金额（元，最多两位小数）。"), field="cost") from None
    if (
        not cost.is_finite()
        or cost < 0
        or cost > MAX_COST
        or cost != cost.quantize(Decimal("0.01"))
    ):
        raise DomainError(_("费用必须是金额（元，最多两位小数）。"), field="cost")
    return cost.quantize(Decimal("0.01"))


def record(
    session: Session,
    asset: Asset,
    *,
    kind,
    done_on,
    result,
    actor,
    readings: str = "",
    note: str = "",
    vendor: str = "",
    sent_on=None,
    cost=None,
    request_key: str | None = None,
    today: date | None = None,
    photo: tuple[str, bytes] | None = None,
    storage_dir: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
) -> MaintenanceRecord:
    """Record a service, a function test or a repair of a piece in the user's reach.

    A failed function test takes the piece out of service; a repair that passes puts a piece
    out of service (or under repair) back in service. Sent again with the same request key,
    the first record is returned and nothing is written."""
    today = today or date.today()
    if request_key is not None:
        if not REQUEST_KEY.match(str(request_key)):
            raise DomainError(
                _("缺少或无效的请求编号（16 到 64 位字母、数字、- 或 _）。"), field="request_key"
            )
        earlier = session.scalar(
            select(MaintenanceRecord).where(MaintenanceRecord.request_key == request_key)
        )
        if earlier is not None:
            return earlier
    if asset.unit_id is None or asset.status == "retired":
        raise Conflict(_("该设备已报废或已出库，不能再记录保养。"))
    require(session, actor, "stock.write", asset.unit_id)
    if kind not in MAINTENANCE_KINDS:
        raise DomainError(_("类型只能是保养、功能测试或维修。"), field="kind")
    if result not in ("pass", "fail"):
        raise DomainError(_("结果只能是正常或故障。"), field="result")
    when = _day(done_on, "done_on", today)
    if when < asset.registered_at.date():
        raise DomainError(_("日期早于该设备登记入账的日期。"), field="done_on")
    sent = None
    if sent_on not in (None, "") and kind == "repair":
        sent = _day(sent_on, "sent_on", today)
        if sent > when:
            raise DomainError(_("送修日期不能晚于修回日期。"), field="sent_on")
    entry = MaintenanceRecord(
        asset_id=asset.id,
        unit_id=asset.unit_id,
        kind=kind,
        done_on=when,
        result=result,
        readings=check_note(readings, "readings"),
        note=check_note(note, "note"),
        vendor=check_note(vendor, "vendor")[:100],
        sent_on=sent,
        cost=_cost(cost),
        recorded_by_id=getattr(actor, "id", None),
        request_key=request_key,
    )
    if photo is not None and photo[1]:
        name, data, content_type, sha = _checked_photo(photo, max_bytes)
        if storage_dir is None:
            raise DomainError(_("照片无法保存：未配置附件目录。"), field="photo")
        store(session, content_path(storage_dir, sha), data)
        entry.photo_sha256, entry.photo_type, entry.photo_name = sha, content_type, name
    session.add(entry)
    before = asset.status
    if kind == "function_test" and result == "fail":
        asset.status = "out_of_service"
    elif (
        kind == "repair" and result == "pass" and asset.status in ("out_of_service", "under_repair")
    ):
        asset.status = "in_service"
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(_("该表单已经提交过，请勿重复提交。")) from None
    audit.record(
        session,
        actor,
        f"maintenance.{kind}",
        entry,
        unit_id=asset.unit_id,
        before={"status": before},
        after={
            "serial": asset.serial,
            "done_on": when.isoformat(),
            "result": result,
            "status": asset.status,
            "cost": str(entry.cost) if entry.cost is not None else None,
        },
    )
    return entry


PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


def _checked_photo(photo: tuple[str, bytes], max_bytes: int) -> tuple[str, bytes, str, str]:
    """A photo's name, bytes, type (from its content: JPG, PNG or WebP) and SHA-256."""
    filename, data = photo
    name = base_name(filename)[:FILENAME_MAX] or "photo"
    if len(data) > max_bytes:
        raise DomainError(
            _("照片太大：不能超过 {mb} MB。").format(mb=megabytes(max_bytes)), field="photo"
        )
    detected = detect_type(data)
    content_type = FILE_TYPES[detected][0] if detected else None
    if content_type not in PHOTO_TYPES:
        raise DomainError(_("照片只能是 JPG、PNG 或 WebP 图片。"), field="photo")
    return name, data, content_type, hashlib.sha256(data).hexdigest()


def photo_path(storage_dir: Path, entry: MaintenanceRecord) -> Path:
    return content_path(storage_dir, entry.photo_sha256)


def set_intervals(session: Session, item: Item, service_days, test_days, *, actor) -> Item:
    """An item's service and function-test intervals (days; empty = not scheduled)."""
    require(session, actor, "items.manage")
    if not item.is_serial:
        raise DomainError(_("只有按件管理的设备才有保养和功能测试周期。"), field="item")
    values = []
    for field, raw in (("service_interval_days", service_days), ("test_interval_days", test_days)):
        if raw in (None, ""):
            values.append(None)
            continue
        try:
            days = int(str(raw).strip())
        except ValueError:
            raise DomainError(_("周期必须是天数（整数）。"), field=field) from None
        if not 1 <= days <= MAX_INTERVAL_DAYS:
            raise DomainError(
                _("周期应在 1 到 {max} 天之间。").format(max=MAX_INTERVAL_DAYS), field=field
            )
        values.append(days)
    before = {"service": item.service_interval_days, "test": item.test_interval_days}
    item.service_interval_days, item.test_interval_days = values
    session.flush()
    audit.record(
        session,
        actor,
        "item.maintenance_intervals",
        item,
        before=before,
        after={"service": values[0], "test": values[1]},
    )
    return item


@dataclass(frozen=True)
class Due:
    asset: Asset
    kind: str  # "service" | "function_test"
    last_on: date | None
    due_on: date
    overdue: bool

    @property
    def kind_label(self) -> str:
        return str(MAINTENANCE_KINDS[self.kind])

    @property
    def status_label(self) -> str:
        return str(ASSET_STATUSES[self.asset.status])


def due_rows(
    session: Session,
    unit_ids: set[int] | None,
    *,
    today: date | None = None,
    within_days: int = 14,
    only_due: bool = True,
    piece: Asset | None = None,
) -> list[Due]:
    """Each scheduled piece's next service and function test in these units (None: all),
    or of one ``piece``; overdue first, then by date; with ``only_due`` only those due
    within ``within_days``."""
    today = today or date.today()
    stmt = (
        select(Asset)
        .join(Item, Item.id == Asset.item_id)
        .where(
            Asset.unit_id.is_not(None),
            Asset.status != "retired",
            (Item.service_interval_days.is_not(None)) | (Item.test_interval_days.is_not(None)),
        )
        .options(joinedload(Asset.item), joinedload(Asset.unit))
    )
    if unit_ids is not None:
        stmt = stmt.where(Asset.unit_id.in_(unit_ids))
    if piece is not None:
        stmt = stmt.where(Asset.id == piece.id)
    assets = session.scalars(stmt).unique().all()
    # the last record of each kind, of these pieces only
    latest = {
        (row.asset_id, row.kind): row.last_on
        for row in session.execute(
            select(
                MaintenanceRecord.asset_id,
                MaintenanceRecord.kind,
                func.max(MaintenanceRecord.done_on).label("last_on"),
            )
            .where(MaintenanceRecord.asset_id.in_([a.id for a in assets]))
            .group_by(MaintenanceRecord.asset_id, MaintenanceRecord.kind)
        )
    }
    rows: list[Due] = []
    for asset in assets:
        for kind, column in SCHEDULED.items():
            days = getattr(asset.item, column)
            if days is None:
                continue
            last_on = latest.get((asset.id, kind))
            start = last_on or asset.registered_at.date()
            due_on = start + timedelta(days=days)
            if only_due and due_on > today + timedelta(days=within_days):
                continue
            rows.append(Due(asset, kind, last_on, due_on, due_on < today))
    rows.sort(key=due_key)
    return rows


def due_key(d: Due) -> tuple:
    """Where a due row sorts: overdue first, then by date, unit and piece (one order, so
    that a list of them pages by it: see ``DUE_ORDER``)."""
    return (int(not d.overdue), d.due_on, d.asset.unit.code, d.asset.serial, d.kind, d.asset.id)


DUE_ORDER = paging.Order(
    "maintenance-due",
    paging.Key(int),
    paging.Key(date),
    paging.Key(str),
    paging.Key(str),
    paging.Key(str),
    paging.Key(int),
)

# Maintenance records, newest first.
RECORD_ORDER = paging.Order(
    "maintenance",
    paging.Key(date, MaintenanceRecord.done_on, descending=True),
    paging.Key(int, MaintenanceRecord.id, descending=True),
)


def history(session: Session, asset: Asset) -> list[MaintenanceRecord]:
    return list(
        session.scalars(
            select(MaintenanceRecord)
            .where(MaintenanceRecord.asset_id == asset.id)
            .order_by(MaintenanceRecord.done_on.desc(), MaintenanceRecord.id.desc())
        )
    )


def records_query(unit_ids: set[int] | None, asset: Asset | None = None):
    stmt = select(MaintenanceRecord).options(
        joinedload(MaintenanceRecord.asset).joinedload(Asset.item)
    )
    if unit_ids is not None:
        stmt = stmt.where(MaintenanceRecord.unit_id.in_(unit_ids))
    if asset is not None:
        stmt = stmt.where(MaintenanceRecord.asset_id == asset.id)
    return stmt.order_by(MaintenanceRecord.done_on.desc(), MaintenanceRecord.id.desc())


def unit_of(session: Session, record_: MaintenanceRecord) -> Unit:
    return session.get(Unit, record_.unit_id)


def out_of_reach() -> str:
    return _("您只能查看或记录本单位及下级单位的设备。")

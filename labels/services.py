"""Label codes, QR matrices, calibration, and what a scanned code points to."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import qrcode
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from inventory.models import (
    EDITABLE_COUNT_STATUSES,
    Asset,
    Count,
    CountLine,
    Item,
    Lot,
    Position,
)
from labels.models import LabelCode, LabelLayoutSetting
from readiness import audit
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound
from readiness.models import Unit
from readiness.permissions import require

# Crockford's base32: no I, L, O, U, so a code read aloud or typed is unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: unguessable, short enough to type
MAX_TARGETS = 5000
MAX_OFFSET_MM = Decimal("15")
# A fixed mask: automatic mask selection costs ~4 ms a code for no gain on a label.
QR_MASK = 2


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """Accept a bare code or a full label URL, in any case, with Crockford's look-alikes."""
    raw = (raw or "").strip()
    if "/l/" in raw:
        raw = raw.rsplit("/l/", 1)[1]
    raw = raw.split("?", 1)[0].strip("/ ").upper()
    return raw.replace("O", "0").replace("I", "1").replace("L", "1")


def _issue(session: Session, **target) -> LabelCode:
    label = LabelCode(code=new_code(), **target)
    session.add(label)
    try:
        session.flush()
    except IntegrityError:
        # Someone labelled the same target at this moment (or, once in 2^50, the same code).
        raise Conflict(_("标签正在由他人生成，请重试。")) from None
    return label


def label_for_position(session: Session, position: Position) -> LabelCode:
    """The position's label code, created on first use."""
    existing = session.scalar(select(LabelCode).where(LabelCode.position_id == position.id))
    return existing or _issue(session, position_id=position.id)


def label_for_asset(session: Session, asset: Asset) -> LabelCode:
    """The serial piece's label code, created on first use."""
    existing = session.scalar(select(LabelCode).where(LabelCode.asset_id == asset.id))
    return existing or _issue(session, asset_id=asset.id)


def labels_for_positions(session: Session, positions: Sequence[Position]) -> dict[int, LabelCode]:
    """Label codes for many positions at once (one query, plus one insert per new code)."""
    ids = [p.id for p in positions]
    found = (
        {
            lc.position_id: lc
            for lc in session.scalars(select(LabelCode).where(LabelCode.position_id.in_(ids)))
        }
        if ids
        else {}
    )
    for p in positions:
        if p.id not in found:
            found[p.id] = _issue(session, position_id=p.id)
    return found


def label_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/l/{code}"


def qr_modules(label: LabelCode, base_url: str) -> list[str]:
    """The QR module rows for the label's URL, computed once and kept on the row."""
    url = label_url(base_url, label.code)
    if label.qr_url != url or not label.qr_modules:
        qr = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=QR_MASK
        )
        qr.add_data(url)
        qr.make(fit=True)
        label.qr_modules = "/".join(
            "".join("1" if cell else "0" for cell in row) for row in qr.get_matrix()
        )
        label.qr_url = url
    return label.qr_modules.split("/")


@dataclass
class Resolved:
    label: LabelCode
    unit: Unit | None
    item: Item
    lot: Lot | None
    position: Position | None
    asset: Asset | None

    @property
    def is_retired(self) -> bool:
        return self.asset is not None and (
            self.asset.status == "retired" or self.asset.unit_id is None
        )


def resolve(session: Session, raw_code: str) -> Resolved:
    """What a scanned code points to, or NotFound."""
    code = normalize_code(raw_code)
    label = None
    if len(code) == CODE_LENGTH and all(c in ALPHABET for c in code):
        label = session.scalar(
            select(LabelCode)
            .where(LabelCode.code == code)
            .options(joinedload(LabelCode.position), joinedload(LabelCode.asset))
        )
    if label is None:
        raise NotFound(_("标签码 {code} 不存在，请核对后重新扫描或输入。").format(code=code[:40]))
    if label.position is not None:
        pos = label.position
        return Resolved(label, pos.unit, pos.item, pos.lot, pos, None)
    asset = label.asset
    return Resolved(label, asset.unit, asset.item, None, None, asset)


# ---------------------------------------------------------------- choosing what to print


@dataclass
class Target:
    label: LabelCode
    unit: Unit | None
    item: Item
    lot: Lot | None
    serial: str | None


def _check_count(n: int) -> None:
    if n > MAX_TARGETS:
        raise DomainError(
            _("一次最多打印 {max} 张标签，本次选择了 {n} 张，请分批打印。").format(
                max=MAX_TARGETS, n=n
            ),
            field="targets",
        )
    if n == 0:
        raise DomainError(_("没有可打印的标签。"), field="targets")


def targets_for_unit(
    session: Session,
    unit: Unit,
    *,
    actor,
    item_codes: Sequence[str] | None = None,
    serial_only: bool = False,
) -> list[Target]:
    """Every position of a unit (optionally some items), or every serial piece it holds."""
    require(session, actor, "labels.print", unit)
    out: list[Target] = []
    if not serial_only:
        stmt = (
            select(Position)
            .join(Item, Item.id == Position.item_id)
            .where(Position.unit_id == unit.id, Item.tracking == "bulk")
            .options(joinedload(Position.item), joinedload(Position.lot))
            .order_by(Item.category, Item.code, Position.lot_id)
        )
        if item_codes:
            stmt = stmt.where(Item.code.in_(item_codes))
        positions = session.scalars(stmt).all()
        _check_count(len(positions))
        codes = labels_for_positions(session, positions)
        for p in positions:
            out.append(Target(codes[p.id], unit, p.item, p.lot, None))
    assets_stmt = (
        select(Asset)
        .join(Item, Item.id == Asset.item_id)
        .where(Asset.unit_id == unit.id, Asset.status != "retired")
        .options(joinedload(Asset.item))
        .order_by(Item.code, Asset.serial)
    )
    if item_codes:
        assets_stmt = assets_stmt.where(Item.code.in_(item_codes))
    for a in session.scalars(assets_stmt):
        out.append(Target(label_for_asset(session, a), unit, a.item, None, a.serial))
    _check_count(len(out))
    return out


def targets_from_spec(session: Session, specs: Sequence[dict], *, actor) -> list[Target]:
    """Targets named one by one: {"unit","item","lot"} for a position or {"serial"} for a piece."""
    _check_count(len(specs))
    for n, spec in enumerate(specs, start=1):
        if not isinstance(spec, dict):
            raise DomainError(_("第 {n} 个标签格式不正确。").format(n=n), field="targets")
    # Look everything up in a few queries: a sheet may name thousands of positions.
    unit_codes = {str(s.get("unit") or "") for s in specs if not s.get("serial")}
    item_codes = {str(s.get("item") or "") for s in specs if not s.get("serial")}
    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(unit_codes)))}
    items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(item_codes)))}
    lots = {
        (lot.item_id, lot.code): lot
        for lot in session.scalars(
            select(Lot).where(Lot.item_id.in_([i.id for i in items.values()]))
        )
    }
    positions = {
        (p.unit_id, p.item_id, p.lot_id): p
        for p in session.scalars(
            select(Position).where(
                Position.unit_id.in_([u.id for u in units.values()]),
                Position.item_id.in_([i.id for i in items.values()]),
            )
        )
    }
    allowed: set[int] = set()
    wanted: list[tuple[Unit, Item, Lot | None, Position]] = []
    out: list[Target | None] = []
    for n, spec in enumerate(specs, start=1):
        if spec.get("serial"):
            out.append(_serial_target(session, spec, n, actor))
            continue
        unit = units.get(str(spec.get("unit") or ""))
        item = items.get(str(spec.get("item") or ""))
        if unit is None or item is None:
            raise DomainError(
                _("第 {n} 个标签：单位或物资代码不存在。").format(n=n), field="targets"
            )
        if unit.id not in allowed:
            require(session, actor, "labels.print", unit)
            allowed.add(unit.id)
        lot = None
        if spec.get("lot"):
            lot = lots.get((item.id, str(spec["lot"])))
            if lot is None:
                raise DomainError(
                    _("第 {n} 个标签：{item} 没有批次 {lot}。").format(
                        n=n, item=item.name, lot=str(spec["lot"])[:40]
                    ),
                    field="targets",
                )
        key = (unit.id, item.id, lot.id if lot else None)
        pos = positions.get(key)
        if pos is None:
            # A shelf may be labelled before its first receipt.
            pos = Position(unit_id=unit.id, item_id=item.id, lot_id=key[2])
            session.add(pos)
            session.flush()
            positions[key] = pos
        wanted.append((unit, item, lot, pos))
        out.append(None)
    codes = labels_for_positions(session, [w[3] for w in wanted])
    it = iter(wanted)
    result = []
    for target in out:
        if target is None:
            unit, item, lot, pos = next(it)
            target = Target(codes[pos.id], unit, item, lot, None)
        result.append(target)
    return result


def _serial_target(session: Session, spec: dict, n: int, actor) -> Target:
    stmt = select(Asset).where(Asset.serial == str(spec["serial"]))
    if spec.get("item"):
        stmt = stmt.join(Item, Item.id == Asset.item_id).where(Item.code == spec["item"])
    assets = session.scalars(stmt).all()
    if len(assets) != 1:
        raise DomainError(
            _("第 {n} 个标签：序列号 {serial} 不存在或不唯一。").format(
                n=n, serial=str(spec["serial"])[:60]
            ),
            field="targets",
        )
    asset = assets[0]
    if asset.unit_id is None or asset.status == "retired":
        raise DomainError(
            _("第 {n} 个标签：序列号 {serial} 已报废或不在账上。").format(n=n, serial=asset.serial),
            field="targets",
        )
    require(session, actor, "labels.print", asset.unit_id)
    return Target(label_for_asset(session, asset), asset.unit, asset.item, None, asset.serial)


# ---------------------------------------------------------------- calibration


def calibration(session: Session, layout: str) -> tuple[Decimal, Decimal]:
    row = session.get(LabelLayoutSetting, layout)
    return (row.offset_x_mm, row.offset_y_mm) if row else (Decimal("0"), Decimal("0"))


def set_calibration(session: Session, layout: str, x_mm, y_mm, *, actor) -> LabelLayoutSetting:
    """Save where this printer really puts a layout's origin, so every sheet lines up."""
    from labels.pdf import LAYOUTS

    require(session, actor, "labels.print")
    if layout not in LAYOUTS:
        raise DomainError(_("未知的版式：{layout}。").format(layout=layout), field="layout")
    values = []
    for name, raw in (("offset_x_mm", x_mm), ("offset_y_mm", y_mm)):
        try:
            value = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise DomainError(_("偏移量必须是数字（毫米）。"), field=name) from None
        if not value.is_finite() or abs(value) > MAX_OFFSET_MM:
            raise DomainError(
                _("偏移量应在 −{max} 到 {max} 毫米之间，否则标签会印到纸外。").format(
                    max=MAX_OFFSET_MM
                ),
                field=name,
            )
        values.append(value.quantize(Decimal("0.1")))
    row = session.get(LabelLayoutSetting, layout)
    before = {"x": str(row.offset_x_mm), "y": str(row.offset_y_mm)} if row else None
    if row is None:
        row = LabelLayoutSetting(layout=layout)
        session.add(row)
    row.offset_x_mm, row.offset_y_mm = values
    row.updated_at = utcnow()
    row.updated_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "labels.calibrate",
        object_type="label_layout_settings",
        object_id=layout,
        before=before,
        after={"x": str(values[0]), "y": str(values[1])},
    )
    return row


# ---------------------------------------------------------------- spot counts


def spot_count(session: Session, position: Position, counted, *, actor) -> Count:
    """Count one scanned position: into the unit's running stocktake if there is one,
    else as a one-line count submitted for approval like any other."""
    from inventory import checks, counts

    unit = position.unit
    running = session.scalar(
        select(Count).where(
            Count.unit_id == unit.id,
            Count.status.in_(EDITABLE_COUNT_STATUSES),
            Count.is_spot.is_(False),
        )
    )
    if running is not None:
        counts.enter_count(session, running, position.item, position.lot, counted, actor=actor)
        return running
    require(session, actor, "counts.write", unit)
    counted = checks.check_qty(counted, field_name="counted", allow_zero=True)
    count = Count(
        unit_id=unit.id,
        is_spot=True,
        started_by_id=getattr(actor, "id", None),
        note=_("扫码点数"),
    )
    count.lines.append(
        CountLine(
            position_id=position.id,
            item_id=position.item_id,
            lot_id=position.lot_id,
            book=position.qty,
        )
    )
    session.add(count)
    session.flush()
    audit.record(
        session, actor, "count.start", count, unit_id=unit.id, after={"lines": 1, "spot": True}
    )
    counts.enter_count(session, count, position.item, position.lot, counted, actor=actor)
    counts.submit_count(session, count, actor=actor)
    return count


def last_count_line(session: Session, position: Position) -> CountLine | None:
    """The latest counted line of a position (any count), for the scan page."""
    return session.scalar(
        select(CountLine)
        .where(CountLine.position_id == position.id, CountLine.counted.is_not(None))
        .order_by(CountLine.counted_at.desc())
        .limit(1)
    )


def sheet_pdf(
    session: Session, targets: Sequence[Target], layout: str, *, skip: int, base_url: str
) -> bytes:
    """The printable sheet for these targets, with this layout's saved calibration."""
    from labels.pdf import LAYOUTS, LabelContent, render

    if layout not in LAYOUTS:
        raise DomainError(_("未知的版式：{layout}。").format(layout=layout), field="layout")
    per_page = LAYOUTS[layout].cols * LAYOUTS[layout].rows
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < max(per_page, 1):
        raise DomainError(
            _("跳过的标签数应在 0 到 {n} 之间。").format(n=max(per_page - 1, 0)), field="skip"
        )
    contents = []
    for t in targets:
        details = []
        if t.serial:
            details.append(_("序列号 {serial}").format(serial=t.serial))
        if t.lot is not None:
            details.append(_("批次 {lot}").format(lot=t.lot.code))
            if t.lot.expires_on:
                details.append(_("有效期至 {date}").format(date=t.lot.expires_on.isoformat()))
        contents.append(
            LabelContent(
                modules=qr_modules(t.label, base_url),
                code=t.label.code,
                unit=t.unit.name if t.unit else "",
                item=t.item.name,
                details=details,
            )
        )
    return render(contents, layout, skip=skip, offset_mm=calibration(session, layout))

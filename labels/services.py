"""Label codes, QR matrices, calibration, and what a scanned code points to."""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

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
from labels.layouts import LAYOUTS, THERMAL_DPIS, LabelContent, printed_code
from labels.models import LabelCode, PrinterProfile
from labels.pdf import Correction, crosshair_points, render, ruler_length
from labels.pdf import test_page as draw_test_page
from readiness import audit
from readiness import services as core
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound
from readiness.models import Unit
from readiness.permissions import can, require, unit_ids_above, units_allowed
from readiness.text import first_unsafe, unsafe_message

# Crockford's base32: no I, L, O, U, so a code read aloud or typed is unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: unguessable, short enough to type
MAX_TARGETS = 5000
MAX_OFFSET_MM = Decimal("15")
MIN_SCALE, MAX_SCALE = Decimal("90"), Decimal("110")
OUTPUTS = ("pdf", "zpl", "tspl")  # the printer's language
EXPORTS = ("csv", "xlsx")  # the label data, for label programs
# A fixed mask: automatic mask selection costs ~4 ms a code for no gain on a label.
QR_MASK = 2


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


# What people type in place of a code: spaces and hyphens between its groups (the label
# prints it as "S9V0S Q8RAV"), and the look-alikes Crockford's alphabet leaves out.
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1", " ": None, "-": None, "\u3000": None})


def normalize_code(raw: str) -> str:
    """Accept a bare code or a full label URL, in any case, with spaces or hyphens between
    its groups and Crockford's look-alikes (O for 0, I or L for 1)."""
    raw = (raw or "").strip()
    if "/l/" in raw:
        raw = raw.rsplit("/l/", 1)[1]
    raw = raw.split("?", 1)[0].strip("/ ").upper()
    return raw.translate(_TYPED)


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


def _labels_for(session: Session, target: str, ids: Sequence[int]) -> dict[int, LabelCode]:
    """Label codes of many positions or pieces (``target``: "position_id" or "asset_id") at
    once, by their id: one query, plus one insert per new code."""
    column = getattr(LabelCode, target)
    found = (
        {
            getattr(lc, target): lc
            for lc in session.scalars(select(LabelCode).where(column.in_(ids)))
        }
        if ids
        else {}
    )
    for ident in ids:
        if ident not in found:
            found[ident] = _issue(session, **{target: ident})
    return found


def labels_for_positions(session: Session, positions: Sequence[Position]) -> dict[int, LabelCode]:
    """Label codes for many positions at once, by position id."""
    return _labels_for(session, "position_id", [p.id for p in positions])


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


# ---------------------------------------------------------------- printer profiles


class Invalid(DomainError):
    """Several fields refused at once: ``errors`` maps each field to its message (the first
    is the error's own message and field, for the API)."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


def _decimal(raw, field: str, errors: dict[str, str], low: Decimal, high: Decimal, message: str):
    try:
        value = Decimal(str(raw if raw is not None else "").strip() or "0")
    except (InvalidOperation, ValueError):
        errors[field] = _("{field}必须是数字。").format(field=FIELD_NAMES[field]())
        return None
    if not value.is_finite() or not low <= value <= high:
        errors[field] = message
        return None
    return value.quantize(Decimal("0.1"))


FIELD_NAMES = {
    "name": lambda: _("名称"),
    "layout": lambda: _("版式"),
    "output": lambda: _("打印语言"),
    "dpi": lambda: _("分辨率"),
    "offset_x_mm": lambda: _("X 偏移"),
    "offset_y_mm": lambda: _("Y 偏移"),
    "scale_pct": lambda: _("缩放"),
}


def usable_profiles(session: Session, actor, *, unit_id: int | None = None) -> list[PrinterProfile]:
    """The printer profiles this user may print with: their own units' (their subtree) and
    those of the units above them (a station prints on the bureau office's printer too)."""
    stmt = (
        select(PrinterProfile)
        .where(PrinterProfile.is_active)
        .order_by(PrinterProfile.name, PrinterProfile.id)
    )
    visible = core.visible_unit_ids(session, actor)
    if visible is not None:
        above = unit_ids_above(session, actor.unit_id) if actor.unit_id else []
        stmt = stmt.where(PrinterProfile.unit_id.in_(visible | set(above)))
    if unit_id is not None:
        stmt = stmt.where(PrinterProfile.unit_id == unit_id)
    return list(session.scalars(stmt.options(joinedload(PrinterProfile.unit))))


def get_profile(session: Session, profile_id, actor) -> PrinterProfile:
    """A profile this user may print with, or NotFound (another bureau's printers are not
    named to them)."""
    try:
        wanted = int(profile_id)
    except (TypeError, ValueError):
        wanted = None
    for profile in usable_profiles(session, actor):
        if profile.id == wanted:
            return profile
    raise NotFound(_("打印机配置 {id} 不存在。").format(id=str(profile_id)[:20]), field="profile")


def save_profile(
    session: Session,
    unit: Unit,
    values: dict,
    *,
    actor,
    profile: PrinterProfile | None = None,
) -> PrinterProfile:
    """Create a printer profile for a unit, or change one; every field is checked and every
    refusal reported at once."""
    require(session, actor, "labels.print", unit)
    if profile is not None:
        require(session, actor, "labels.print", profile.unit_id)
    errors: dict[str, str] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = _("请填写打印机名称，如“一楼办公室激光打印机”。")
    elif len(name) > 60:
        errors["name"] = _("名称最多 60 个字。")
    elif (char := first_unsafe(name)) is not None:
        errors["name"] = unsafe_message(_("名称"), char)
    layout = str(values.get("layout") or "")
    if layout not in LAYOUTS:
        errors["layout"] = _("未知的版式：{layout}。").format(layout=layout[:20])
    output = str(values.get("output") or "pdf")
    if output not in OUTPUTS:
        errors["output"] = _("打印语言只能是 PDF、ZPL 或 TSPL。")
    elif output != "pdf" and layout in LAYOUTS and not LAYOUTS[layout].thermal:
        errors["output"] = _("ZPL 和 TSPL 只用于热敏标签打印机，A4 标签纸请选 PDF。")
    dpi = str(values.get("dpi") or 203).strip()
    dpi = int(dpi) if dpi.isdigit() else None
    if dpi not in THERMAL_DPIS:
        errors["dpi"] = _("分辨率只能是 203 或 300 dpi。")
    off = _("偏移量应在 −{max} 到 {max} 毫米之间，否则标签会印到纸外。").format(max=MAX_OFFSET_MM)
    x = _decimal(
        values.get("offset_x_mm"), "offset_x_mm", errors, -MAX_OFFSET_MM, MAX_OFFSET_MM, off
    )
    y = _decimal(
        values.get("offset_y_mm"), "offset_y_mm", errors, -MAX_OFFSET_MM, MAX_OFFSET_MM, off
    )
    scale = _decimal(
        values.get("scale_pct") if values.get("scale_pct") not in (None, "") else "100",
        "scale_pct",
        errors,
        MIN_SCALE,
        MAX_SCALE,
        _("缩放应在 {low}% 到 {high}% 之间；偏差更大时请检查打印设置是否为“实际大小”。").format(
            low=MIN_SCALE, high=MAX_SCALE
        ),
    )
    clash = session.scalar(
        select(PrinterProfile.id).where(
            PrinterProfile.unit_id == unit.id,
            PrinterProfile.name == name,
            PrinterProfile.id != (profile.id if profile else -1),
        )
    )
    if clash and "name" not in errors:
        errors["name"] = _("本单位已有名为“{name}”的打印机。").format(name=name)
    if errors:
        raise Invalid(errors)
    before = _profile_json(profile) if profile else None
    if profile is None:
        profile = PrinterProfile(unit_id=unit.id)
        session.add(profile)
    profile.name, profile.layout, profile.output, profile.dpi = name, layout, output, dpi
    profile.offset_x_mm, profile.offset_y_mm, profile.scale_pct = x, y, scale
    profile.is_active = True
    profile.updated_at = utcnow()
    profile.updated_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "labels.profile_save",
        object_type="printer_profiles",
        object_id=str(profile.id),
        unit_id=unit.id,
        before=before,
        after=_profile_json(profile),
    )
    return profile


PROFILE_FIELDS = ("name", "layout", "output", "dpi", "offset_x_mm", "offset_y_mm", "scale_pct")


def profile_values(profile: PrinterProfile) -> dict:
    """A profile's fields as a form shows them."""
    return _profile_json(profile)


def _profile_json(profile: PrinterProfile) -> dict:
    return {
        "name": profile.name,
        "layout": profile.layout,
        "output": profile.output,
        "dpi": profile.dpi,
        "offset_x_mm": str(profile.offset_x_mm),
        "offset_y_mm": str(profile.offset_y_mm),
        "scale_pct": str(profile.scale_pct),
    }


def correct_from_measurement(
    session: Session, profile: PrinterProfile, ruler_mm, cross_x_mm, cross_y_mm, *, actor
) -> PrinterProfile:
    """Save the correction that puts the test page right, from what the keeper measured on
    the test page printed with the profile's current correction: the length of the ruler
    and where the first crosshair's centre is from the sheet's left and top edges.

    The printer is taken to scale by k and shift by e: a point drawn at p prints at
    k·p + e. The page was drawn at s·p + o, so the ruler of R mm measures L = k·s·R, and the
    crosshair at c measures m = k·(s·c + o) + e. The new correction (s', o') makes
    k·(s'·p + o') + e = p: s' = 1/k and o' = o + s·c − m/k."""
    layout = LAYOUTS[profile.layout]
    errors: dict[str, str] = {}
    measured = {}
    for field, raw, label in (
        ("ruler_mm", ruler_mm, _("标尺实际长度")),
        ("cross_x_mm", cross_x_mm, _("十字中心到纸左边的距离")),
        ("cross_y_mm", cross_y_mm, _("十字中心到纸上边的距离")),
    ):
        try:
            value = float(str(raw).strip())
        except ValueError:
            errors[field] = _("请填写{what}（毫米，可带一位小数）。").format(what=label)
            continue
        if not math.isfinite(value) or value <= 0 or value > 400:
            errors[field] = _("{what}应为正数（毫米）。").format(what=label)
            continue
        measured[field] = value
    if errors:
        raise Invalid(errors)
    length = ruler_length(layout)
    s = float(profile.scale_pct) / 100
    k = measured["ruler_mm"] / (length * s)
    cx, cy = crosshair_points(layout)[0]
    values = {
        **_profile_json(profile),
        "scale_pct": f"{100 / k:.1f}",
        "offset_x_mm": f"{float(profile.offset_x_mm) + s * cx - measured['cross_x_mm'] / k:.1f}",
        "offset_y_mm": f"{float(profile.offset_y_mm) + s * cy - measured['cross_y_mm'] / k:.1f}",
    }
    return save_profile(session, profile.unit, values, actor=actor, profile=profile)


def retire_profile(session: Session, profile: PrinterProfile, *, actor) -> None:
    """Take a printer out of the choice (kept for the audit trail)."""
    require(session, actor, "labels.print", profile.unit_id)
    profile.is_active = False
    profile.updated_at = utcnow()
    profile.updated_by_id = getattr(actor, "id", None)
    audit.record(
        session,
        actor,
        "labels.profile_retire",
        object_type="printer_profiles",
        object_id=str(profile.id),
        unit_id=profile.unit_id,
        before=_profile_json(profile),
    )


def correction(profile: PrinterProfile | None) -> Correction:
    if profile is None:
        return Correction()
    return Correction(
        float(profile.offset_x_mm), float(profile.offset_y_mm), float(profile.scale_pct)
    )


# ---------------------------------------------------------------- the address printed


def _is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def print_refusal(base_url: str, used_url: str, remote_addr: str | None) -> str | None:
    """Why labels must not be printed from this request, or None. A QR code printed with the
    wrong address points there for the life of the label: when BASE_URL is a loopback
    address but the user reaches the server by another address (or from another machine),
    or names another host than the one the user is using, phones could not open it."""
    base_host = urlsplit(base_url).hostname
    used = urlsplit(used_url)
    used_host = used.hostname
    if _is_loopback(used_host) and _is_loopback(remote_addr):
        return None  # at the server itself: whatever BASE_URL says is deliberate
    if _is_loopback(base_host) or (base_host or "").lower() != (used_host or "").lower():
        return _(
            "不能打印：标签上的二维码将指向 {url}，但您是通过 {host} 访问本系统的，"
            "手机扫码将打不开，且标签一经粘贴无法更改。请系统管理员把环境变量 "
            "READINESS_BASE_URL 设为手机能访问的地址（例如 {suggest}），重启服务后再打印。"
        ).format(url=base_url, host=used.netloc, suggest=f"{used.scheme}://{used.netloc}")
    return None


def check_print_address(base_url: str, used_url: str, remote_addr: str | None) -> None:
    refusal = print_refusal(base_url, used_url, remote_addr)
    if refusal:
        raise Conflict(refusal, field="BASE_URL")


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


# ---------------------------------------------------------------- what is printed


def label_contents(targets: Sequence[Target], base_url: str) -> list[LabelContent]:
    """What each label says, in the order given."""
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
                url=label_url(base_url, t.label.code),
                modules=tuple(qr_modules(t.label, base_url)),
                code=t.label.code,
                unit=t.unit.name if t.unit else "",
                item=t.item.name,
                details=tuple(details),
            )
        )
    return contents


def label_rows(targets: Sequence[Target], base_url: str) -> tuple[list[str], list[list]]:
    """The same selection as a table for label programs (BarTender, 中琅): one row a label."""
    header = [
        _("标签码"),
        _("打印码"),
        _("网址"),
        _("单位代码"),
        _("单位"),
        _("物资代码"),
        _("物资"),
        _("批次"),
        _("有效期至"),
        _("序列号"),
    ]
    rows = [
        [
            t.label.code,
            printed_code(t.label.code),
            label_url(base_url, t.label.code),
            t.unit.code if t.unit else "",
            t.unit.name if t.unit else "",
            t.item.code,
            t.item.name,
            t.lot.code if t.lot else "",
            t.lot.expires_on if t.lot and t.lot.expires_on else None,
            t.serial or "",
        ]
        for t in targets
    ]
    return header, rows


@dataclass(frozen=True)
class Printout:
    data: bytes
    mimetype: str
    extension: str


MIMETYPES = {
    "pdf": ("application/pdf", "pdf"),
    # Both are plain command streams sent to the printer as they are (raw).
    "zpl": ("application/octet-stream", "zpl"),
    "tspl": ("application/octet-stream", "prn"),
}


def check_skip(layout: str, skip) -> int:
    per_page = LAYOUTS[layout].per_page
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < per_page:
        if per_page == 1:
            message = _("热敏标签一张一枚，不能跳过。")
        else:
            message = _("跳过的标签数应在 0 到 {n} 之间（{layout} 每张 {per} 枚）。").format(
                n=per_page - 1, layout=layout, per=per_page
            )
        raise DomainError(message, field="skip")
    return skip


def resolve_choice(
    layout: str | None, output: str | None, profile: PrinterProfile | None
) -> tuple[str, str]:
    """The layout and language to print with: as asked, else the printer profile's, else
    A4 3×8 as PDF; a layout that differs from the chosen printer's stock is refused."""
    layout = layout or (profile.layout if profile else "a4-3x8")
    if layout not in LAYOUTS:
        raise DomainError(_("未知的版式：{layout}。").format(layout=layout[:20]), field="layout")
    if profile is not None and layout != profile.layout:
        raise DomainError(
            _("打印机“{name}”装的是 {loaded} 标签纸，与所选版式 {layout} 不符。").format(
                name=profile.name, loaded=profile.layout, layout=layout
            ),
            field="layout",
        )
    output = output or (profile.output if profile else "pdf")
    if output not in OUTPUTS:
        raise DomainError(_("打印语言只能是 PDF、ZPL 或 TSPL。"), field="format")
    if output != "pdf" and not LAYOUTS[layout].thermal:
        raise DomainError(
            _("ZPL 和 TSPL 只用于热敏标签打印机，A4 标签纸请选 PDF。"), field="format"
        )
    return layout, output


def printout(
    session: Session,
    targets: Sequence[Target],
    layout: str | None = None,
    *,
    output: str | None = None,
    skip: int = 0,
    base_url: str,
    profile: PrinterProfile | None = None,
) -> Printout:
    """The labels for these targets in the printer's language, with its correction."""
    layout, output = resolve_choice(layout, output, profile)
    skip = check_skip(layout, skip)
    contents = label_contents(targets, base_url)
    fix = correction(profile)
    mimetype, extension = MIMETYPES[output]
    if output == "pdf":
        data = render(contents, layout, skip=skip, correction=fix)
    else:
        from labels import thermal

        dpi = profile.dpi if profile else 203
        emit = thermal.zpl if output == "zpl" else thermal.tspl
        data = emit(contents, LAYOUTS[layout], dpi=dpi, offset_mm=(fix.x_mm, fix.y_mm))
    return Printout(data, mimetype, extension)


def sheet_pdf(
    session: Session,
    targets: Sequence[Target],
    layout: str,
    *,
    skip: int,
    base_url: str,
    profile: PrinterProfile | None = None,
) -> bytes:
    """The printable PDF sheet for these targets."""
    return printout(
        session, targets, layout, output="pdf", skip=skip, base_url=base_url, profile=profile
    ).data


def test_page(layout: str, profile: PrinterProfile | None = None) -> bytes:
    """The alignment test page of a layout, drawn with the profile's correction."""
    if layout not in LAYOUTS:
        raise DomainError(_("未知的版式：{layout}。").format(layout=layout[:20]), field="layout")
    shape = LAYOUTS[layout]
    cx, cy = crosshair_points(shape)[0]
    fix = correction(profile)
    if shape.thermal:
        lines = [
            _("十字应在 X {x} / Y {y} mm").format(x=f"{cx:g}", y=f"{cy:g}"),
            _("标尺应长 {n} mm").format(n=f"{ruler_length(shape):g}"),
        ]
    else:
        lines = [
            _("打印机校准测试页 · {layout}").format(layout=layout)
            + (_(" · 打印机“{name}”").format(name=profile.name) if profile else ""),
            _("请按“实际大小 / 100%”打印，不要选“适合页面”。"),
            _("1. 量上方标尺：应长 {n} mm。").format(n=f"{ruler_length(shape):g}"),
            _("2. 量左上十字中心到纸左边、纸上边的距离：应为 {x} mm、{y} mm。").format(
                x=f"{cx:g}", y=f"{cy:g}"
            ),
            _("3. 在“打印机配置”里填入量得的三个数，系统算出校正值。"),
            _("当前校正：X {x} mm，Y {y} mm，缩放 {s}%。").format(
                x=f"{fix.x_mm:g}", y=f"{fix.y_mm:g}", s=f"{fix.scale_pct:g}"
            ),
            _("虚线为标签纸上各枚标签的位置。"),
        ]
    return draw_test_page(layout, lines, correction=fix)


test_page.__test__ = False  # not a pytest test, whatever its name


# ---------------------------------------------------------------- printing a selection


@dataclass(frozen=True)
class Picked:
    """One label of a selection, before its code is issued: a lot row (position) or a
    serial piece (asset) of a unit."""

    unit: Unit
    item: Item
    lot: Lot | None
    position: Position | None = None
    asset: Asset | None = None

    @property
    def serial(self) -> str | None:
        return self.asset.serial if self.asset is not None else None


def _ids(raw: Sequence) -> list[int]:
    """The ids a selection names, in the order given, each once; anything that is not an id
    is refused, naming it."""
    out: dict[int, None] = {}
    for value in raw:
        text = str(value).strip()
        number = int(text) if text.isdigit() and len(text) <= 12 else None
        if number is None:
            raise DomainError(_("所选编号“{id}”无效。").format(id=text[:20]), field="targets")
        out[number] = None
    return list(out)


# One message for "no such row" and "not yours" (an id out of reach tells nothing).
UNKNOWN = {
    "position": lambda: _("所选货位第 {id} 号不存在，或不在您可打印标签的范围内；未打印任何标签。"),
    "asset": lambda: _("所选设备第 {id} 号不存在，或不在您可打印标签的范围内；未打印任何标签。"),
}


def _unknown(kind: str, ident: int) -> DomainError:
    return DomainError(UNKNOWN[kind]().format(id=ident), field="targets")


def pick_selection(
    session: Session,
    *,
    unit_code: str | None,
    position_ids: Sequence,
    asset_ids: Sequence,
    actor,
) -> tuple[Unit | None, list[Picked]]:
    """The lot rows and serial pieces ticked on a unit's stock page, in the order given:
    each must exist, be of that unit (when one is named) and be one the actor may print
    labels for; the first that is not refuses the whole selection."""
    positions_wanted = _ids(position_ids)
    assets_wanted = _ids(asset_ids)
    _check_count(len(positions_wanted) + len(assets_wanted))
    unit = None
    if unit_code:
        unit = session.scalar(select(Unit).where(Unit.code == str(unit_code)))
        if unit is None or not can(session, actor, "labels.print", unit):
            raise DomainError(
                _("单位 {code} 不存在或不在您的管辖范围内。").format(code=str(unit_code)[:32]),
                field="unit",
            )
    positions = {
        p.id: p
        for p in session.scalars(
            select(Position)
            .where(Position.id.in_(positions_wanted))
            .options(joinedload(Position.item), joinedload(Position.lot))
        )
    }
    assets = {
        a.id: a
        for a in session.scalars(
            select(Asset).where(Asset.id.in_(assets_wanted)).options(joinedload(Asset.item))
        )
    }
    units = {
        u.id: u
        for u in session.scalars(
            select(Unit).where(
                Unit.id.in_(
                    {p.unit_id for p in positions.values()}
                    | {a.unit_id for a in assets.values() if a.unit_id is not None}
                )
            )
        )
    }
    allowed = units_allowed(session, actor, "labels.print", units)

    def fits(unit_id: int | None) -> bool:
        return unit_id in allowed and (unit is None or unit_id == unit.id)

    picked: list[Picked] = []
    for pid in positions_wanted:
        p = positions.get(pid)
        if p is None or not fits(p.unit_id):
            raise _unknown("position", pid)
        picked.append(Picked(units[p.unit_id], p.item, p.lot, position=p))
    for aid in assets_wanted:
        a = assets.get(aid)
        if a is None or not fits(a.unit_id):
            raise _unknown("asset", aid)
        if a.status == "retired":
            raise DomainError(
                _("设备 {serial} 已报废，不再打印标签。").format(serial=a.serial), field="targets"
            )
        picked.append(Picked(units[a.unit_id], a.item, None, asset=a))
    return unit, picked


def _codes(raw: Sequence) -> list[str]:
    """The unit codes a selection names, in the order given, each once."""
    return list(dict.fromkeys(str(v).strip()[:32] for v in raw if str(v).strip()))


def pick_units(session: Session, unit_codes: Sequence, *, actor) -> list[tuple[Unit, list[Picked]]]:
    """Every label of these units' stock (each lot row, then each serial piece in service),
    unit by unit in the order given: the stock units of the shelter sites ticked on the site
    list. Each unit must exist and be one the actor may print labels for."""
    wanted = _codes(unit_codes)
    if not wanted or len(wanted) > MAX_TARGETS:
        _check_count(len(wanted))
    found = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(wanted)))}
    allowed = units_allowed(session, actor, "labels.print", [u.id for u in found.values()])
    for code in wanted:
        if code not in found or found[code].id not in allowed:
            raise DomainError(
                _("所选单位 {code} 不存在，或不在您可打印标签的范围内；未打印任何标签。").format(
                    code=code
                ),
                field="targets",
            )
    units = {found[code].id: found[code] for code in wanted}
    by_unit: dict[int, list[Picked]] = {uid: [] for uid in units}
    for p in session.scalars(
        select(Position)
        .join(Item, Item.id == Position.item_id)
        .where(Position.unit_id.in_(units), Item.tracking == "bulk")
        .options(joinedload(Position.item), joinedload(Position.lot))
        .order_by(Item.category, Item.code, Position.lot_id)
    ):
        by_unit[p.unit_id].append(Picked(units[p.unit_id], p.item, p.lot, position=p))
    for a in session.scalars(
        select(Asset)
        .join(Item, Item.id == Asset.item_id)
        .where(Asset.unit_id.in_(units), Asset.status != "retired")
        .options(joinedload(Asset.item))
        .order_by(Item.code, Asset.serial)
    ):
        by_unit[a.unit_id].append(Picked(units[a.unit_id], a.item, None, asset=a))
    _check_count(sum(len(rows) for rows in by_unit.values()))
    return [(unit, by_unit[uid]) for uid, unit in units.items()]


def labels_for_assets(session: Session, assets: Sequence[Asset]) -> dict[int, LabelCode]:
    """Label codes for many serial pieces at once, by piece id."""
    return _labels_for(session, "asset_id", [a.id for a in assets])


def targets_for_picked(session: Session, picked: Sequence[Picked]) -> list[Target]:
    """The labels of a checked selection, in its order, their codes issued on first use."""
    _check_count(len(picked))
    codes = labels_for_positions(session, [p.position for p in picked if p.position])
    pieces = labels_for_assets(session, [p.asset for p in picked if p.asset])
    return [
        Target(
            codes[p.position.id] if p.position else pieces[p.asset.id],
            p.unit,
            p.item,
            p.lot,
            p.serial,
        )
        for p in picked
    ]


def targets_for_selection(
    session: Session,
    *,
    unit_code: str | None,
    position_ids: Sequence,
    asset_ids: Sequence,
    actor,
) -> list[Target]:
    """The labels of the lot rows and serial pieces ticked on a unit's stock page."""
    _unit, picked = pick_selection(
        session, unit_code=unit_code, position_ids=position_ids, asset_ids=asset_ids, actor=actor
    )
    return targets_for_picked(session, picked)


def targets_for_units(session: Session, unit_codes: Sequence, *, actor) -> list[Target]:
    """Every label of the ticked units' stock (shelter sites' relief supplies)."""
    picked = [p for _unit, rows in pick_units(session, unit_codes, actor=actor) for p in rows]
    return targets_for_picked(session, picked)

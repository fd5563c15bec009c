"""Use cases for towns and villages, shelter sites, inspections and coverage."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from readiness import audit, services
from readiness.errors import Conflict, DomainError, NotFound
from readiness.models import Unit
from readiness.permissions import require, unit_ids_below
from shelters.models import (
    CHECK_RESULTS,
    CHECKLIST,
    LEVEL_MIN_CAPACITY,
    LEVELS,
    STATUSES,
    STRUCTURES,
    VILLAGE_KINDS,
    Defect,
    Inspection,
    Shelter,
    Village,
    shelter_villages,
)

NAME_MAX = 100
VILLAGE_NAME_MAX = 60
TEXT_MAX = 2000
PERSON_MAX = 60
PHONE_MAX = 40
ADDRESS_MAX = 200
POPULATION_MAX = 10_000_000
CAPACITY_MAX = 100_000
AREA_MAX = Decimal("1000000")
SUBSIDY_MAX = Decimal("100000000")
SUPPLY_QTY_MAX = 1_000_000
DEFECTS_MAX = 50
# GB 21734: at least 1.5 m² of usable floor per person sheltered.
M2_PER_PERSON = Decimal("1.5")

VILLAGE_FIELDS = ("town_id", "name", "kind", "population", "to_relocate")
SHELTER_FIELDS = (
    "name",
    "town_id",
    "unit_id",
    "address",
    "latitude",
    "longitude",
    "level",
    "capacity",
    "area_m2",
    "structure",
    "is_accessible",
    "has_generator",
    "is_in_floodplain",
    "is_standardized",
    "standardized_on",
    "status",
    "manager_name",
    "manager_phone",
    "contacts",
    "note",
)
INSPECTION_FIELDS = (
    "shelter_id",
    "inspected_on",
    "inspector",
    "checklist",
    "replenished_qty",
    "rotated_qty",
    "subsidy",
    "note",
)


class AlreadyRecorded(Conflict):
    """This form was already submitted: the inspection it recorded is ``inspection_id``."""

    def __init__(self, inspection_id: int | None):
        super().__init__(_("这张表单已经登记过，未重复记录。"))
        self.inspection_id = inspection_id


# ---------------------------------------------------------------- small checks


def _label(name: str) -> str:
    return {
        "name": _("名称"),
        "town": _("所属镇/街道"),
        "village": _("村/社区名称"),
        "population": _("人口"),
        "to_relocate": _("需转移人口"),
        "capacity": _("核定容量"),
        "area_m2": _("可用面积"),
        "address": _("地址"),
        "manager_name": _("管理员"),
        "manager_phone": _("联系电话"),
        "contacts": _("其他联系人"),
        "note": _("备注"),
        "inspector": _("检查人"),
        "text": _("问题描述"),
        "resolution": _("整改情况"),
        "replenished_qty": _("补充物资件数"),
        "rotated_qty": _("轮换过期物资件数"),
        "subsidy": _("补助资金"),
        "latitude": _("纬度"),
        "longitude": _("经度"),
    }.get(name, name)


def _text(value, name: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    value = value.strip()
    if required and not value:
        raise DomainError(_("请填写{field}。").format(field=_label(name)), field=name)
    if len(value) > limit:
        raise DomainError(
            _("{field}不能超过 {n} 个字。").format(field=_label(name), n=limit), field=name
        )
    return value


def _whole(value, name: str, maximum: int) -> int:
    """A whole number 0..maximum; digits in a string are accepted (forms, imported files)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store whole numbers as floats
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_("{field}必须是整数。").format(field=_label(name)), field=name)
    if value < 0:
        raise DomainError(_("{field}不能为负数。").format(field=_label(name)), field=name)
    if value > maximum:
        raise DomainError(
            _("{field}不能超过 {n}。").format(field=_label(name), n=f"{maximum:,}"), field=name
        )
    return value


def _decimal(value, name: str, *, places: int, maximum: Decimal, minimum=Decimal(0)):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name) from None
    if not number.is_finite():
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name)
    if number < minimum:
        raise DomainError(_("{field}不能为负数。").format(field=_label(name)), field=name)
    if number > maximum:
        raise DomainError(_("{field}数值过大。").format(field=_label(name)), field=name)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(
            _("{field}最多 {n} 位小数。").format(field=_label(name), n=places), field=name
        )
    return number.quantize(Decimal(1).scaleb(-places))


def _coordinate(value, name: str, limit: int) -> Decimal | None:
    number = _decimal(value, name, places=6, maximum=Decimal(limit), minimum=Decimal(-limit))
    return number


def _past_date(value, name: str, today: date, label: str) -> date:
    if not isinstance(value, date):
        raise DomainError(_("请填写{field}。").format(field=label), field=name)
    if value > today:
        raise DomainError(_("{field}不能晚于今天。").format(field=label), field=name)
    if value.year < 1950:
        raise DomainError(_("{field}不正确。").format(field=label), field=name)
    return value


def parse_target(raw, default: float) -> Decimal:
    """The coverage target as a fraction: '0.6', '60%' or '60' all mean 60%."""
    if raw is None or raw == "":
        raw = default
    text = str(raw).strip().rstrip("%")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise DomainError(
            _("覆盖率目标必须是 0 到 1 之间的小数（如 0.6）。"), field="target"
        ) from None
    if value.is_finite() and value > 1 and value <= 100:
        value = value / 100
    if not value.is_finite() or not 0 < value <= 1:
        raise DomainError(_("覆盖率目标必须是 0 到 1 之间的小数（如 0.6）。"), field="target")
    return value


# ---------------------------------------------------------------- towns and villages


def get_town(session: Session, code: str) -> Unit:
    """The town (镇/街道) with this code, or NotFound."""
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or unit.kind != "town":
        raise NotFound(_("镇/街道代码 {code} 不存在。").format(code=str(code)[:32]), field="town")
    return unit


def towns(session: Session, unit_ids: set[int] | None = None) -> list[Unit]:
    """Towns in reach, by code."""
    stmt = select(Unit).where(Unit.kind == "town").order_by(Unit.code)
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class VillageInput:
    name: str
    population: int | str
    to_relocate: int | str
    kind: str = "village"


def _check_village(raw: VillageInput) -> VillageInput:
    name = _text(raw.name, "village", VILLAGE_NAME_MAX, required=True)
    population = _whole(raw.population, "population", POPULATION_MAX)
    to_relocate = _whole(raw.to_relocate, "to_relocate", POPULATION_MAX)
    if to_relocate > population:
        raise DomainError(
            _("{name}：需转移人口 {n} 超过了人口 {p}。").format(
                name=name, n=to_relocate, p=population
            ),
            field="to_relocate",
        )
    kind = raw.kind or "village"
    if kind not in VILLAGE_KINDS:
        raise DomainError(_("类型只能是“村”或“社区”。"), field="kind")
    return VillageInput(name, population, to_relocate, kind)


@dataclass
class TownSaved:
    town: Unit
    is_new: bool
    added: int = 0
    changed: int = 0


def save_town(
    session: Session,
    *,
    code: str,
    name: str,
    villages: Sequence[VillageInput] = (),
    parent: Unit | None = None,
    actor,
) -> TownSaved:
    """Create a town (or find it by code) and add or update its villages by name.
    Villages not named are left as they are."""
    require(session, actor, "places.manage")
    code = (code or "").strip() if isinstance(code, str) else code
    if not isinstance(code, str) or not code:
        raise DomainError(_("请填写镇/街道代码。"), field="code")
    checked = [_check_village(v) for v in villages]
    seen: set[str] = set()
    for v in checked:
        if v.name in seen:
            raise DomainError(_("村/社区 {name} 重复出现。").format(name=v.name), field="villages")
        seen.add(v.name)
    town = session.scalar(select(Unit).where(func.lower(Unit.code) == code.lower()))
    is_new = town is None
    if town is None:
        if parent is None and getattr(actor, "unit_id", None):
            parent = session.get(Unit, actor.unit_id)
        town = services.create_unit(
            session,
            code=code,
            name=name,
            kind="town",
            parent=parent,
            headcount=0,
            actor=actor,
            permission="places.manage",
        )
    elif town.kind != "town":
        raise Conflict(
            _("代码 {code} 已被 {name} 使用，它不是镇/街道。").format(
                code=town.code, name=town.name
            ),
            field="code",
        )
    elif (name or "").strip() and name.strip() != town.name:
        services.update_unit(
            session,
            town,
            name=name.strip(),
            kind="town",
            parent=town.parent,
            headcount=town.headcount,
            actor=actor,
            permission="places.manage",
        )
    result = TownSaved(town, is_new)
    existing = {
        v.name: v for v in session.scalars(select(Village).where(Village.town_id == town.id))
    }
    for v in checked:
        row = existing.get(v.name)
        if row is None:
            row = Village(
                town_id=town.id,
                name=v.name,
                kind=v.kind,
                population=v.population,
                to_relocate=v.to_relocate,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor,
                "village.create",
                row,
                unit_id=town.id,
                after=audit.snapshot(row, VILLAGE_FIELDS),
            )
            result.added += 1
        elif (row.kind, row.population, row.to_relocate) != (v.kind, v.population, v.to_relocate):
            before = audit.snapshot(row, VILLAGE_FIELDS)
            row.kind, row.population, row.to_relocate = v.kind, v.population, v.to_relocate
            session.flush()
            audit.record(
                session,
                actor,
                "village.update",
                row,
                unit_id=town.id,
                before=before,
                after=audit.snapshot(row, VILLAGE_FIELDS),
            )
            result.changed += 1
    return result


def update_village(
    session: Session,
    village: Village,
    *,
    name: str,
    kind: str,
    population,
    to_relocate,
    actor,
) -> Village:
    """Correct a village's name, kind or population figures."""
    require(session, actor, "places.manage")
    v = _check_village(VillageInput(name, population, to_relocate, kind))
    clash = session.scalar(
        select(Village.id).where(
            Village.town_id == village.town_id, Village.name == v.name, Village.id != village.id
        )
    )
    if clash is not None:
        raise Conflict(_("本镇/街道已有名为 {name} 的村/社区。").format(name=v.name), field="name")
    before = audit.snapshot(village, VILLAGE_FIELDS)
    village.name, village.kind = v.name, v.kind
    village.population, village.to_relocate = v.population, v.to_relocate
    session.flush()
    audit.record(
        session,
        actor,
        "village.update",
        village,
        unit_id=village.town_id,
        before=before,
        after=audit.snapshot(village, VILLAGE_FIELDS),
    )
    return village


def villages_of(session: Session, town: Unit) -> list[Village]:
    return list(
        session.scalars(
            select(Village)
            .where(Village.town_id == town.id)
            .options(selectinload(Village.shelters))
            .order_by(Village.name)
        )
    )


# ---------------------------------------------------------------- shelter sites


@dataclass
class ShelterInput:
    name: str
    town: Unit
    level: str = "village"
    capacity: int | str = 0
    area_m2: Decimal | str | None = None
    address: str = ""
    latitude: Decimal | str | None = None
    longitude: Decimal | str | None = None
    structure: str = "frame"
    is_accessible: bool = False
    has_generator: bool = False
    is_in_floodplain: bool = False
    is_standardized: bool = False
    standardized_on: date | None = None
    status: str = "active"
    manager_name: str = ""
    manager_phone: str = ""
    contacts: str = ""
    note: str = ""
    villages: Sequence[Village | str] = field(default_factory=list)


def area_capacity(area_m2: Decimal | None) -> int | None:
    """People the floor area allows at 1.5 m² each (GB 21734), rounded down."""
    if area_m2 is None:
        return None
    return int((Decimal(area_m2) / M2_PER_PERSON).to_integral_value(rounding=ROUND_FLOOR))


def shelter_warnings(shelter: Shelter) -> list[str]:
    """What an inspector would question about the site's figures (not refused: surveys differ)."""
    out = []
    allowed = area_capacity(shelter.area_m2)
    if allowed is not None and shelter.capacity > allowed:
        out.append(
            _(
                "核定容量 {capacity} 人超过了面积允许的 {allowed} 人"
                "（{area} m² ÷ 1.5 m²/人，GB 21734）。"
            ).format(capacity=shelter.capacity, allowed=allowed, area=shelter.area_m2)
        )
    floor = LEVEL_MIN_CAPACITY.get(shelter.level, 0)
    if shelter.is_standardized and shelter.capacity < floor:
        out.append(
            _("{level}规范化场所的容量应不少于 {floor} 人，现为 {capacity} 人。").format(
                level=shelter.level_label, floor=floor, capacity=shelter.capacity
            )
        )
    if shelter.is_in_floodplain and shelter.status == "active":
        out.append(_("场所位于洪涝淹没区，汛期需确认不受淹。"))
    return out


def _resolve_villages(session: Session, town: Unit, raw: Iterable[Village | str]) -> list[Village]:
    out: dict[int, Village] = {}
    names = [v for v in raw if not isinstance(v, Village)]
    by_name = {}
    if names:
        by_name = {
            v.name: v
            for v in session.scalars(
                select(Village).where(Village.town_id == town.id, Village.name.in_(names))
            )
        }
    for v in raw:
        if isinstance(v, Village):
            if v.town_id != town.id:
                raise DomainError(
                    _("{name} 不属于 {town}。").format(name=v.name, town=town.name),
                    field="villages",
                )
            out[v.id] = v
            continue
        if not isinstance(v, str):
            raise DomainError(_("服务的村/社区必须是名称列表。"), field="villages")
        found = by_name.get(v.strip())
        if found is None:
            raise DomainError(
                _("{town} 没有名为 {name} 的村/社区。").format(town=town.name, name=v[:60]),
                field="villages",
            )
        out[found.id] = found
    return list(out.values())


def _apply(session: Session, shelter: Shelter, data: ShelterInput, today: date) -> None:
    town = data.town
    if town is None or town.kind != "town":
        raise DomainError(_("请选择所属镇/街道。"), field="town")
    if not town.is_active:
        raise DomainError(_("镇/街道 {name} 已停用。").format(name=town.name), field="town")
    if data.level not in LEVELS:
        raise DomainError(_("场所级别只能是县级、乡镇级或村级。"), field="level")
    if data.status not in STATUSES:
        raise DomainError(_("未知的场所状态。"), field="status")
    if data.structure not in STRUCTURES:
        raise DomainError(_("未知的建筑结构。"), field="structure")
    for name in ("is_accessible", "has_generator", "is_in_floodplain", "is_standardized"):
        if not isinstance(getattr(data, name), bool):
            raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    standardized_on = None
    if data.is_standardized:
        if data.standardized_on is None:
            raise DomainError(_("规范化场所请填写验收日期。"), field="standardized_on")
        standardized_on = _past_date(data.standardized_on, "standardized_on", today, _("验收日期"))
        if data.status in ("planned", "construction"):
            raise DomainError(
                _("规划中或在建的场所不能标记为已规范化验收。"), field="is_standardized"
            )
    name = _text(data.name, "name", NAME_MAX, required=True)
    clash = session.scalar(
        select(Shelter.id).where(
            Shelter.town_id == town.id,
            Shelter.name == name,
            Shelter.id != (shelter.id or 0),
        )
    )
    if clash is not None:
        raise Conflict(
            _("{town} 已有名为 {name} 的场所。").format(town=town.name, name=name), field="name"
        )
    villages = _resolve_villages(session, town, data.villages)
    shelter.name = name
    shelter.town_id = town.id
    shelter.town = town
    shelter.level = data.level
    shelter.capacity = _whole(data.capacity, "capacity", CAPACITY_MAX)
    shelter.area_m2 = _decimal(data.area_m2, "area_m2", places=1, maximum=AREA_MAX)
    shelter.address = _text(data.address, "address", ADDRESS_MAX)
    shelter.latitude = _coordinate(data.latitude, "latitude", 90)
    shelter.longitude = _coordinate(data.longitude, "longitude", 180)
    if (shelter.latitude is None) != (shelter.longitude is None):
        raise DomainError(_("经纬度请同时填写，或都不填。"), field="latitude")
    shelter.structure = data.structure
    shelter.is_accessible = data.is_accessible
    shelter.has_generator = data.has_generator
    shelter.is_in_floodplain = data.is_in_floodplain
    shelter.is_standardized = data.is_standardized
    shelter.standardized_on = standardized_on
    shelter.status = data.status
    shelter.manager_name = _text(data.manager_name, "manager_name", PERSON_MAX)
    shelter.manager_phone = _text(data.manager_phone, "manager_phone", PHONE_MAX)
    shelter.contacts = _text(data.contacts, "contacts", TEXT_MAX)
    shelter.note = _text(data.note, "note", TEXT_MAX)
    shelter.villages = villages


def _sync_unit(session: Session, shelter: Shelter, actor) -> None:
    """An active site holds stock as a unit of kind 'shelter' under its town; its
    headcount is the rated capacity, so the shelter standard scales with the people it takes."""
    unit = shelter.unit
    if unit is None:
        if shelter.status != "active":
            return
        unit = services.create_unit(
            session,
            code=f"{shelter.town.code[:24]}-S{shelter.id:03d}",
            name=shelter.name[:100],
            kind="shelter",
            parent=shelter.town,
            headcount=shelter.capacity,
            actor=actor,
            permission="shelters.write",
        )
        shelter.unit = unit
        session.flush()
        return
    if (unit.name, unit.headcount, unit.parent_id) != (
        shelter.name,
        shelter.capacity,
        shelter.town_id,
    ):
        services.update_unit(
            session,
            unit,
            name=shelter.name,
            kind="shelter",
            parent=shelter.town,
            headcount=shelter.capacity,
            actor=actor,
            permission="shelters.write",
        )
    want_active = shelter.status != "closed"
    if unit.is_active != want_active:
        services.set_unit_active(
            session, unit, want_active, actor=actor, permission="shelters.write"
        )


def create_shelter(session: Session, data: ShelterInput, *, actor, today: date | None = None):
    """Register a shelter site in a town (an active one becomes a stock-holding unit)."""
    require(session, actor, "shelters.write", data.town)
    shelter = Shelter(created_by_id=getattr(actor, "id", None))
    _apply(session, shelter, data, today or date.today())
    session.add(shelter)
    session.flush()
    _sync_unit(session, shelter, actor)
    audit.record(
        session,
        actor,
        "shelter.create",
        shelter,
        unit_id=shelter.town_id,
        after=_snapshot(shelter),
    )
    return shelter


def _snapshot(shelter: Shelter) -> dict:
    out = audit.snapshot(shelter, SHELTER_FIELDS)
    out["villages"] = sorted(v.name for v in shelter.villages)
    return out


def update_shelter(
    session: Session,
    shelter: Shelter,
    data: ShelterInput,
    *,
    actor,
    expected_version: int | None = None,
    today: date | None = None,
) -> Shelter:
    """Change a site's facts, status or the villages it serves."""
    require(session, actor, "shelters.write", shelter.town_id)
    require(session, actor, "shelters.write", data.town)
    if expected_version is not None and shelter.version != expected_version:
        raise Conflict(_("该记录已被他人修改，请刷新页面后重新操作。"))
    before = _snapshot(shelter)
    _apply(session, shelter, data, today or date.today())
    session.flush()
    _sync_unit(session, shelter, actor)
    after = _snapshot(shelter)
    if after != before:
        audit.record(
            session,
            actor,
            "shelter.update",
            shelter,
            unit_id=shelter.town_id,
            before=before,
            after=after,
        )
    return shelter


def get_shelter(session: Session, shelter_id: int, actor) -> Shelter:
    """The site, if it exists and is in the actor's reach (else NotFound, telling nothing)."""
    shelter = session.get(Shelter, shelter_id)
    if shelter is None or not _visible(session, actor, shelter.town_id):
        raise NotFound(_("避灾安置场所第 {id} 号不存在。").format(id=shelter_id))
    return shelter


def _visible(session: Session, actor, unit_id: int) -> bool:
    reach = services.visible_unit_ids(session, actor)
    return reach is None or unit_id in reach


# ---------------------------------------------------------------- inspections


@dataclass(frozen=True)
class DefectInput:
    text: str
    is_resolved: bool = False


def record_inspection(
    session: Session,
    shelter: Shelter,
    *,
    inspected_on: date,
    inspector: str = "",
    checklist: dict[str, str] | None = None,
    defects: Sequence[DefectInput] = (),
    replenished_qty=0,
    rotated_qty=0,
    subsidy=0,
    note: str = "",
    request_key: str | None = None,
    actor,
    today: date | None = None,
) -> Inspection:
    """Record an inspection: checklist, defects found (open ones mark the site as needing
    attention), supplies replenished and expired stock rotated, subsidy paid."""
    require(session, actor, "shelters.write", shelter.town_id)
    if request_key:
        earlier = session.scalar(select(Inspection.id).where(Inspection.request_key == request_key))
        if earlier is not None:
            raise AlreadyRecorded(earlier)
    today = today or date.today()
    if shelter.status == "closed":
        raise Conflict(_("已关闭的场所不能再登记检查。"))
    inspected_on = _past_date(inspected_on, "inspected_on", today, _("检查日期"))
    checklist = checklist or {}
    if not isinstance(checklist, dict):
        raise DomainError(_("检查项格式不正确。"), field="checklist")
    unknown = sorted(set(checklist) - set(CHECKLIST))
    if unknown:
        raise DomainError(
            _("未知的检查项：{names}。").format(names=", ".join(map(str, unknown))[:200]),
            field="checklist",
        )
    results = {}
    for key in CHECKLIST:
        value = checklist.get(key) or "na"
        if value not in CHECK_RESULTS:
            raise DomainError(
                _("检查项 {name} 的结果只能是合格、不合格或不适用。").format(name=CHECKLIST[key]),
                field="checklist",
            )
        results[key] = value
    if len(defects) > DEFECTS_MAX:
        raise DomainError(_("一次检查最多登记 {n} 个问题。").format(n=DEFECTS_MAX), field="defects")
    checked_defects = []
    for n, d in enumerate(defects, start=1):
        if not isinstance(d.is_resolved, bool):
            raise DomainError(
                _("第 {n} 个问题：是否已整改必须是是或否。").format(n=n), field="defects"
            )
        try:
            text = _text(d.text, "text", TEXT_MAX, required=True)
        except DomainError as err:
            raise DomainError(
                _("第 {n} 个问题：{message}").format(n=n, message=err.message), field="defects"
            ) from None
        checked_defects.append((text, d.is_resolved))
    inspection = Inspection(
        shelter=shelter,
        inspected_on=inspected_on,
        inspector=_text(inspector, "inspector", PERSON_MAX)
        or getattr(actor, "display_name", "")[:PERSON_MAX],
        checklist=results,
        replenished_qty=_whole(replenished_qty, "replenished_qty", SUPPLY_QTY_MAX),
        rotated_qty=_whole(rotated_qty, "rotated_qty", SUPPLY_QTY_MAX),
        subsidy=_decimal(subsidy, "subsidy", places=2, maximum=SUBSIDY_MAX) or Decimal("0.00"),
        note=_text(note, "note", TEXT_MAX),
        request_key=(request_key or None) and str(request_key)[:64],
        recorded_by_id=getattr(actor, "id", None),
    )
    session.add(inspection)
    try:
        session.flush()
    except IntegrityError:  # the same form, submitted at the same moment
        raise AlreadyRecorded(None) from None
    for text, resolved in checked_defects:
        inspection.defects.append(
            Defect(
                shelter=shelter,
                text=text,
                is_resolved=resolved,
                resolved_on=inspected_on if resolved else None,
                # no text: the page says "repaired on the spot" in the reader's language
                resolution="",
                resolved_by_id=getattr(actor, "id", None) if resolved else None,
            )
        )
    session.flush()
    after = audit.snapshot(inspection, INSPECTION_FIELDS)
    after["defects"] = [{"text": t, "is_resolved": r} for t, r in checked_defects]
    audit.record(
        session,
        actor,
        "shelter.inspect",
        inspection,
        unit_id=shelter.town_id,
        after=after,
        summary=shelter.name,
    )
    return inspection


def resolve_defect(
    session: Session,
    defect: Defect,
    *,
    resolution: str,
    resolved_on: date | None = None,
    actor,
    today: date | None = None,
) -> Defect:
    """Mark a defect as repaired, saying what was done."""
    require(session, actor, "shelters.write", defect.shelter.town_id)
    today = today or date.today()
    if defect.is_resolved:
        raise Conflict(_("该问题已于 {on} 整改。").format(on=defect.resolved_on.isoformat()))
    resolution = _text(resolution, "resolution", TEXT_MAX, required=True)
    resolved_on = _past_date(resolved_on or today, "resolved_on", today, _("整改日期"))
    if resolved_on < defect.inspection.inspected_on:
        raise DomainError(_("整改日期不能早于发现问题的检查日期。"), field="resolved_on")
    before = audit.snapshot(defect, ("is_resolved", "resolved_on", "resolution"))
    defect.is_resolved = True
    defect.resolved_on = resolved_on
    defect.resolution = resolution
    defect.resolved_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.defect_resolve",
        defect,
        unit_id=defect.shelter.town_id,
        before=before,
        after=audit.snapshot(defect, ("is_resolved", "resolved_on", "resolution")),
        summary=defect.text[:200],
    )
    return defect


# ---------------------------------------------------------------- site state and lists


@dataclass(frozen=True)
class SiteState:
    last_inspected_on: date | None
    open_defects: int
    failed_items: tuple[str, ...]
    is_overdue: bool

    @property
    def needs_attention(self) -> bool:
        return self.open_defects > 0


def site_state(
    status: str,
    last_inspection: Inspection | None,
    open_defects: int,
    *,
    today: date,
    interval_days: int,
) -> SiteState:
    """Needs attention while any defect is open; an active site is overdue when it has never
    been inspected or its last inspection is older than the interval."""
    last_on = last_inspection.inspected_on if last_inspection else None
    overdue = status == "active" and (
        last_on is None or last_on < today - timedelta(days=interval_days)
    )
    failed = tuple(last_inspection.failed_items) if last_inspection else ()
    return SiteState(last_on, open_defects, failed, overdue)


def site_states(
    session: Session, shelters: Sequence[Shelter], *, today: date, interval_days: int
) -> dict[int, SiteState]:
    """The state of many sites in two queries."""
    ids = [s.id for s in shelters]
    if not ids:
        return {}
    # newest by (date, id) per site
    last: dict[int, Inspection] = {}
    for ins in session.scalars(
        select(Inspection)
        .where(Inspection.shelter_id.in_(ids))
        .order_by(Inspection.shelter_id, Inspection.inspected_on, Inspection.id)
    ):
        last[ins.shelter_id] = ins
    open_counts = dict(
        session.execute(
            select(Defect.shelter_id, func.count())
            .where(Defect.shelter_id.in_(ids), Defect.is_resolved.is_(False))
            .group_by(Defect.shelter_id)
        ).all()
    )
    return {
        s.id: site_state(
            s.status,
            last.get(s.id),
            open_counts.get(s.id, 0),
            today=today,
            interval_days=interval_days,
        )
        for s in shelters
    }


def shelters_query(
    *,
    unit_ids: set[int] | None = None,
    town: Unit | None = None,
    status: str | None = None,
    is_standardized: bool | None = None,
) -> Select:
    """Sites matching the filters, by town then name."""
    stmt = (
        select(Shelter)
        .join(Unit, Unit.id == Shelter.town_id)
        .options(
            selectinload(Shelter.villages),
            selectinload(Shelter.town),
            selectinload(Shelter.unit),
        )
        .order_by(Unit.code, Shelter.name)
    )
    if unit_ids is not None:
        stmt = stmt.where(Shelter.town_id.in_(unit_ids))
    if town is not None:
        stmt = stmt.where(Shelter.town_id == town.id)
    if status:
        stmt = stmt.where(Shelter.status == status)
    if is_standardized is not None:
        stmt = stmt.where(Shelter.is_standardized.is_(is_standardized))
    return stmt


def needs_attention():
    """SQL form of SiteState.needs_attention: the site has an unresolved defect."""
    return Shelter.id.in_(select(Defect.shelter_id).where(Defect.is_resolved.is_(False)))


def is_overdue(*, today: date, interval_days: int):
    """SQL form of SiteState.is_overdue: active, and no inspection within the interval."""
    recent = select(Inspection.shelter_id).where(
        Inspection.inspected_on >= today - timedelta(days=interval_days)
    )
    return (Shelter.status == "active") & Shelter.id.not_in(recent)


def attention_query(unit_ids: set[int] | None = None) -> Select:
    """Sites with at least one unresolved defect."""
    return shelters_query(unit_ids=unit_ids).where(needs_attention())


# ---------------------------------------------------------------- coverage


@dataclass(frozen=True)
class SiteFacts:
    """What coverage needs of a site: pure data, so the rule is testable without a database."""

    id: int
    town_id: int
    capacity: int
    counts: bool  # active and standardized
    village_ids: frozenset[int]
    name: str = ""


@dataclass(frozen=True)
class VillageFacts:
    id: int
    town_id: int
    name: str
    to_relocate: int


class CoverageFigures:
    """The shares and the shortfall, from the counts (a town's or the whole area's)."""

    villages: int
    covered: int
    covered_with_capacity: int
    target: Decimal

    @property
    def coverage(self) -> float:
        return self.covered / self.villages if self.villages else 0.0

    @property
    def capacity_coverage(self) -> float:
        return self.covered_with_capacity / self.villages if self.villages else 0.0

    @property
    def needed(self) -> int:
        return villages_needed(self.target, self.villages, self.covered)


@dataclass
class TownCoverage(CoverageFigures):
    town_id: int
    villages: int
    covered: int
    covered_with_capacity: int
    capacity: int
    to_relocate: int
    uncovered: list[str]
    target: Decimal
    town: Unit | None = None

    @property
    def meets_target(self) -> bool:
        return self.villages > 0 and self.needed == 0


@dataclass
class Candidate:
    """A site that does not count yet, and how many uncovered villages it would cover."""

    shelter_id: int
    name: str
    town_id: int
    would_cover: int


@dataclass
class CoverageReport(CoverageFigures):
    target: Decimal
    towns: list[TownCoverage]
    candidates: list[Candidate]
    villages: int = 0
    covered: int = 0
    covered_with_capacity: int = 0
    capacity: int = 0
    to_relocate: int = 0

    @property
    def uncovered(self) -> int:
        return self.villages - self.covered


def villages_needed(target: Decimal, villages: int, covered: int) -> int:
    """How many more villages must be covered: max(0, ceil(target × villages) − covered),
    in exact decimals (0.7 × 10 is 7, not 7.000000000000001)."""
    required = math.ceil(Decimal(target) * villages)
    return max(0, required - covered)


def compute_coverage(
    town_ids: Sequence[int],
    villages: Sequence[VillageFacts],
    sites: Sequence[SiteFacts],
    target: Decimal,
) -> CoverageReport:
    """Coverage per town and overall. A village is covered when an active standardized site
    serves it; covered with capacity when such a site also has room for the people to relocate
    of every village it serves."""
    relocate = {v.id: v.to_relocate for v in villages}
    covered: set[int] = set()
    with_capacity: set[int] = set()
    capacity: dict[int, int] = {}
    for s in sites:
        if not s.counts:
            continue
        capacity[s.town_id] = capacity.get(s.town_id, 0) + s.capacity
        served = s.village_ids & relocate.keys()
        covered |= served
        if s.capacity >= sum(relocate[v] for v in served):
            with_capacity |= served
    by_town: dict[int, TownCoverage] = {
        t: TownCoverage(t, 0, 0, 0, capacity.get(t, 0), 0, [], target) for t in town_ids
    }
    for v in sorted(villages, key=lambda v: v.name):
        row = by_town.get(v.town_id)
        if row is None:
            continue
        row.villages += 1
        row.to_relocate += v.to_relocate
        if v.id in covered:
            row.covered += 1
            row.covered_with_capacity += v.id in with_capacity
        else:
            row.uncovered.append(v.name)
    report = CoverageReport(target, list(by_town.values()), [])
    for row in report.towns:
        report.villages += row.villages
        report.covered += row.covered
        report.covered_with_capacity += row.covered_with_capacity
        report.capacity += row.capacity
        report.to_relocate += row.to_relocate
    uncovered_ids = {v.id for v in villages if v.town_id in by_town} - covered
    for s in sites:
        if s.counts or s.town_id not in by_town:
            continue
        gain = len(s.village_ids & uncovered_ids)
        if gain:
            report.candidates.append(Candidate(s.id, s.name, s.town_id, gain))
    report.candidates.sort(key=lambda c: (-c.would_cover, c.name))
    return report


def coverage(
    session: Session,
    target: Decimal,
    *,
    unit_ids: set[int] | None = None,
    town: Unit | None = None,
) -> CoverageReport:
    """The coverage report for the towns in reach (or one town), in four queries."""
    stmt = select(Unit).where(Unit.kind == "town", Unit.is_active.is_(True)).order_by(Unit.code)
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    if town is not None:
        stmt = stmt.where(Unit.id == town.id)
    town_rows = list(session.scalars(stmt))
    ids = [t.id for t in town_rows]
    villages = [
        VillageFacts(*row)
        for row in session.execute(
            select(Village.id, Village.town_id, Village.name, Village.to_relocate).where(
                Village.town_id.in_(ids)
            )
        )
    ]
    served: dict[int, set[int]] = {}
    for shelter_id, village_id in session.execute(
        select(shelter_villages.c.shelter_id, shelter_villages.c.village_id)
        .join(Shelter, Shelter.id == shelter_villages.c.shelter_id)
        .where(Shelter.town_id.in_(ids))
    ):
        served.setdefault(shelter_id, set()).add(village_id)
    sites = [
        SiteFacts(
            sid,
            town_id,
            cap,
            status == "active" and bool(std),
            frozenset(served.get(sid, ())),
            name,
        )
        for sid, town_id, cap, status, std, name in session.execute(
            select(
                Shelter.id,
                Shelter.town_id,
                Shelter.capacity,
                Shelter.status,
                Shelter.is_standardized,
                Shelter.name,
            ).where(Shelter.town_id.in_(ids), Shelter.status != "closed")
        )
    ]
    report = compute_coverage(ids, villages, sites, target)
    towns_by_id = {t.id: t for t in town_rows}
    for row in report.towns:
        row.town = towns_by_id[row.town_id]
    return report


def scope_for(session: Session, actor, unit_code: str | None) -> set[int] | None:
    """The unit ids a report covers: the actor's reach, narrowed to a unit's subtree."""
    reach = services.visible_unit_ids(session, actor)
    if not unit_code:
        return reach
    unit = services.get_unit(session, unit_code)
    below = unit_ids_below(session, unit.id)
    return below if reach is None else below & reach

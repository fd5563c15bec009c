"""Use cases for shelter sites, and the state and lists of sites that pages and reports show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from readiness import audit, paging, services
from readiness.checks import check_past_date
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import Unit
from readiness.permissions import SystemActor, require
from rectification.models import CorrectiveAction
from rectification.visits import CLOSED
from shelters import acceptance
from shelters.checks import (
    PERSON_MAX,
    TEXT_MAX,
    _coordinate,
    _decimal,
    _text,
    _whole,
)
from shelters.models import (
    LEVEL_MIN_CAPACITY,
    LEVELS,
    STATUSES,
    STRUCTURES,
    Defect,
    Inspection,
    Shelter,
    Village,
)

NAME_MAX = 100
PHONE_MAX = 40
ADDRESS_MAX = 200
CAPACITY_MAX = 100_000
AREA_MAX = Decimal("1000000")
# GB 21734: at least 1.5 m² of usable floor per person sheltered.
M2_PER_PERSON = Decimal("1.5")

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
    # Not for the form or the API to set: a site becomes standardized only by an acceptance
    # (shelters.acceptance). None is "not sent"; the system (command line, demo, fixtures)
    # may register a site already accepted, which records an acceptance by the system.
    is_standardized: bool | None = None
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
    raw = list(raw)
    names = [v for v in raw if not isinstance(v, Village)]
    # Checked before the query: PostgreSQL refuses a number compared with a name (a 500).
    if any(not isinstance(v, str) for v in names):
        raise DomainError(_("服务的村/社区必须是名称列表。"), field="villages")
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
    for name in ("is_accessible", "has_generator", "is_in_floodplain"):
        if not isinstance(getattr(data, name), bool):
            raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    if shelter.is_standardized and data.status in ("planned", "construction"):
        raise DomainError(
            _("已通过规范化验收的场所不能改为规划中或在建；请先撤销验收。"), field="status"
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


def _standardized_change(shelter: Shelter, data: ShelterInput) -> bool:
    """Whether the input would change the site's acceptance (sending it as it is is not)."""
    flag = data.is_standardized
    if flag is not None and not isinstance(flag, bool):
        raise DomainError(
            _("字段 {name} 的类型不正确。").format(name="is_standardized"), field="is_standardized"
        )
    if flag is not None and flag != bool(shelter.is_standardized):
        return True
    return data.standardized_on is not None and data.standardized_on != shelter.standardized_on


def refuse_standardized_change(shelter: Shelter, data: ShelterInput, actor) -> None:
    """A site becomes standardized only by command staff's acceptance: a town's clerk who
    sends the flag is refused (403), command staff are pointed to the acceptance (422)."""
    if not _standardized_change(shelter, data):
        return
    if actor is None or getattr(actor, "role", None) != "command":
        raise PermissionDenied(
            _("场所是否规范化由指挥人员验收后确定，镇街不能自行标记。"), field="is_standardized"
        )
    raise DomainError(
        _("场所是否规范化不能在登记或修改时填写：请在场所页面“规范化验收”中验收或撤销验收。"),
        field="is_standardized",
    )


def create_shelter(session: Session, data: ShelterInput, *, actor, today: date | None = None):
    """Register a shelter site in a town (an active one becomes a stock-holding unit)."""
    require(session, actor, "shelters.write", data.town)
    today = today or date.today()
    shelter = Shelter(created_by_id=getattr(actor, "id", None))
    # the system may register a site accepted before it came onto the system
    system_accepts = isinstance(actor, SystemActor) and bool(data.is_standardized)
    if system_accepts:
        if data.is_standardized is not True:
            raise DomainError(
                _("字段 {name} 的类型不正确。").format(name="is_standardized"),
                field="is_standardized",
            )
        if data.standardized_on is None:
            raise DomainError(_("请填写验收日期。"), field="standardized_on")
        check_past_date(data.standardized_on, "standardized_on", today=today, label=_("验收日期"))
    else:
        refuse_standardized_change(shelter, data, actor)
    _apply(session, shelter, data, today)
    session.add(shelter)
    session.flush()
    _sync_unit(session, shelter, actor)
    if system_accepts:
        acceptance.accept_shelter(
            session,
            shelter,
            accepted_on=data.standardized_on,
            note="",
            actor=actor,
            today=today,
        )
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
    refuse_standardized_change(shelter, data, actor)
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
            .outerjoin(CorrectiveAction, CorrectiveAction.id == Defect.action_id)
            .where(Defect.shelter_id.in_(ids), defect_is_open())
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


# Sites by town, then name; the id settles sites of one name.
SHELTER_ORDER = paging.Order(
    "shelters",
    paging.Key(str, Unit.code),
    paging.Key(str, Shelter.name),
    paging.Key(int, Shelter.id),
)


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
            # a site's state reads its acceptances: with the sites, not one query each
            selectinload(Shelter.acceptances),
        )
        .order_by(Unit.code, Shelter.name, Shelter.id)
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


def defect_is_open():
    """SQL form of Defect.is_open (with corrective_actions outer-joined): its action is not
    closed (verified or cancelled); an old defect without an action: not reported fixed."""
    return or_(
        and_(Defect.action_id.is_not(None), CorrectiveAction.status.not_in(CLOSED)),
        and_(Defect.action_id.is_(None), Defect.is_resolved.is_(False)),
    )


def needs_attention():
    """SQL form of SiteState.needs_attention: a defect of the site is still open."""
    return Shelter.id.in_(
        select(Defect.shelter_id)
        .outerjoin(CorrectiveAction, CorrectiveAction.id == Defect.action_id)
        .where(defect_is_open())
    )


def is_overdue(*, today: date, interval_days: int):
    """SQL form of SiteState.is_overdue: active, and no inspection within the interval."""
    recent = select(Inspection.shelter_id).where(
        Inspection.inspected_on >= today - timedelta(days=interval_days)
    )
    return (Shelter.status == "active") & Shelter.id.not_in(recent)


def attention_query(unit_ids: set[int] | None = None) -> Select:
    """Sites with at least one unresolved defect."""
    return shelters_query(unit_ids=unit_ids).where(needs_attention())

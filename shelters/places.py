"""Use cases for towns (镇/街道) and their villages and communities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from readiness import audit, paging, services
from readiness.errors import Conflict, DomainError, NotFound
from readiness.models import Unit
from readiness.permissions import require
from shelters.checks import _text, _whole
from shelters.models import VILLAGE_KINDS, Acceptance, Shelter, Village, shelter_villages

VILLAGE_NAME_MAX = 60
POPULATION_MAX = 10_000_000

VILLAGE_FIELDS = ("town_id", "name", "kind", "population", "to_relocate")


def get_town(session: Session, code: str) -> Unit:
    """The town (镇/街道) with this code, or NotFound."""
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or unit.kind != "town":
        raise NotFound(_("镇/街道代码 {code} 不存在。").format(code=str(code)[:32]), field="town")
    return unit


def towns(session: Session, unit_ids: set[int] | None = None) -> list[Unit]:
    """Towns in reach, by code."""
    return list(session.scalars(towns_query(unit_ids).order_by(Unit.code)))


def towns_query(unit_ids: set[int] | None = None):
    """Towns in reach (None: all), unordered: see ``TOWN_ORDER``."""
    stmt = select(Unit).where(Unit.kind == "town")
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    return stmt


# Towns by code (unique).
TOWN_ORDER = paging.Order("towns", paging.Key(str, Unit.code))


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


def village_is_covered():
    """SQL: a site that counts serves the village (active, its acceptance in force), as the
    coverage report counts it (shelters.coverage)."""
    counting = select(Shelter.id).where(
        Shelter.status == "active",
        Shelter.id.in_(select(Acceptance.shelter_id).where(Acceptance.status == "accepted")),
    )
    return Village.id.in_(
        select(shelter_villages.c.village_id).where(shelter_villages.c.shelter_id.in_(counting))
    )


def villages_query(town_ids: Sequence[int]):
    """The villages of these towns (those in reach), each with its town and the sites
    serving it loaded with the page, unordered."""
    return (
        select(Village)
        .join(Unit, Unit.id == Village.town_id)
        .where(Village.town_id.in_(list(town_ids)))
        .options(selectinload(Village.town), selectinload(Village.shelters))
    )


def covered_ids(session: Session, village_ids: Sequence[int]) -> set[int]:
    """Which of these villages are covered (one query for a page of them)."""
    if not village_ids:
        return set()
    return set(
        session.scalars(
            select(Village.id).where(Village.id.in_(list(village_ids)), village_is_covered())
        )
    )

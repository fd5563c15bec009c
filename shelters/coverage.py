"""Coverage: the share of villages served by active standardized shelter sites, against a
target, per town and overall."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness import audit, services
from readiness.errors import DomainError
from readiness.models import Unit
from readiness.permissions import parent_map, require, unit_ids_above, unit_ids_below
from shelters.models import Acceptance, CoverageTarget, Shelter, Village, shelter_villages

# How a target is written, for the page's hints (the refusal says the same).
TARGET_HINT = _l("百分数（如 60 或 60%），或 0 到 1 之间的小数（如 0.6）")


def _target_refusal() -> DomainError:
    # one wording for the page's hint and every refusal: both forms are taken
    return DomainError(
        _("覆盖率目标请填写百分数（如 60 或 60%），或 0 到 1 之间的小数（如 0.6）。"),
        field="target",
    )


def parse_target(raw, default: float | Decimal | None = None) -> Decimal:
    """The coverage target as a fraction: '0.6', '60%' or '60' all mean 60%."""
    if raw is None or raw == "":
        raw = default
    if isinstance(raw, bool) or raw is None:
        raise _target_refusal()
    text = str(raw).strip().rstrip("%").strip()
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise _target_refusal() from None
    if value.is_finite() and value > 1 and value <= 100:
        value = value / 100
    if not value.is_finite() or not 0 < value <= 1:
        raise _target_refusal()
    # kept as a fraction with at most four places (72.5% is 0.725)
    if value != value.quantize(Decimal("0.0001")):
        raise _target_refusal()
    return value


@dataclass(frozen=True)
class TargetInForce:
    """The target that applies to a unit, and the unit whose setting it is (None: default)."""

    target: Decimal
    unit: Unit | None = None


def target_in_force(session: Session, unit_id: int | None, default) -> TargetInForce:
    """The nearest target set at the unit or above it; else the configured default."""
    if unit_id is not None:
        above = unit_ids_above(session, unit_id)
        rows = {
            row.unit_id: row
            for row in session.scalars(
                select(CoverageTarget).where(CoverageTarget.unit_id.in_(above))
            )
        }
        for uid in above:
            if uid in rows:
                return TargetInForce(Decimal(rows[uid].target), rows[uid].unit)
    return TargetInForce(parse_target(None, default))


def town_targets(session: Session, town_ids: Sequence[int], default) -> dict[int, Decimal]:
    """The target in force for each town (nearest setting up the tree, else the default)."""
    rows = {row.unit_id: Decimal(row.target) for row in session.scalars(select(CoverageTarget))}
    fallback = parse_target(None, default)
    parents = parent_map(session)  # read once for every town (once per town before: issue 21)
    out = {}
    for town_id in town_ids:
        out[town_id] = next(
            (rows[uid] for uid in unit_ids_above(session, town_id, parents) if uid in rows),
            fallback,
        )
    return out


def set_target(session: Session, unit: Unit | None, raw, *, actor) -> CoverageTarget:
    """Command staff set the coverage target of their unit: it applies below it, unless a
    unit nearer a town sets its own."""
    require(session, actor, "shelters.target", unit)
    if unit is None:
        raise DomainError(_("您没有所属单位，不能设置覆盖率目标。"), field="target")
    value = parse_target(raw)
    row = session.scalar(select(CoverageTarget).where(CoverageTarget.unit_id == unit.id))
    before = None if row is None else {"target": str(Decimal(row.target).normalize())}
    if row is None:
        row = CoverageTarget(unit_id=unit.id, target=value)
        session.add(row)
    row.target = value
    row.set_by_id = getattr(actor, "id", None)
    row.set_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.coverage_target",
        row,
        unit_id=unit.id,
        before=before,
        after={"unit": unit.code, "target": str(value.normalize())},
        summary=unit.name,
    )
    return row


@dataclass(frozen=True)
class SiteFacts:
    """What coverage needs of a site: pure data, so the rule is testable without a database."""

    id: int
    town_id: int
    capacity: int
    counts: bool  # active and accepted (standardized)
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
    town_targets: dict[int, Decimal] | None = None,
) -> CoverageReport:
    """Coverage per town and overall. A village is covered when an active accepted
    (standardized) site serves it; covered with capacity when such a site also has room for
    the people to relocate of every village it serves. A town is measured against its own
    target when ``town_targets`` names one, the whole area against ``target``."""
    town_targets = town_targets or {}
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
        t: TownCoverage(t, 0, 0, 0, capacity.get(t, 0), 0, [], town_targets.get(t, target))
        for t in town_ids
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
    town_targets: dict[int, Decimal] | None = None,
) -> CoverageReport:
    """The coverage report for the towns in reach (or one town), in four queries. Only sites
    whose acceptance is in force count (``Shelter.is_standardized`` is kept by
    shelters.acceptance alone)."""
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
    # counted by its acceptance in force, not by a flag someone could set
    accepted = select(Acceptance.shelter_id).where(Acceptance.status == "accepted")
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
                Shelter.id.in_(accepted),
                Shelter.name,
            ).where(Shelter.town_id.in_(ids), Shelter.status != "closed")
        )
    ]
    report = compute_coverage(ids, villages, sites, target, town_targets)
    towns_by_id = {t.id: t for t in town_rows}
    for row in report.towns:
        row.town = towns_by_id[row.town_id]
    return report


def report_for(
    session: Session,
    unit_ids: set[int] | None,
    *,
    unit_id: int | None,
    default,
    override: Decimal | None = None,
) -> tuple[CoverageReport, TargetInForce]:
    """The coverage report of a scope: each town against the target in force for it, the
    whole against the target of ``unit_id`` (the unit asked about, or the reader's own);
    ``override`` (a "what if" ?target=) replaces them all for this one report."""
    if override is not None:
        return coverage(session, override, unit_ids=unit_ids), TargetInForce(override)
    in_force = target_in_force(session, unit_id, default)
    stmt = select(Unit.id).where(Unit.kind == "town")
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    towns = town_targets(session, list(session.scalars(stmt)), default)
    return coverage(session, in_force.target, unit_ids=unit_ids, town_targets=towns), in_force


def scope_for(session: Session, actor, unit_code: str | None) -> set[int] | None:
    """The unit ids a report covers: the actor's reach, narrowed to a unit's subtree."""
    reach = services.visible_unit_ids(session, actor)
    if not unit_code:
        return reach
    unit = services.get_unit(session, unit_code)
    below = unit_ids_below(session, unit.id)
    return below if reach is None else below & reach

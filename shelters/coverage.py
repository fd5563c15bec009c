"""Coverage: the share of villages served by active standardized shelter sites, against a
target, per town and overall."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session, joinedload

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


@dataclass(frozen=True)
class Targets:
    """Every coverage target set, read once (with the units' parents when any is set), so the
    target in force at any unit is found without another query."""

    rows: dict[int, CoverageTarget]
    parents: dict[int, int | None]
    default: Decimal

    def at(self, unit_id: int | None) -> TargetInForce:
        """The nearest target set at the unit or above it; else the configured default."""
        if unit_id is not None and self.rows:
            for uid in unit_ids_above(None, unit_id, self.parents):
                row = self.rows.get(uid)
                if row is not None:
                    return TargetInForce(Decimal(row.target), row.unit)
        return TargetInForce(self.default)


def read_targets(session: Session, default) -> Targets:
    """The targets of every unit, and the tree to find the nearest one (not read when no unit
    has set a target: everything is then measured against the default)."""
    rows = {
        row.unit_id: row
        for row in session.scalars(select(CoverageTarget).options(joinedload(CoverageTarget.unit)))
    }
    return Targets(rows, parent_map(session) if rows else {}, parse_target(None, default))


def target_in_force(session: Session, unit_id: int | None, default) -> TargetInForce:
    """The nearest target set at the unit or above it; else the configured default."""
    return read_targets(session, default).at(unit_id)


def town_targets(session: Session, town_ids: Sequence[int], default) -> dict[int, Decimal]:
    """The target in force for each town (nearest setting up the tree, else the default)."""
    targets = read_targets(session, default)
    return {town_id: targets.at(town_id).target for town_id in town_ids}


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


def coverage(
    session: Session,
    target: Decimal,
    *,
    unit_ids: set[int] | None = None,
    town: Unit | None = None,
    targets: Targets | None = None,
) -> CoverageReport:
    """Coverage per town and overall, for the towns in reach (or one town). A village is
    covered when a counting site serves it: active, with its acceptance in force
    (``Shelter.is_standardized`` is kept by shelters.acceptance alone, never trusted here);
    covered with capacity when such a site also has room for the people to relocate of every
    village it serves. A town is measured against the target in force for it (``targets``),
    else ``target``; the whole area against ``target``.

    The database does the counting (issue 21: the report is an aggregate of a few thousand
    rows, and reading them into Python cost four times the SQL): the towns with their
    counting sites' capacity, each village's state, and the sites not counting yet that would
    cover villages no counting site does."""
    stmt = _towns()
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    if town is not None:
        stmt = stmt.where(Unit.id == town.id)
    report = CoverageReport(target, [], [])
    by_town: dict[int, TownCoverage] = {}
    for unit, capacity in session.execute(stmt.order_by(Unit.code)):
        town_target = targets.at(unit.id).target if targets is not None else target
        row = TownCoverage(unit.id, 0, 0, 0, int(capacity), 0, [], town_target, unit)
        by_town[unit.id] = row
        report.towns.append(row)
    if not by_town:
        return report
    towns = {"towns": list(by_town)}
    for _vid, town_id, name, to_relocate, covered, roomy in session.execute(
        _village_states(), towns
    ):
        row = by_town[town_id]
        row.villages += 1
        row.to_relocate += to_relocate
        if covered:
            row.covered += 1
            row.covered_with_capacity += roomy
        else:
            row.uncovered.append(name)
    for row in report.towns:
        row.uncovered.sort()
        report.villages += row.villages
        report.covered += row.covered
        report.covered_with_capacity += row.covered_with_capacity
        report.capacity += row.capacity
        report.to_relocate += row.to_relocate
    report.candidates = [Candidate(*row) for row in session.execute(_candidates(), towns)]
    report.candidates.sort(key=lambda c: (-c.would_cover, c.name))
    return report


def _accepted():
    """Sites whose acceptance is in force."""
    return select(Acceptance.shelter_id).where(Acceptance.status == "accepted")


@functools.cache
def _towns():
    """The active towns, each with its places at the sites that count (active, accepted)."""
    capacity = (
        select(func.coalesce(func.sum(Shelter.capacity), 0))
        .where(
            Shelter.town_id == Unit.id,
            Shelter.status == "active",
            Shelter.id.in_(_accepted()),
        )
        .scalar_subquery()
    )
    return select(Unit, capacity).where(Unit.kind == "town", Unit.is_active.is_(True))


# The towns a report covers, bound when it runs: the statements below are built once
# (building them cost as much as running them, issue 21).
TOWNS = bindparam("towns", expanding=True)


def _counting_sites():
    """The sites of the towns that count: active, with their acceptance in force."""
    return (
        select(Shelter.id, Shelter.capacity)
        .where(
            Shelter.town_id.in_(TOWNS),
            Shelter.status == "active",
            Shelter.id.in_(_accepted()),
        )
        .cte("counting")
    )


@functools.cache
def _village_states():
    """Each village of the towns: id, town, name, people to relocate, whether a counting
    site serves it (1/0), and whether one with room for all it serves does (1/0)."""
    served, counting = shelter_villages, _counting_sites()
    # a counting site has room when its places hold everyone of the villages it serves
    load = (
        select(
            counting.c.id,
            case((counting.c.capacity >= func.sum(Village.to_relocate), 1), else_=0).label("roomy"),
        )
        .join(served, served.c.shelter_id == counting.c.id)
        .join(Village, (Village.id == served.c.village_id) & Village.town_id.in_(TOWNS))
        .group_by(counting.c.id, counting.c.capacity)
        .cte("load")
    )
    # the villages counting sites serve (a few hundred), each once
    covered = (
        select(served.c.village_id, func.max(load.c.roomy).label("roomy"))
        .join(load, load.c.id == served.c.shelter_id)
        .group_by(served.c.village_id)
        .cte("covered")
    )
    return (
        select(
            Village.id,
            Village.town_id,
            Village.name,
            Village.to_relocate,
            case((covered.c.village_id.is_(None), 0), else_=1),
            func.coalesce(covered.c.roomy, 0),
        )
        .outerjoin(covered, covered.c.village_id == Village.id)
        .where(Village.town_id.in_(TOWNS))
    )


@functools.cache
def _candidates():
    """Sites of the towns that do not count yet (and are not closed), with how many
    villages no counting site serves each would cover: id, name, town, that number."""
    served, counting = shelter_villages, _counting_sites()
    covered = select(served.c.village_id).join(counting, counting.c.id == served.c.shelter_id)
    return (
        select(Shelter.id, Shelter.name, Shelter.town_id, func.count())
        .join(served, served.c.shelter_id == Shelter.id)
        .join(Village, (Village.id == served.c.village_id) & Village.town_id.in_(TOWNS))
        .where(
            Shelter.town_id.in_(TOWNS),
            Shelter.status != "closed",
            Shelter.id.not_in(select(counting.c.id)),
            Village.id.not_in(covered),
        )
        .group_by(Shelter.id, Shelter.name, Shelter.town_id)
    )


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
    targets = read_targets(session, default)
    in_force = targets.at(unit_id)
    return coverage(session, in_force.target, unit_ids=unit_ids, targets=targets), in_force


def scope_for(session: Session, actor, unit_code: str | None) -> set[int] | None:
    """The unit ids a report covers: the actor's reach, narrowed to a unit's subtree."""
    reach = services.visible_unit_ids(session, actor)
    if not unit_code:
        return reach
    unit = services.get_unit(session, unit_code)
    below = unit_ids_below(session, unit.id)
    return below if reach is None else below & reach

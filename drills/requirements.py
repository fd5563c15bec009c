"""Drill kinds, the drills each unit kind must hold (so many a year or one every so many
days) and the compliance report: per unit and drill kind, held, last held, next due.

Kinds and requirements belong to the unit whose command staff set them and apply to its
subtree. A unit's requirements are the whole set of the nearest unit that keeps one
(itself, then its parent, …, as ``unit_ids_above`` orders them), else the set that
applies everywhere (kept without a unit): a nearer set replaces the farther one whole, so
a bureau can also drop a requirement the level above asks for."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from drills.checks import check_kind, check_text
from drills.models import FAMILIES, Drill, DrillKind, DrillRequirement, drill_units
from readiness import audit, collection_paused
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import require, unit_ids_above, unit_ids_below

# ---------------------------------------------------------------- drill kinds


def drill_kinds(
    session: Session, *, active_only: bool = False, unit_id: int | None = None
) -> dict[str, tuple[str, str]]:
    """Drill kinds in display order: code -> (name in the user's language, family). With
    ``unit_id``, only those offered there: the seeded kinds and those added by the unit or a
    unit above it."""
    stmt = select(DrillKind).order_by(DrillKind.position, DrillKind.code)
    if active_only:
        stmt = stmt.where(DrillKind.is_active)
    if unit_id is not None:
        stmt = stmt.where(_offered_at(session, unit_id))
    return {k.code: (k.label, k.family) for k in session.scalars(stmt)}


def _offered_at(session: Session, unit_id: int):
    return or_(DrillKind.unit_id.is_(None), DrillKind.unit_id.in_(unit_ids_above(session, unit_id)))


def kinds_kept_by(session: Session, actor) -> list[DrillKind]:
    """The drill kinds in force at the actor's unit (seeded ones and those of the units above
    it included), in display order: what the requirements page lists."""
    stmt = select(DrillKind).order_by(DrillKind.position, DrillKind.code)
    unit_id = getattr(actor, "unit_id", None)
    if unit_id is not None:
        stmt = stmt.where(_offered_at(session, unit_id))
    return list(session.scalars(stmt))


def may_change_kind(session: Session, actor, kind: DrillKind) -> bool:
    """A kind belongs to the unit that added it: its command staff (or those above) change
    it. A seeded kind applies everywhere: only from the server's command line or by command
    staff who have no unit (they reach everything)."""
    unit_id = getattr(actor, "unit_id", None)
    if kind.unit_id is None or unit_id is None:
        return unit_id is None
    return kind.unit_id in unit_ids_below(session, unit_id)


def save_drill_kind(
    session: Session, *, code: str, name: str, family: str, is_active: bool = True, actor
) -> DrillKind:
    """Add a drill kind for the actor's unit (offered within its subtree), or rename, re-map
    or retire one the unit keeps (codes never change: the API uses them)."""
    require(session, actor, "drills.requirements")
    code = (code or "").strip() if isinstance(code, str) else ""
    if not code or len(code) > 30 or not code.isascii() or not code.replace("_", "").isalnum():
        raise DomainError(_("类型代码只能用英文字母、数字和下划线，最多 30 个字符。"), field="code")
    name = check_text(name, "name", limit=60)
    if family not in FAMILIES:
        raise DomainError(_("请选择演练类别（通用分类）。"), field="family")
    kind = session.get(DrillKind, code)
    before = None
    if kind is None:
        kind = DrillKind(code=code, position=100, unit_id=getattr(actor, "unit_id", None))
        session.add(kind)
    else:
        if not may_change_kind(session, actor, kind):
            if kind.unit_id is None:
                raise PermissionDenied(
                    _("演练类型 {code} 适用于所有单位，不能由本单位修改。").format(code=code)
                )
            raise Conflict(_("类型代码 {code} 已被其他单位使用。").format(code=code))
        before = {"name": kind.name, "family": kind.family, "is_active": kind.is_active}
    kind.name, kind.family, kind.is_active = name, family, bool(is_active)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_kind.save",
        object_type="drill_kind",
        object_id=code,
        unit_id=kind.unit_id,
        before=before,
        after={"name": name, "family": family, "is_active": kind.is_active},
    )
    return kind


# ---------------------------------------------------------------- requirements and compliance


@dataclass(frozen=True)
class RequirementInput:
    unit_kind: str
    drill_kind: str
    per_year: object = None
    interval_days: object = None


def _positive(value, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def set_requirements(
    session: Session, lines: Sequence[RequirementInput], *, actor
) -> list[DrillRequirement]:
    """Replace the drill requirements of the actor's unit (they apply to its subtree, unless
    a unit below sets its own): per unit kind and drill kind, so many a year or one every
    so many days. An empty set lets the set from above apply again. Answers the set now in
    force at the actor's unit."""
    require(session, actor, "drills.requirements")
    unit_id = getattr(actor, "unit_id", None)
    seen = set()
    rows = []
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=str(line.unit_kind)[:20]),
                field="lines",
            )
        check_kind(session, line.drill_kind, field="lines", row=n, unit=unit_id)
        per_year, interval = line.per_year, line.interval_days
        if (per_year is None) == (interval is None):
            raise DomainError(
                _("第 {n} 行：请填写每年次数或间隔天数（二者选一）。").format(n=n), field="lines"
            )
        if per_year is not None and not _positive(per_year, 1, 365):
            raise DomainError(
                _("第 {n} 行：每年次数应为 1 到 365 的整数。").format(n=n), field="lines"
            )
        if interval is not None and not _positive(interval, 1, 3650):
            raise DomainError(
                _("第 {n} 行：间隔天数应为 1 到 3650 的整数。").format(n=n), field="lines"
            )
        key = (line.unit_kind, line.drill_kind)
        if key in seen:
            raise DomainError(_("第 {n} 行重复。").format(n=n), field="lines")
        seen.add(key)
        rows.append(
            DrillRequirement(
                unit_id=unit_id,
                unit_kind=line.unit_kind,
                drill_kind=line.drill_kind,
                per_year=per_year,
                interval_days=interval,
            )
        )
    own = _own_set(unit_id)
    before = {_requirement_key(r): _requirement_text(r) for r in session.scalars(own)}
    session.execute(delete(DrillRequirement).where(own.whereclause))
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_requirements.set",
        object_type="drill_requirements",
        object_id="all" if unit_id is None else str(unit_id),
        unit_id=unit_id,
        before=before,
        after={_requirement_key(r): _requirement_text(r) for r in rows},
    )
    return requirements_in_force(session, unit_id)


def _own_set(unit_id: int | None):
    column = DrillRequirement.unit_id
    return select(DrillRequirement).where(
        column.is_(None) if unit_id is None else column == unit_id
    )


def requirements_in_force(session: Session, unit_id: int | None) -> list[DrillRequirement]:
    """The requirement set that applies at a unit: the set of the nearest unit (itself, then
    its ancestors, ``unit_ids_above``) that keeps one, else the set for everywhere."""
    by_unit = _sets(session)
    return by_unit.get(_set_owner(by_unit, _chain(session, unit_id)), [])


def set_owner(session: Session, unit_id: int | None) -> int | None:
    """Which unit's set applies at a unit (None: the set for everywhere)."""
    return _set_owner(_sets(session), _chain(session, unit_id))


def _chain(session: Session, unit_id: int | None) -> list[int]:
    return [] if unit_id is None else unit_ids_above(session, unit_id)


def _sets(session: Session) -> dict[int | None, list[DrillRequirement]]:
    out: dict[int | None, list[DrillRequirement]] = {}
    stmt = select(DrillRequirement).order_by(
        DrillRequirement.unit_kind, DrillRequirement.drill_kind
    )
    for r in session.scalars(stmt):
        out.setdefault(r.unit_id, []).append(r)
    return out


def _set_owner(by_unit: dict, chain: list[int]) -> int | None:
    return next((uid for uid in chain if by_unit.get(uid)), None)


def _requirement_key(r: DrillRequirement) -> str:
    return f"{r.unit_kind}/{r.drill_kind}"


def _requirement_text(r: DrillRequirement) -> str:
    return f"{r.per_year}/year" if r.per_year else f"every {r.interval_days} days"


DUE_SOON_DAYS = 30


@dataclass
class ComplianceRow:
    unit: Unit
    drill_kind: str
    required: int
    held: int
    last_held_on: date | None
    next_due_on: date | None
    status: str  # ok | due | overdue
    interval_days: int | None = None

    @property
    def is_due_soon(self) -> bool:
        """Not yet late, but the next one falls due within DUE_SOON_DAYS (for the page)."""
        return (
            self.status == "due"
            and self.next_due_on is not None
            and (self.next_due_on - date.today()).days <= DUE_SOON_DAYS
        )


def next_due(
    requirement: DrillRequirement, held: int, last_held_on: date | None, year: int
) -> date | None:
    """When the next drill of this requirement falls due in ``year`` (None when the year's
    requirement is met). Per-year requirements spread the year evenly; interval requirements
    count from the last drill, whenever it was."""
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    if requirement.interval_days:
        base = last_held_on or year_start - timedelta(days=1)
        due = base + timedelta(days=requirement.interval_days)
        if held >= requirement.required and due > year_end:
            return None
        return max(due, year_start) if last_held_on else min(due, year_end)
    if held >= requirement.required:
        return None
    interval = timedelta(days=math.floor(365 / requirement.per_year))
    return min((last_held_on or year_start - timedelta(days=1)) + interval, year_end)


def compliance_status(due: date | None, held: int, required: int, today: date, year: int) -> str:
    """ok when the year's requirement is met and nothing is due; overdue once the due date
    (or the year) has passed; due otherwise."""
    if due is None:
        return "ok"
    if today > due or today > date(year, 12, 31):
        return "overdue"
    return "ok" if held >= required else "due"


def compliance(
    session: Session, year: int, *, unit_ids: set[int] | None = None, today: date | None = None
) -> list[ComplianceRow]:
    """Per unit and drill kind: required this year, held (led or took part; real incident
    responses count), last held, next due and whether it is ok, due or overdue."""
    with collection_paused():
        return _compliance(session, year, unit_ids, today or date.today())


def _compliance(
    session: Session, year: int, unit_ids: set[int] | None, today: date
) -> list[ComplianceRow]:
    by_unit = _sets(session)
    kinds_required = {r.unit_kind for rows in by_unit.values() for r in rows}
    parents = {uid: pid for uid, pid in session.execute(select(Unit.id, Unit.parent_id))}
    owners: dict[int, int | None] = {}

    def owner_of(unit_id: int) -> int | None:
        # the nearest unit keeping a set, as unit_ids_above orders them (one walk per unit
        # over a parent map read once, not one query per unit)
        if unit_id not in owners:
            chain, current = [], unit_id
            while current is not None and current not in chain:
                chain.append(current)
                current = parents.get(current)
            owners[unit_id] = _set_owner(by_unit, chain)
        return owners[unit_id]

    units_stmt = select(Unit).where(Unit.is_active, Unit.kind.in_(list(kinds_required)))
    if unit_ids is not None:
        units_stmt = units_stmt.where(Unit.id.in_(unit_ids))
    units = session.scalars(units_stmt.order_by(Unit.code)).all()
    counted = (
        select(drill_units.c.unit_id, Drill.kind, Drill.held_on)
        .join(Drill, Drill.id == drill_units.c.drill_id)
        .where(or_(Drill.status != "planned", Drill.is_real_incident), Drill.held_on <= today)
    )
    if unit_ids is not None:
        counted = counted.where(drill_units.c.unit_id.in_(unit_ids))
    counted = counted.subquery()
    in_year = counted.c.held_on.between(date(year, 1, 1), date(year, 12, 31))
    held_stmt = select(
        counted.c.unit_id,
        counted.c.kind,
        func.count().filter(in_year),
        func.max(counted.c.held_on).filter(in_year),
        # the last drill up to the end of that year, for interval requirements
        func.max(counted.c.held_on).filter(counted.c.held_on <= date(year, 12, 31)),
    ).group_by(counted.c.unit_id, counted.c.kind)
    held = {
        (u, k): (n, last, last_ever)
        for u, k, n, last, last_ever in session.execute(held_stmt).all()
    }
    # each set's requirements per unit kind, read off the ORM objects once, not per unit
    wanted: dict[tuple[int | None, str], list] = {}
    for owner, rows in by_unit.items():
        for r in rows:
            wanted.setdefault((owner, r.unit_kind), []).append(
                (r, r.drill_kind, r.required, r.interval_days)
            )
    out = []
    for unit in units:
        unit_id = unit.id
        for r, kind, required, interval in wanted.get((owner_of(unit_id), unit.kind), ()):
            n, last, last_ever = held.get((unit_id, kind), (0, None, None))
            due = next_due(r, n, last_ever if interval else last, year)
            status = compliance_status(due, n, required, today, year)
            out.append(ComplianceRow(unit, kind, required, n, last, due, status, interval))
    order = {"overdue": 0, "due": 1, "ok": 2}
    out.sort(key=lambda row: (order[row.status], row.unit.code, row.drill_kind))
    return out

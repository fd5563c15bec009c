"""Drill kinds, the drills each unit kind must hold (so many a year or one every so many
days) and the compliance report: per unit and drill kind, held, last held, next due."""

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
from readiness import audit
from readiness.errors import DomainError
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import require

# ---------------------------------------------------------------- drill kinds


def drill_kinds(session: Session, *, active_only: bool = False) -> dict[str, tuple[str, str]]:
    """Drill kinds in display order: code -> (name in the user's language, family)."""
    stmt = select(DrillKind).order_by(DrillKind.position, DrillKind.code)
    if active_only:
        stmt = stmt.where(DrillKind.is_active)
    return {k.code: (k.label, k.family) for k in session.scalars(stmt)}


def save_drill_kind(
    session: Session, *, code: str, name: str, family: str, is_active: bool = True, actor
) -> DrillKind:
    """Add a drill kind, or rename, re-map or retire one (codes never change: the API uses them)."""
    require(session, actor, "drills.requirements")
    code = (code or "").strip() if isinstance(code, str) else ""
    if not code or len(code) > 30 or not code.isascii() or not code.replace("_", "").isalnum():
        raise DomainError(_("类型代码只能用英文字母、数字和下划线，最多 30 个字符。"), field="code")
    name = check_text(name, "name", limit=60)
    if family not in FAMILIES:
        raise DomainError(_("请选择国际通行的演练类别。"), field="family")
    kind = session.get(DrillKind, code)
    before = None
    if kind is None:
        kind = DrillKind(code=code, position=100)
        session.add(kind)
    else:
        before = {"name": kind.name, "family": kind.family, "is_active": kind.is_active}
    kind.name, kind.family, kind.is_active = name, family, bool(is_active)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_kind.save",
        object_type="drill_kind",
        object_id=code,
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
    """Replace the drill requirements: per unit kind and drill kind, so many a year or one
    every so many days."""
    require(session, actor, "drills.requirements")
    seen = set()
    rows = []
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=str(line.unit_kind)[:20]),
                field="lines",
            )
        check_kind(session, line.drill_kind, field="lines", row=n)
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
                unit_kind=line.unit_kind,
                drill_kind=line.drill_kind,
                per_year=per_year,
                interval_days=interval,
            )
        )
    before = {
        _requirement_key(r): _requirement_text(r) for r in session.scalars(select(DrillRequirement))
    }
    session.execute(delete(DrillRequirement))
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        actor,
        "drill_requirements.set",
        object_type="drill_requirements",
        object_id="all",
        before=before,
        after={_requirement_key(r): _requirement_text(r) for r in rows},
    )
    return rows


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
    today = today or date.today()
    reqs: dict[str, list[DrillRequirement]] = {}
    for r in session.scalars(select(DrillRequirement)):
        reqs.setdefault(r.unit_kind, []).append(r)
    units_stmt = select(Unit).where(Unit.is_active, Unit.kind.in_(list(reqs)))
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
    held = {(u, k): (n, last, last_ever) for u, k, n, last, last_ever in session.execute(held_stmt)}
    out = []
    for unit in units:
        for r in reqs.get(unit.kind, []):
            n, last, last_ever = held.get((unit.id, r.drill_kind), (0, None, None))
            due = next_due(r, n, last_ever if r.interval_days else last, year)
            status = compliance_status(due, n, r.required, today, year)
            out.append(
                ComplianceRow(unit, r.drill_kind, r.required, n, last, due, status, r.interval_days)
            )
    order = {"overdue": 0, "due": 1, "ok": 2}
    out.sort(key=lambda row: (order[row.status], row.unit.code, row.drill_kind))
    return out

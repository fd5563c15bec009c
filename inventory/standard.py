"""Use cases for the equipment standard: its editions and lines, per-unit overrides, and
what the standard in force asks of a unit."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from inventory.checks import check_qty
from inventory.models import Item, RequirementOverride, StandardLine, StandardVersion
from readiness import audit
from readiness.checks import check_decimal, check_note
from readiness.db import utcnow
from readiness.errors import DomainError, PermissionDenied
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import in_scope, require, unit_ids_above, unit_ids_below

# The largest base or per-officer quantity a standard line may ask for.
LINE_MAX = Decimal(10**6)


@functools.lru_cache(maxsize=65536)
def required_qty(base_qty: Decimal, per_officer: Decimal, headcount: int) -> int:
    """ceil(base + per_officer × headcount), computed exactly."""
    return math.ceil(Decimal(base_qty) + Decimal(per_officer) * headcount)


@dataclass(frozen=True)
class StandardLineInput:
    unit_kind: str
    item_code: str
    base_qty: object
    per_officer: object


# publish_standard's default: the edition belongs to the publisher's own unit.
OWN_UNIT: Any = object()


def publish_standard(
    session: Session,
    *,
    effective_from: date,
    lines: Sequence[StandardLineInput],
    note: str = "",
    actor,
    unit: Unit | None = OWN_UNIT,
) -> StandardVersion:
    """Publish a new edition of the standard for a unit (the publisher's own unless given),
    in force for that unit and the units below it; earlier editions stay readable.

    ``unit=None`` publishes an edition for everywhere: only the system (demo data, the
    command line) or a user placed above every unit may do that.
    """
    if unit is OWN_UNIT:
        unit = getattr(actor, "unit", None)
    require(session, actor, "standard.manage", unit)
    if unit is not None and not in_reach(session, actor, unit.id):
        raise PermissionDenied(_("您只能为本单位及下级单位发布标准。"))
    if unit is None and getattr(actor, "unit_id", None) is not None:
        raise PermissionDenied(
            _("您只能为本单位及下级单位发布标准，不能发布适用于所有单位的标准。")
        )
    if unit is not None and not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    if not isinstance(effective_from, date):
        raise DomainError(_("请填写生效日期。"), field="effective_from")
    if not lines:
        raise DomainError(_("标准至少要有一行。"), field="lines")
    if len(lines) > 5000:
        raise DomainError(_("标准最多 5000 行。"), field="lines")
    note = check_note(note)
    seen: set[tuple[str, int]] = set()
    version = StandardVersion(
        effective_from=effective_from,
        note=note,
        published_by_id=getattr(actor, "id", None),
        unit_id=unit.id if unit is not None else None,
    )
    items = {i.code: i for i in session.scalars(select(Item))}
    for n, line in enumerate(lines, start=1):
        if line.unit_kind not in UNIT_KINDS:
            raise DomainError(
                _("第 {n} 行：未知的单位类型 {kind}。").format(n=n, kind=line.unit_kind),
                field="lines",
            )
        item = items.get(line.item_code)
        if item is None:
            raise DomainError(
                _("第 {n} 行：物资代码 {code} 不存在。").format(n=n, code=line.item_code),
                field="lines",
            )
        try:
            base = check_decimal(
                line.base_qty, "base_qty", places=3, maximum=LINE_MAX, label=_("基数")
            )
            per = check_decimal(
                line.per_officer,
                "per_officer",
                places=3,
                maximum=LINE_MAX,
                label=_("每人配备"),
            )
        except DomainError as err:
            raise DomainError(
                _("第 {n} 行：{message}").format(n=n, message=err.message), field="lines"
            ) from None
        key = (line.unit_kind, item.id)
        if key in seen:
            raise DomainError(
                _("第 {n} 行：{kind} 的 {item} 重复。").format(
                    n=n, kind=UNIT_KINDS[line.unit_kind], item=item.shown_name
                ),
                field="lines",
            )
        seen.add(key)
        version.lines.append(
            StandardLine(unit_kind=line.unit_kind, item=item, base_qty=base, per_officer=per)
        )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "standard.publish",
        version,
        unit_id=unit.id if unit is not None else None,
        after={
            "effective_from": effective_from.isoformat(),
            "lines": len(version.lines),
            "unit": unit.code if unit is not None else None,
        },
        summary=note,
    )
    return version


def _latest_per_unit(
    session: Session, on: date, unit_ids: Iterable[int] | None = None
) -> dict[int | None, int]:
    """For each publishing unit (None: everywhere), its latest edition effective on a date."""
    stmt = (
        select(StandardVersion.id, StandardVersion.unit_id)
        .where(StandardVersion.effective_from <= on)
        .order_by(StandardVersion.effective_from.desc(), StandardVersion.id.desc())
    )
    if unit_ids is not None:
        stmt = stmt.where(
            or_(StandardVersion.unit_id.in_(list(unit_ids)), StandardVersion.unit_id.is_(None))
        )
    latest: dict[int | None, int] = {}
    for version_id, unit_id in session.execute(stmt):
        latest.setdefault(unit_id, version_id)
    return latest


def _unit_id(unit: Unit | int | None) -> int | None:
    return unit.id if isinstance(unit, Unit) else unit


def standard_as_of(
    session: Session, on: date, unit: Unit | int | None = None
) -> StandardVersion | None:
    """The edition in force for a unit on a date.

    Among the editions of the unit and of the units above it, the nearest unit that has one
    effective on that date wins (``unit_ids_above``: nearest first); editions for everywhere
    (no unit) come after all of them. Within one unit, the latest effective on or before
    the date. Without a unit: the edition for everywhere.
    """
    unit_id = _unit_id(unit)
    chain = unit_ids_above(session, unit_id) if unit_id is not None else []
    latest = _latest_per_unit(session, on, chain)
    for publisher in [*chain, None]:
        if publisher in latest:
            return session.get(StandardVersion, latest[publisher])
    return None


def editions_in_force(
    session: Session, unit_ids: Iterable[int] | None, on: date
) -> dict[int, int | None]:
    """For many units at once (the shortfall report): the id of the edition in force for each
    on a date, by the rule of ``standard_as_of``, in two queries whatever the number."""
    latest = _latest_per_unit(session, on)
    parents = {row.id: row.parent_id for row in session.execute(select(Unit.id, Unit.parent_id))}
    out: dict[int, int | None] = {}

    def resolve(unit_id: int, seen: tuple[int, ...] = ()) -> int | None:
        if unit_id in out:
            return out[unit_id]
        if unit_id in latest:
            found = latest[unit_id]
        else:
            parent = parents.get(unit_id)
            if parent is None or parent in seen:
                found = latest.get(None)
            else:
                found = resolve(parent, (*seen, unit_id))
        out[unit_id] = found
        return found

    for unit_id in parents if unit_ids is None else unit_ids:
        resolve(unit_id)
    return out if unit_ids is None else {u: out[u] for u in unit_ids}


def in_reach(session: Session, actor, unit_id: int) -> bool:
    """Whether a unit's standard is the user's to read and keep: their unit's subtree,
    whatever their role (a user placed nowhere, and the system, reach every unit)."""
    if getattr(actor, "unit_id", None) is None:
        return in_scope(session, actor, unit_id)
    return unit_id in unit_ids_below(session, actor.unit_id)


def may_see_edition(session: Session, actor, version: StandardVersion) -> bool:
    """Whether a user may read an edition: one for everywhere, one of a unit in their reach,
    or one of a unit above theirs (it is in force for them)."""
    if version.unit_id is None or in_reach(session, actor, version.unit_id):
        return True
    unit_id = getattr(actor, "unit_id", None)
    return unit_id is not None and version.unit_id in unit_ids_above(session, unit_id)


def editions_for(session: Session, actor) -> list[StandardVersion]:
    """Every edition a user may read, newest first (see ``may_see_edition``)."""
    versions = session.scalars(
        select(StandardVersion)
        .options(joinedload(StandardVersion.unit), joinedload(StandardVersion.published_by))
        .order_by(StandardVersion.effective_from.desc(), StandardVersion.id.desc())
    ).all()
    unit_id = getattr(actor, "unit_id", None)
    if unit_id is None:
        return [v for v in versions if may_see_edition(session, actor, v)]
    # the user's reach and the units above them, read once (not once per edition)
    seen = unit_ids_below(session, unit_id) | set(unit_ids_above(session, unit_id))
    return [v for v in versions if v.unit_id is None or v.unit_id in seen]


def set_override(
    session: Session, unit: Unit, item: Item, qty: int | None, *, reason: str, actor
) -> RequirementOverride | None:
    """Set (or with qty None, remove) an explicit requirement for one unit and item."""
    require(session, actor, "standard.manage", unit)
    reason = check_note(reason, "reason")
    existing = session.scalar(
        select(RequirementOverride).where(
            RequirementOverride.unit_id == unit.id, RequirementOverride.item_id == item.id
        )
    )
    before = {"qty": existing.qty, "reason": existing.reason} if existing else None
    if qty is None:
        if existing is None:
            return None
        session.delete(existing)
        session.flush()
        audit.record(
            session,
            actor,
            "override.remove",
            object_type="requirement_overrides",
            object_id=f"{unit.code}/{item.code}",
            unit_id=unit.id,
            before=before,
        )
        return None
    qty = check_qty(qty, allow_zero=True)
    if not reason:
        raise DomainError(_("请说明调整原因。"), field="reason")
    if existing is None:
        existing = RequirementOverride(unit=unit, item=item, qty=qty, reason=reason)
        session.add(existing)
    existing.qty, existing.reason = qty, reason
    existing.set_by_id = getattr(actor, "id", None)
    existing.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "override.set",
        object_type="requirement_overrides",
        object_id=f"{unit.code}/{item.code}",
        unit_id=unit.id,
        before=before,
        after={"qty": qty, "reason": reason},
    )
    return existing


@dataclass
class Requirement:
    item: Item
    base_qty: Decimal | None
    per_officer: Decimal | None
    headcount: int
    formula_qty: int | None
    override: RequirementOverride | None

    @property
    def required(self) -> int:
        if self.override is not None:
            return self.override.qty
        return self.formula_qty or 0


def requirements_for_unit(session: Session, unit: Unit, on: date) -> list[Requirement]:
    """What the standard in force for this unit on a date asks of it, and how each figure
    was derived."""
    version = standard_as_of(session, on, unit)
    lines = []
    if version is not None:
        lines = session.scalars(
            select(StandardLine)
            .where(StandardLine.version_id == version.id, StandardLine.unit_kind == unit.kind)
            .options(joinedload(StandardLine.item))
        ).all()
    overrides = {
        o.item_id: o
        for o in session.scalars(
            select(RequirementOverride)
            .where(RequirementOverride.unit_id == unit.id)
            .options(joinedload(RequirementOverride.item))
        )
    }
    out: list[Requirement] = []
    for line in lines:
        out.append(
            Requirement(
                item=line.item,
                base_qty=line.base_qty,
                per_officer=line.per_officer,
                headcount=unit.headcount,
                formula_qty=required_qty(line.base_qty, line.per_officer, unit.headcount),
                override=overrides.pop(line.item_id, None),
            )
        )
    for override in overrides.values():
        out.append(Requirement(override.item, None, None, unit.headcount, None, override))
    out.sort(key=lambda r: (r.item.category, r.item.code))
    return out

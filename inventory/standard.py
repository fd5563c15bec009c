"""Use cases for the equipment standard: its editions and lines, per-unit overrides, and
what the standard in force asks of a unit."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from inventory.checks import check_qty
from inventory.models import Item, RequirementOverride, StandardLine, StandardVersion
from readiness import audit
from readiness.checks import check_decimal, check_note
from readiness.db import utcnow
from readiness.errors import DomainError
from readiness.models import UNIT_KINDS, Unit
from readiness.permissions import require

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


def publish_standard(
    session: Session,
    *,
    effective_from: date,
    lines: Sequence[StandardLineInput],
    note: str = "",
    actor,
) -> StandardVersion:
    """Publish a new edition of the standard; earlier editions stay readable."""
    require(session, actor, "standard.manage")
    if not isinstance(effective_from, date):
        raise DomainError(_("请填写生效日期。"), field="effective_from")
    if not lines:
        raise DomainError(_("标准至少要有一行。"), field="lines")
    if len(lines) > 5000:
        raise DomainError(_("标准最多 5000 行。"), field="lines")
    note = check_note(note)
    seen: set[tuple[str, int]] = set()
    version = StandardVersion(
        effective_from=effective_from, note=note, published_by_id=getattr(actor, "id", None)
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
                    n=n, kind=UNIT_KINDS[line.unit_kind], item=item.name
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
        after={"effective_from": effective_from.isoformat(), "lines": len(version.lines)},
        summary=note,
    )
    return version


def standard_as_of(session: Session, on: date) -> StandardVersion | None:
    """The edition in force on a date: the latest published with effective_from ≤ date."""
    return session.scalar(
        select(StandardVersion)
        .where(StandardVersion.effective_from <= on)
        .order_by(StandardVersion.effective_from.desc(), StandardVersion.id.desc())
        .limit(1)
    )


def set_override(
    session: Session, unit: Unit, item: Item, qty: int | None, *, reason: str, actor
) -> RequirementOverride | None:
    """Set (or with qty None, remove) an explicit requirement for one unit and item."""
    require(session, actor, "standard.manage")
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
    """What the standard in force on a date asks of this unit, and how each figure was derived."""
    version = standard_as_of(session, on)
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

"""The shortfall report: required vs on hand per unit and item, ranked, priced, with transfers.

Definitions (DESIGN.md): on hand excludes expired lots (shown apart); inbound is
what approved allocations will still bring; on order is what approved purchase requests
will still bring (issue 20); ``gap = max(0, required − on_hand)``,
``uncovered = max(0, gap − inbound − on_order)``, ``coverage = on_hand / required``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from inventory.models import (
    Asset,
    Item,
    Lot,
    Movement,
    Position,
    RequirementOverride,
    StandardLine,
    StandardVersion,
)
from inventory.standard import editions_in_force, required_qty, standard_as_of
from readiness import cache
from readiness.models import Unit
from readiness.permissions import bureau_map

# Filled in by the allocations feature: (session, unit_ids, as_of) -> {(unit_id, item_id): qty}.
INBOUND_SOURCES: list[Callable[[Session, set[int] | None, date], dict[tuple[int, int], int]]] = []
# Filled in by the purchase requests (funding): approved and not yet delivered, the same shape.
ON_ORDER_SOURCES: list[Callable[[Session, set[int] | None, date], dict[tuple[int, int], int]]] = []


@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str
    name: str
    kind: str
    headcount: int


@dataclass(frozen=True)
class ItemRef:
    id: int
    code: str
    name: str
    category: str
    uom: str
    unit_cost: Decimal


@dataclass(slots=True)
class Row:
    unit: UnitRef
    item: ItemRef
    required: int
    on_hand: int
    expired: int
    inbound: int
    gap: int
    uncovered: int
    coverage: float
    on_order: int = 0

    @classmethod
    def of(cls, unit, item, required, on_hand, expired, inbound, on_order=0) -> Row:
        gap = required - on_hand if required > on_hand else 0
        coming = inbound + on_order
        uncovered = gap - coming if gap > coming else 0
        coverage = on_hand / required if required > 0 else 1.0
        return cls(
            unit, item, required, on_hand, expired, inbound, gap, uncovered, coverage, on_order
        )

    @property
    def band(self) -> str:
        """red below half the standard, amber below the standard, green at or above."""
        if self.coverage < 0.5:
            return "red"
        return "amber" if self.coverage < 1 else "green"


@dataclass
class ItemTotal:
    item: ItemRef
    required: int = 0
    on_hand: int = 0
    gap: int = 0
    uncovered: int = 0
    transferable: int = 0

    @property
    def cost(self) -> Decimal:
        return self.item.unit_cost * self.uncovered

    @property
    def to_buy(self) -> int:
        return max(0, self.uncovered - self.transferable)

    @property
    def to_buy_cost(self) -> Decimal:
        return self.item.unit_cost * self.to_buy


@dataclass
class Transfer:
    source: UnitRef
    target: UnitRef
    item: ItemRef
    qty: int


@dataclass(frozen=True)
class VersionRef:
    """An edition of the standard a report was computed against, and who published it
    (unit_name None: an edition for everywhere)."""

    id: int
    effective_from: date
    unit_name: str | None = None


@dataclass
class Report:
    as_of: date
    # The edition in force when every unit of the report has the same one, else None.
    version: VersionRef | None
    rows: list[Row]
    items: list[ItemTotal]
    transfers: list[Transfer]
    units_below: int = 0
    filters: dict = field(default_factory=dict)
    # Every edition in force for some unit of the report (each unit has its nearest).
    versions: list[VersionRef] = field(default_factory=list)

    @property
    def budget_total(self) -> Decimal:
        return sum((t.cost for t in self.items), Decimal("0"))

    @property
    def to_buy_total(self) -> Decimal:
        return sum((t.to_buy_cost for t in self.items), Decimal("0"))


def _stock(
    session: Session, unit_ids: set[int] | None, as_of: date, today: date
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """(on hand, expired, reserved) per (unit, item) on a date.

    Today and later: read from the balances. Earlier dates: summed from the ledger.
    Serial items count only pieces in service (today) or held (earlier dates).
    """
    expired_expr = case((Lot.expires_on <= as_of, 1), else_=0)
    if as_of >= today:
        qty = Position.qty
        stmt = (
            select(
                Position.unit_id,
                Position.item_id,
                expired_expr.label("expired"),
                func.sum(qty),
                func.sum(Position.reserved),
            )
            .outerjoin(Lot, Lot.id == Position.lot_id)
            .where(Position.qty > 0)
            # item, unit: the order of ix_positions_item_unit, so no sort is needed
            .group_by(Position.item_id, Position.unit_id, expired_expr)
        )
        if unit_ids is not None:
            stmt = stmt.where(Position.unit_id.in_(unit_ids))
    else:
        end = datetime.combine(as_of + timedelta(days=1), time.min, UTC)
        stmt = (
            select(
                Movement.unit_id,
                Movement.item_id,
                expired_expr.label("expired"),
                func.sum(Movement.qty),
                func.sum(0),
            )
            .outerjoin(Lot, Lot.id == Movement.lot_id)
            .where(Movement.at < end)
            .group_by(Movement.unit_id, Movement.item_id, expired_expr)
        )
        if unit_ids is not None:
            stmt = stmt.where(Movement.unit_id.in_(unit_ids))
    on_hand: dict[tuple[int, int], int] = defaultdict(int)
    expired: dict[tuple[int, int], int] = defaultdict(int)
    reserved: dict[tuple[int, int], int] = defaultdict(int)
    # Core execution: these are plain tuples, the ORM layer would only add overhead.
    conn = session.connection()
    for unit_id, item_id, is_expired, qty_sum, reserved_sum in conn.execute(stmt).all():
        key = (unit_id, item_id)
        if is_expired:
            expired[key] += int(qty_sum or 0)
        else:
            on_hand[key] += int(qty_sum or 0)
        reserved[key] += int(reserved_sum or 0)
    if as_of >= today:
        serial = (
            select(Asset.unit_id, Asset.item_id, func.count())
            .where(Asset.unit_id.is_not(None), Asset.status == "in_service")
            .group_by(Asset.unit_id, Asset.item_id)
        )
        if unit_ids is not None:
            serial = serial.where(Asset.unit_id.in_(unit_ids))
        serial_items = set(session.scalars(select(Item.id).where(Item.tracking == "serial")))
        for key in [k for k in on_hand if k[1] in serial_items]:
            on_hand[key] = 0
        for unit_id, item_id, n in conn.execute(serial).all():
            on_hand[(unit_id, item_id)] = n
    return on_hand, expired, reserved


def shortfall(
    session: Session,
    *,
    unit_ids: set[int] | None = None,
    category: str | None = None,
    item_code: str | None = None,
    as_of: date | None = None,
    today: date | None = None,
    use_cache: bool = True,
) -> Report:
    """The shortfall of every active unit in scope against the standard in force on ``as_of``.
    Computed once per state of the data (readiness.cache): the same report is handed out
    until something is written. Callers must not modify it."""
    today = today or date.today()
    as_of = as_of or today

    def compute() -> Report:
        return _shortfall(session, unit_ids, category, item_code, as_of, today)

    if not use_cache:
        return compute()
    scope = None if unit_ids is None else frozenset(unit_ids)
    return cache.cached(session, ("shortfall", scope, category, item_code, as_of, today), compute)


def _shortfall(
    session: Session,
    unit_ids: set[int] | None,
    category: str | None,
    item_code: str | None,
    as_of: date,
    today: date,
) -> Report:
    unit_stmt = select(Unit.id, Unit.code, Unit.name, Unit.kind, Unit.headcount).where(
        Unit.is_active
    )
    if unit_ids is not None:
        unit_stmt = unit_stmt.where(Unit.id.in_(unit_ids))
    units = {row[0]: UnitRef(*row) for row in session.execute(unit_stmt)}

    item_stmt = select(
        Item.id, Item.code, Item.name, Item.category, Item.uom, Item.unit_cost
    ).where(Item.is_active)
    if category:
        item_stmt = item_stmt.where(Item.category == category)
    if item_code:
        item_stmt = item_stmt.where(Item.code == item_code)
    items = {row[0]: ItemRef(*row) for row in session.execute(item_stmt)}

    # Each unit against the edition in force for it (its own or its nearest ancestor's).
    edition_of = editions_in_force(session, list(units), as_of)
    used = {v for v in edition_of.values() if v is not None}
    lines_by_kind: dict[tuple[int, str], list[tuple[int, Decimal, Decimal]]] = defaultdict(list)
    if used:
        for version_id, kind, item_id, base, per in session.execute(
            select(
                StandardLine.version_id,
                StandardLine.unit_kind,
                StandardLine.item_id,
                StandardLine.base_qty,
                StandardLine.per_officer,
            ).where(StandardLine.version_id.in_(used))
        ):
            if item_id in items:
                lines_by_kind[(version_id, kind)].append((item_id, base, per))
    overrides = {
        (u, i): q
        for u, i, q in session.execute(
            select(
                RequirementOverride.unit_id, RequirementOverride.item_id, RequirementOverride.qty
            )
        )
        if u in units and i in items
    }

    on_hand, expired, reserved = _stock(session, set(units) if unit_ids else None, as_of, today)
    inbound: dict[tuple[int, int], int] = defaultdict(int)
    for source in INBOUND_SOURCES:
        for key, qty in source(session, set(units) if unit_ids else None, as_of).items():
            inbound[key] += qty
    on_order: dict[tuple[int, int], int] = defaultdict(int)
    for source in ON_ORDER_SOURCES:
        for key, qty in source(session, set(units) if unit_ids else None, as_of).items():
            on_order[key] += qty

    required: dict[tuple[int, int], int] = {}
    for unit in units.values():
        version_id = edition_of.get(unit.id)
        for item_id, base, per in lines_by_kind.get((version_id, unit.kind), ()):
            required[(unit.id, item_id)] = required_qty(base, per, unit.headcount)
    required.update(overrides)

    rows = [
        Row.of(
            units[u],
            items[i],
            req,
            on_hand.get((u, i), 0),
            expired.get((u, i), 0),
            inbound.get((u, i), 0),
            on_order.get((u, i), 0),
        )
        for (u, i), req in required.items()
        if req > 0
    ]
    rows.sort(key=lambda r: (r.coverage, -r.uncovered, r.unit.code, r.item.code))

    totals: dict[int, ItemTotal] = {}
    for row in rows:
        t = totals.setdefault(row.item.id, ItemTotal(row.item))
        t.required += row.required
        t.on_hand += row.on_hand
        t.gap += row.gap
        t.uncovered += row.uncovered

    transfers = _suggest_transfers(
        rows, units, items, on_hand, reserved, required, inbound, bureau_map(session)
    )
    for tr in transfers:
        totals[tr.item.id].transferable += tr.qty
    item_totals = sorted(totals.values(), key=lambda t: (-t.cost, t.item.code))
    below = len({r.unit.id for r in rows if r.gap > 0})
    refs = [
        VersionRef(version_id, effective_from, unit_name)
        for version_id, effective_from, unit_name in session.execute(
            select(StandardVersion.id, StandardVersion.effective_from, Unit.name)
            .outerjoin(Unit, Unit.id == StandardVersion.unit_id)
            .where(StandardVersion.id.in_(used))
            .order_by(StandardVersion.id)
        )
    ]
    if not units:
        # No unit in the scope: the edition for everywhere, as before editions had units.
        latest = standard_as_of(session, as_of)
        refs = [VersionRef(latest.id, latest.effective_from)] if latest is not None else []
    ref = refs[0] if len(refs) == 1 else None
    return Report(as_of, ref, rows, item_totals, transfers, units_below=below, versions=refs)


def _suggest_transfers(
    rows: list[Row],
    units: dict[int, UnitRef],
    items: dict[int, ItemRef],
    on_hand: dict[tuple[int, int], int],
    reserved: dict[tuple[int, int], int],
    required: dict[tuple[int, int], int],
    inbound: dict[tuple[int, int], int],
    bureaus: dict[int, int],
) -> list[Transfer]:
    """Move surplus to the units that lack most, never taking a donor below its own standard
    and never across bureaus (a reader above several bureaus sees each bureau's own)."""
    needs: dict[int, list[Row]] = defaultdict(list)
    for row in rows:  # already worst first
        if row.uncovered > 0:
            needs[row.item.id].append(row)
    donors_by_item: dict[int, list[list]] = defaultdict(list)
    for (u, i), qty in on_hand.items():
        if i not in needs or u not in units:
            continue
        spare = qty - reserved.get((u, i), 0) - required.get((u, i), 0)
        if spare > 0:
            donors_by_item[i].append([spare, units[u]])
    out: list[Transfer] = []
    for item_id, wanting in needs.items():
        donors = sorted(donors_by_item.get(item_id, ()), key=lambda d: (-d[0], d[1].code))
        # Donors are grouped by bureau and used up in order, largest first. A unit with
        # spare stock has no need of the same item, so donors and receivers never coincide.
        by_bureau: dict[int | None, list[list]] = defaultdict(list)
        for donor in donors:
            by_bureau[bureaus.get(donor[1].id)].append(donor)
        used: dict[int | None, int] = defaultdict(int)
        for row in wanting:
            bureau = bureaus.get(row.unit.id)
            group = by_bureau.get(bureau, [])
            need, d = row.uncovered, used[bureau]
            while need > 0 and d < len(group):
                qty = min(need, group[d][0])
                out.append(Transfer(group[d][1], row.unit, items[item_id], qty))
                group[d][0] -= qty
                need -= qty
                if group[d][0] == 0:
                    d += 1
            used[bureau] = d
    return out

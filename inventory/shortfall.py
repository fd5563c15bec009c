"""The shortfall report: required vs on hand per unit and item, ranked, priced, with transfers.

Definitions (DESIGN.md): on hand excludes expired lots (shown apart); inbound is
what approved allocations will still bring; on order is what approved purchase requests
will still bring (issue 20); ``gap = max(0, required − on_hand)``,
``uncovered = max(0, gap − inbound − on_order)``, ``coverage = on_hand / required``.
Requests still awaiting approval (pending) do not change these, but the suggested transfers
leave them room: a target is suggested only what its pending requests do not already ask
for, and a source offers only what it has not already been asked for (issue 22).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from inventory.models import (
    Allocation,
    AllocationLine,
    Asset,
    InTwoLanguages,
    Item,
    Lot,
    Movement,
    Position,
    RequirementOverride,
    StandardLine,
    StandardVersion,
)
from inventory.standard import editions_in_force, standard_as_of
from readiness import cache, collection_paused
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
class ItemRef(InTwoLanguages):
    id: int
    code: str
    name: str
    category: str
    uom: str
    unit_cost: Decimal
    # the catalog's English (issue 22); the report is cached for every reader, so it keeps
    # both and each page reads the shown_* forms in its own language
    name_en: str = ""
    category_en: str = ""
    uom_en: str = ""


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
    # asked for by requests awaiting approval (not yet counted as inbound)
    pending: int = 0

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
    pending: int = 0

    @property
    def cost(self) -> Decimal:
        return self.item.unit_cost * self.uncovered

    @property
    def to_buy(self) -> int:
        """What neither a suggested transfer nor a request awaiting approval will bring."""
        return max(0, self.uncovered - self.pending - self.transferable)

    @property
    def to_buy_cost(self) -> Decimal:
        return self.item.unit_cost * self.to_buy


@dataclass
class Transfer:
    source: UnitRef
    target: UnitRef
    item: ItemRef
    qty: int


@dataclass
class TransferGroup:
    """The suggested lines from one source to one target: one draft request between them."""

    source: UnitRef
    target: UnitRef
    lines: list[Transfer]


def transfer_groups(transfers: list[Transfer]) -> list[TransferGroup]:
    """Suggested transfers gathered per source → target pair, in the order first suggested."""
    groups: dict[tuple[int, int], TransferGroup] = {}
    for tr in transfers:
        key = (tr.source.id, tr.target.id)
        if key not in groups:
            groups[key] = TransferGroup(tr.source, tr.target, [])
        groups[key].lines.append(tr)
    return list(groups.values())


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
    # When no edition is in force on ``as_of``: the first date one is (None: none ever is).
    first_in_force: date | None = None

    @property
    def transfer_groups(self) -> list[TransferGroup]:
        return transfer_groups(self.transfers)

    @property
    def budget_total(self) -> Decimal:
        return sum((t.cost for t in self.items), Decimal("0"))

    @property
    def to_buy_total(self) -> Decimal:
        return sum((t.to_buy_cost for t in self.items), Decimal("0"))


# A (unit, item) pair as one integer, ``unit_id << 32 | item_id`` (ids stay below 2³¹): the
# report's dictionaries hold one entry per pair, a hundred thousand at four times the city,
# and integer keys keep their lookups twice as fast as tuples there (issue 21: linear growth).
SHIFT, ITEM = 32, (1 << 32) - 1


def _pair(unit_id: int, item_id: int) -> int:
    return unit_id << SHIFT | item_id


def _stock(
    session: Session, unit_ids: set[int] | None, as_of: date, today: date
) -> dict[int, tuple[int, int, int]]:
    """(on hand, expired, reserved) per (unit, item) pair on a date, summed by the database.

    Today and later: read from the balances. Earlier dates: summed from the ledger.
    Serial items count only pieces in service (today) or held (earlier dates).
    """
    expired_when = Lot.expires_on <= as_of
    if as_of >= today:
        src, kept, reserved = Position, Position.qty > 0, func.sum(Position.reserved)
    else:
        end = datetime.combine(as_of + timedelta(days=1), time.min, UTC)
        src, kept, reserved = Movement, Movement.at < end, literal(0)
    stmt = (
        select(
            src.unit_id,
            src.item_id,
            func.sum(case((expired_when, 0), else_=src.qty)),
            func.sum(case((expired_when, src.qty), else_=0)),
            reserved,
        )
        .outerjoin(Lot, Lot.id == src.lot_id)
        .where(kept)
        # item, unit: the order of ix_positions_item_unit, so no sort is needed
        .group_by(src.item_id, src.unit_id)
    )
    if unit_ids is not None:
        stmt = stmt.where(src.unit_id.in_(unit_ids))
    # Core execution: these are plain tuples, the ORM layer would only add overhead.
    conn = session.connection()
    stock = {
        u << SHIFT | i: (on_hand, expired, held)
        for u, i, on_hand, expired, held in conn.execute(stmt).all()
    }
    if as_of >= today:
        serial_items = set(session.scalars(select(Item.id).where(Item.tracking == "serial")))
        pieces = (
            select(Asset.unit_id, Asset.item_id, func.count())
            .where(Asset.unit_id.is_not(None), Asset.status == "in_service")
            .group_by(Asset.unit_id, Asset.item_id)
        )
        if unit_ids is not None:
            pieces = pieces.where(Asset.unit_id.in_(unit_ids))
        in_service = {u << SHIFT | i: n for u, i, n in conn.execute(pieces).all()}
        for key in {k for k in stock if k & ITEM in serial_items} | set(in_service):
            _, expired, held = stock.get(key, _NOTHING)
            stock[key] = (in_service.get(key, 0), expired, held)
    return stock


_NOTHING = (0, 0, 0)


def _pending(session: Session, unit_ids: set[int] | None) -> tuple[dict[int, int], dict[int, int]]:
    """What requests awaiting approval ask for, per (target, item) pair and per (source,
    item) pair: one grouped query, summed by the database."""
    stmt = (
        select(
            Allocation.from_unit_id,
            Allocation.to_unit_id,
            AllocationLine.item_id,
            func.sum(AllocationLine.requested),
        )
        .join(AllocationLine, AllocationLine.allocation_id == Allocation.id)
        .where(Allocation.status == "submitted")
        .group_by(Allocation.from_unit_id, Allocation.to_unit_id, AllocationLine.item_id)
    )
    if unit_ids is not None:
        stmt = stmt.where(
            Allocation.to_unit_id.in_(unit_ids) | Allocation.from_unit_id.in_(unit_ids)
        )
    asked: dict[int, int] = defaultdict(int)
    promised: dict[int, int] = defaultdict(int)
    for source, target, item_id, qty in session.connection().execute(stmt).all():
        asked[target << SHIFT | item_id] += int(qty)
        promised[source << SHIFT | item_id] += int(qty)
    return asked, promised


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
        with collection_paused():
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
        Item.id,
        Item.code,
        Item.name,
        Item.category,
        Item.uom,
        Item.unit_cost,
        Item.name_en,
        Item.category_en,
        Item.uom_en,
    ).where(Item.is_active)
    if category:
        item_stmt = item_stmt.where(Item.category == category)
    if item_code:
        item_stmt = item_stmt.where(Item.code == item_code)
    items = {row[0]: ItemRef(*row) for row in session.execute(item_stmt)}

    # Each unit against the edition in force for it (its own or its nearest ancestor's).
    edition_of = editions_in_force(session, list(units), as_of)
    used = {v for v in edition_of.values() if v is not None}
    # each line as whole thousandths (the columns keep three decimals): the requirement
    # ceil(base + per_officer × headcount) is then integer arithmetic, exactly
    lines_by_kind: dict[tuple[int, str], list[tuple[int, int, int]]] = defaultdict(list)
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
                lines_by_kind[(version_id, kind)].append(
                    (item_id, _thousandths(base), _thousandths(per))
                )
    overrides = {
        _pair(u, i): q
        for u, i, q in session.execute(
            select(
                RequirementOverride.unit_id, RequirementOverride.item_id, RequirementOverride.qty
            )
        )
        if u in units and i in items
    }

    # the active units in scope, or None for every unit (no filter to write)
    scope = set(units) if unit_ids else None
    stock = _stock(session, scope, as_of, today)
    inbound: dict[int, int] = defaultdict(int)
    for source in INBOUND_SOURCES:
        for (u, i), qty in source(session, scope, as_of).items():
            inbound[_pair(u, i)] += qty
    on_order: dict[int, int] = defaultdict(int)
    for source in ON_ORDER_SOURCES:
        for (u, i), qty in source(session, scope, as_of).items():
            on_order[_pair(u, i)] += qty
    asked, promised = _pending(session, scope)

    required: dict[int, int] = {}
    for unit in units.values():
        version_id = edition_of.get(unit.id)
        unit_key, headcount = unit.id << SHIFT, unit.headcount
        for item_id, base, per in lines_by_kind.get((version_id, unit.kind), ()):
            required[unit_key | item_id] = -(-(base + per * headcount) // 1000)
    required.update(overrides)

    ranked, made = [], []
    for key, req in required.items():
        if req <= 0:
            continue
        on_hand, expired, _ = stock.get(key, _NOTHING)
        coming = (inbound.get(key, 0) if inbound else 0), (on_order.get(key, 0) if on_order else 0)
        gap = req - on_hand if req > on_hand else 0
        left = gap - coming[0] - coming[1]
        uncovered = left if left > 0 else 0
        coverage = on_hand / req
        unit, item = units[key >> SHIFT], items[key & ITEM]
        row = Row(unit, item, req, on_hand, expired, coming[0], gap, uncovered, coverage, coming[1])
        if asked:
            row.pending = asked.get(key, 0)
        # the rank, then the row's place: tuples compare without a key function
        ranked.append((coverage, -uncovered, unit.code, item.code, len(made)))
        made.append(row)
    ranked.sort()
    rows = [made[r[4]] for r in ranked]

    totals: dict[int, ItemTotal] = {}
    for row in rows:
        t = totals.setdefault(row.item.id, ItemTotal(row.item))
        t.required += row.required
        t.on_hand += row.on_hand
        t.gap += row.gap
        t.uncovered += row.uncovered
        t.pending += min(row.pending, row.uncovered)

    transfers = _suggest_transfers(
        rows, units, items, stock, required, promised, bureau_map(session)
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
    first = None if refs else _first_in_force(session, as_of)
    return Report(
        as_of,
        ref,
        rows,
        item_totals,
        transfers,
        units_below=below,
        versions=refs,
        first_in_force=first,
    )


def _first_in_force(session: Session, as_of: date) -> date | None:
    """The first effective date after ``as_of`` of any edition: why a report on an earlier
    date has no requirements."""
    return session.scalar(
        select(func.min(StandardVersion.effective_from)).where(
            StandardVersion.effective_from > as_of
        )
    )


def _thousandths(value: Decimal) -> int:
    """A standard line's quantity in whole thousandths (its column keeps three decimals)."""
    # read back quantized to its scale on both databases; rounding up would only matter for
    # a value the column cannot hold
    return int((Decimal(value) * 1000).to_integral_value(rounding=ROUND_CEILING))


def _suggest_transfers(
    rows: list[Row],
    units: dict[int, UnitRef],
    items: dict[int, ItemRef],
    stock: dict[int, tuple[int, int, int]],
    required: dict[int, int],
    promised: dict[int, int],
    bureaus: dict[int, int],
) -> list[Transfer]:
    """Move surplus to the units that lack most, never taking a donor below its own standard
    and never across bureaus (a reader above several bureaus sees each bureau's own). What
    pending requests already ask for is neither suggested again to their target nor offered
    again from their source."""
    needs: dict[int, list[tuple[Row, int]]] = defaultdict(list)
    for row in rows:  # already worst first
        need = row.uncovered - row.pending
        if need > 0:
            needs[row.item.id].append((row, need))
    donors_by_item: dict[int, list[tuple[int, str, UnitRef]]] = defaultdict(list)
    for key, (on_hand, _, reserved) in stock.items():
        item_id = key & ITEM
        if item_id not in needs:
            continue
        unit = units.get(key >> SHIFT)
        spare = on_hand - reserved - required.get(key, 0) - promised.get(key, 0)
        if unit is not None and spare > 0:
            # sorted as tuples: the largest spare first, then by code (codes are unique)
            donors_by_item[item_id].append((-spare, unit.code, unit))
    out: list[Transfer] = []
    for item_id, wanting in needs.items():
        donors = donors_by_item.get(item_id)
        if not donors:
            continue  # nobody has any to spare
        donors.sort()
        # Donors are grouped by bureau and used up in order, largest first. A unit with
        # spare stock has no need of the same item, so donors and receivers never coincide.
        by_bureau: dict[int | None, list[list]] = defaultdict(list)
        for minus_spare, _code, unit in donors:
            by_bureau[bureaus.get(unit.id)].append([-minus_spare, unit])
        used: dict[int | None, int] = defaultdict(int)
        for row, need in wanting:
            bureau = bureaus.get(row.unit.id)
            group = by_bureau.get(bureau, [])
            d = used[bureau]
            while need > 0 and d < len(group):
                qty = min(need, group[d][0])
                out.append(Transfer(group[d][1], row.unit, items[item_id], qty))
                group[d][0] -= qty
                need -= qty
                if group[d][0] == 0:
                    d += 1
            used[bureau] = d
    return out

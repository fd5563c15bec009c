"""The read side of the ledger, for pages, the API and downloads: what a unit holds, the
ledger lines of a period, and lots about to expire."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session, contains_eager, joinedload

from inventory.models import Item, Lot, Movement, Position
from readiness import paging
from readiness.i18n import in_language_sql
from readiness.models import Unit


@dataclass
class StockRow:
    position: Position
    expired: bool
    expiring_soon: bool
    last_count_on: date | None = None


def unit_stock_query(unit: Unit):
    """Every position a unit holds (or held) with its item and lot, unordered: the stock
    page searches, filters and sorts it."""
    return (
        select(Position)
        .join(Item, Item.id == Position.item_id)
        .outerjoin(Lot, Lot.id == Position.lot_id)
        .where(Position.unit_id == unit.id)
        .options(joinedload(Position.item), joinedload(Position.lot))
    )


def where_expiry(stmt, state: str, *, today: date, soon_days: int = 90):
    """``stmt`` (joined to its lots) narrowed to the positions in one expiry state: "expired",
    "soon" (within the warning period) or "ok" (later, or never)."""
    soon = today + timedelta(days=soon_days)
    if state == "expired":
        return stmt.where(Lot.expires_on <= today)
    if state == "soon":
        return stmt.where(Lot.expires_on > today, Lot.expires_on <= soon)
    return stmt.where((Lot.expires_on.is_(None)) | (Lot.expires_on > soon))


def stock_rows(session: Session, stmt, *, today: date, soon_days: int = 90) -> list[StockRow]:
    """The positions ``stmt`` selects, in its order, each with its expiry flags."""
    soon = today + timedelta(days=soon_days)
    out = []
    for p in session.scalars(stmt).unique():
        exp = p.lot.expires_on if p.lot else None
        out.append(
            StockRow(
                p,
                expired=exp is not None and exp <= today,
                expiring_soon=exp is not None and today < exp <= soon,
            )
        )
    return out


def stock_of_unit(
    session: Session, unit: Unit, *, today: date, soon_days: int = 90
) -> list[StockRow]:
    """Every position a unit holds (or held), with expiry flags, by category and item."""
    stmt = unit_stock_query(unit).order_by(Item.category, Item.code, Lot.expires_on, Lot.code)
    return stock_rows(session, stmt, today=today, soon_days=soon_days)


# Balances by unit, item and lot (earliest expiry first, lots that never expire and stock
# held without a lot last); the position's id settles the rest. Keys never null (paging).
STOCK_ORDER = paging.Order(
    "stock",
    paging.Key(str, Unit.code),
    paging.Key(str, Item.code),
    paging.Key(date, func.coalesce(Lot.expires_on, date.max)),
    paging.Key(str, func.coalesce(Lot.code, "")),
    paging.Key(int, Position.id),
)


def stock_rows_for_api(
    session: Session, unit_ids: set[int] | None, *, limit: int, cursor: str | None
) -> tuple[list[dict], str | None]:
    """One page of balances by unit, item and lot, and the cursor of the next page."""
    stmt = (
        select(Unit.code, Item.code, Lot.code, Lot.expires_on, Position.qty)
        .join(Unit, Unit.id == Position.unit_id)
        .join(Item, Item.id == Position.item_id)
        .outerjoin(Lot, Lot.id == Position.lot_id)
    )
    if unit_ids is not None:
        stmt = stmt.where(Position.unit_id.in_(unit_ids))
    rows, next_cursor = paging.page(session, stmt, STOCK_ORDER, limit, cursor)
    return [
        {"unit": u, "item": i, "lot": lot, "expires_on": e.isoformat() if e else None, "qty": q}
        for u, i, lot, e, q in rows
    ], next_cursor


def item_history(session: Session, unit: Unit, item: Item, limit: int = 500) -> list[Movement]:
    """The ledger of one item at one unit, newest first, each line with its running balance."""
    return session.scalars(
        select(Movement)
        .where(Movement.unit_id == unit.id, Movement.item_id == item.id)
        .options(joinedload(Movement.lot))
        .order_by(Movement.id.desc())
        .limit(limit)
    ).all()


def _ledger_where(stmt, unit_ids: set[int] | None, date_from: date | None, date_to: date | None):
    """``stmt`` narrowed to the ledger lines of the given units (None: all) and days."""
    if unit_ids is not None:
        stmt = stmt.where(Movement.unit_id.in_(unit_ids))
    if date_from:
        stmt = stmt.where(Movement.at >= datetime.combine(date_from, time.min, UTC))
    if date_to:
        stmt = stmt.where(
            Movement.at < datetime.combine(date_to + timedelta(days=1), time.min, UTC)
        )
    return stmt


@dataclass(frozen=True)
class LedgerNarrowing:
    """What the ledger page narrows its lines to besides units and days: one kind, one item,
    and a search over the item (code, name in either language), lot, note and document."""

    kind: str | None = None
    item_id: int | None = None
    q: str = ""


def _ledger_narrow(stmt, narrowing: LedgerNarrowing | None):
    """``stmt`` (joined to items and, outer, to lots) narrowed as the page asks."""
    if narrowing is None:
        return stmt
    if narrowing.kind:
        stmt = stmt.where(Movement.kind == narrowing.kind)
    if narrowing.item_id is not None:
        stmt = stmt.where(Movement.item_id == narrowing.item_id)
    if narrowing.q:
        searched = (Item.code, Item.name, Item.name_en, Lot.code, Movement.note, Movement.document)
        stmt = stmt.where(or_(*(c.icontains(narrowing.q, autoescape=True) for c in searched)))
    return stmt


def ledger_query(
    unit_ids: set[int] | None,
    date_from: date | None,
    date_to: date | None,
    narrowing: LedgerNarrowing | None = None,
):
    """The ledger lines of the given units and days as movements, joined to their unit,
    item and lot (which the page's sort and search use), oldest first (for pages)."""
    stmt = (
        select(Movement)
        .join(Unit, Unit.id == Movement.unit_id)
        .join(Item, Item.id == Movement.item_id)
        .outerjoin(Lot, Lot.id == Movement.lot_id)
        .options(
            contains_eager(Movement.unit),
            contains_eager(Movement.item),
            contains_eager(Movement.lot),
        )
        .order_by(Movement.id)
    )
    return _ledger_narrow(_ledger_where(stmt, unit_ids, date_from, date_to), narrowing)


# The ledger page: newest line first (the id is the ledger's order).
LEDGER_ORDER = paging.Order("ledger", paging.Key(int, Movement.id, descending=True))
# The other orders the ledger page offers (issue 22), each ending with the line's id so that
# keyset paging never shows a line twice: every key is NOT NULL.
LEDGER_SORTS = ("time", "item", "unit", "kind", "qty")


def ledger_order(sort: str, desc: bool, *, english: bool = False) -> paging.Order:
    """The ledger's order by one of LEDGER_SORTS (time when unknown), either way round; item
    names as the reader reads them."""
    if sort == "time" or sort not in LEDGER_SORTS:
        if desc:
            return LEDGER_ORDER
        return paging.Order("ledger-time-a", paging.Key(int, Movement.id))
    first = {
        "item": paging.Key(str, in_language_sql(Item.name, Item.name_en, english), descending=desc),
        "unit": paging.Key(str, Unit.name, descending=desc),
        "kind": paging.Key(str, Movement.kind, descending=desc),
        "qty": paging.Key(int, Movement.qty, descending=desc),
    }[sort]
    tag = f"ledger-{sort}-{'en-' if english and sort == 'item' else ''}{'d' if desc else 'a'}"
    return paging.Order(tag, first, paging.Key(int, Movement.id, descending=desc))


def ledger_count(
    session: Session,
    unit_ids: set[int] | None,
    date_from: date | None,
    date_to: date | None,
    narrowing: LedgerNarrowing | None = None,
) -> int:
    """How many ledger lines the given units and days hold (narrowed as the page is)."""
    stmt = select(func.count(Movement.id)).select_from(Movement)
    if narrowing is not None and narrowing.q:
        stmt = stmt.join(Item, Item.id == Movement.item_id).outerjoin(
            Lot, Lot.id == Movement.lot_id
        )
    stmt = _ledger_narrow(_ledger_where(stmt, unit_ids, date_from, date_to), narrowing)
    return session.scalar(stmt) or 0


def _running_unit_total():
    """The unit's whole balance of the item after each ledger line (every lot together): the
    running sum of its lines in ledger order, worked out by the database in the same query."""
    return func.sum(Movement.qty).over(
        partition_by=(Movement.unit_id, Movement.item_id), order_by=Movement.id
    )


def unit_totals_after(session: Session, movements: Iterable[Movement]) -> dict[int, int]:
    """For each ledger line shown, the unit's total of its item after it (one query)."""
    movements = list(movements)
    if not movements:
        return {}
    ids = {m.id for m in movements}
    running = (
        select(Movement.id.label("id"), _running_unit_total().label("total"))
        .where(
            Movement.unit_id.in_({m.unit_id for m in movements}),
            Movement.item_id.in_({m.item_id for m in movements}),
            Movement.id <= max(ids),
        )
        .subquery()
    )
    return dict(
        session.execute(select(running.c.id, running.c.total).where(running.c.id.in_(ids))).all()
    )


# Rows fetched at a time by the ledger export: memory stays flat however long the period.
LEDGER_BATCH = 5000


def ledger_export_rows(
    session: Session,
    unit_ids: set[int] | None,
    date_from: date | None,
    date_to: date | None,
    *,
    kinds: dict[str, str],
    reasons: dict[str, str],
    narrowing: LedgerNarrowing | None = None,
    order: paging.Order | None = None,
    english: bool = False,
) -> Iterable[tuple]:
    """The ledger of the given units and days for a download (narrowed and in ``order`` as
    the page shows it; by default oldest first), as finished rows
    (id, time "YYYY-MM-DD HH:MM" UTC, unit, item, lot, kind label, qty, balance of the lot,
    the unit's total of the item, actor, reason label, document, note, and the time on the
    phone for a line sent from a phone's outbox), streamed from the database a batch at a
    time."""
    # The running total needs every earlier line of the unit, not only the period's: it is
    # summed over the units' whole ledger up to the period's end, then the period is cut.
    running = _ledger_where(
        select(Movement.id.label("id"), _running_unit_total().label("total")),
        unit_ids,
        None,
        date_to,
    ).subquery()
    # Everything is formatted by the database: a year of the city is half a million lines,
    # and a Python datetime or label lookup per line costs more than the query itself.
    if session.get_bind().dialect.name == "postgresql":
        at = func.to_char(Movement.at, "YYYY-MM-DD HH24:MI")
        device_at = func.coalesce(func.to_char(Movement.device_at, "YYYY-MM-DD HH24:MI"), "")
    else:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
        at = func.substr(type_coerce(Movement.at, String()), 1, 16)
        device_at = func.coalesce(func.substr(type_coerce(Movement.device_at, String()), 1, 16), "")
    stmt = (
        select(
            Movement.id,
            at,
            Unit.name,
            in_language_sql(Item.name, Item.name_en, english),
            func.coalesce(Lot.code, ""),
            case(kinds, value=Movement.kind, else_=Movement.kind) if kinds else Movement.kind,
            Movement.qty,
            Movement.balance_after,
            running.c.total,
            Movement.actor_name,
            case(reasons, value=Movement.reason, else_="") if reasons else literal(""),
            Movement.document,
            Movement.note,
            device_at,
        )
        .join(running, running.c.id == Movement.id)
        .join(Unit, Unit.id == Movement.unit_id)
        .join(Item, Item.id == Movement.item_id)
        .outerjoin(Lot, Lot.id == Movement.lot_id)
    )
    if order is None:
        stmt = stmt.order_by(Movement.id)
    else:
        stmt = stmt.order_by(*(k.expr.desc() if k.descending else k.expr.asc() for k in order.keys))
    stmt = _ledger_narrow(_ledger_where(stmt, unit_ids, date_from, date_to), narrowing)
    # No ORM objects, not even the ORM's row handling: a million lines cost seconds and
    # hundreds of MB. yield_per streams (a server-side cursor on PostgreSQL).
    result = session.connection().execute(stmt.execution_options(yield_per=LEDGER_BATCH))
    for partition in result.partitions():
        yield from partition


# ---------------------------------------------------------------- expiry


@dataclass
class ExpiryRow:
    position: Position
    days_left: int


def expiring_lots(
    session: Session, unit_ids: set[int] | None, *, today: date, within_days: int = 90
) -> list[ExpiryRow]:
    """Lots held (qty > 0) that expire within N days or have already expired, soonest first."""
    stmt = _expiring_query(unit_ids, today=today, within_days=within_days).order_by(
        *(key.expr for key in EXPIRY_ORDER.keys)
    )
    return [ExpiryRow(p, (p.lot.expires_on - today).days) for p in session.scalars(stmt)]


# Soonest expiry first, then by unit; the position's id settles the rest.
EXPIRY_ORDER = paging.Order(
    "expiry",
    paging.Key(date, Lot.expires_on),
    paging.Key(int, Position.unit_id),
    paging.Key(int, Position.id),
)


def _expiring_query(unit_ids: set[int] | None, *, today: date, within_days: int):
    horizon = today + timedelta(days=within_days)
    stmt = (
        select(Position)
        .join(Lot, Lot.id == Position.lot_id)
        .where(Position.qty > 0, Lot.expires_on.is_not(None), Lot.expires_on <= horizon)
        .options(joinedload(Position.unit), joinedload(Position.item), joinedload(Position.lot))
    )
    if unit_ids is not None:
        stmt = stmt.where(Position.unit_id.in_(unit_ids))
    return stmt


def expiring_page(
    session: Session,
    unit_ids: set[int] | None,
    *,
    today: date,
    within_days: int,
    limit: int,
    cursor: str | None,
    cursor_name: str = "cursor",
) -> tuple[list[ExpiryRow], str | None]:
    """One page of :func:`expiring_lots` after ``cursor``, and the cursor of the next page."""
    stmt = _expiring_query(unit_ids, today=today, within_days=within_days)
    positions, next_cursor = paging.page(
        session, stmt, EXPIRY_ORDER, limit, cursor, name=cursor_name
    )
    return [ExpiryRow(p, (p.lot.expires_on - today).days) for p in positions], next_cursor

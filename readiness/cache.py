"""Reports computed once per state of the database, and reused until something is written.

The key of a cached result names the exact state of the data it was computed from:

- PostgreSQL: the transaction snapshot (``pg_current_snapshot()``). Two snapshots with the same
  xmin, xmax and in-progress list see the same rows in every table, and any write committed
  anywhere moves xmax on, so a changed database always means a new key.
- SQLite: the newest audit-log id. SQLite runs one writer at a time, so ids are handed out in
  commit order, and every write in this application records an audit entry in the same
  transaction (the rule the audit log exists for).

A transaction that has written and not yet committed sees data nobody else sees: it gets no
key and always computes afresh. The cache lives in each process (no server state is shared),
holds a few results, and hands out the same objects to every caller: results must be plain
values (dataclasses, no ORM objects) that callers do not modify.

One computation per key at a time (issue 21): when the result is missing, the first caller
computes it and every other caller asking for the same key and the same data waits for that
result instead of computing it again — sixteen clients opening the dashboard after a write
cost one computation, not sixteen. A computation that fails lets the next waiter try.

A caller may instead take the previous result while the new one is computed
(``cached_or_previous``): the dashboard does, and says from when its figures are, so that
after every write only the one request computing it waits. Reports that a user opens to check
what they have just recorded (the shortfall report, the API) always wait for the current one.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from readiness.models import AuditEntry

T = TypeVar("T")
SIZE = 16

_results: OrderedDict[Hashable, object] = OrderedDict()
_lock = threading.Lock()
# keys being computed now, each with the event set when its computation ends
_computing: dict[Hashable, threading.Event] = {}
# keys (database, key: any state of the data) being computed now, and the newest result
# finished for each with when it was computed (what cached_or_previous hands out meanwhile)
_computing_any: Counter[Hashable] = Counter()
_previous: OrderedDict[Hashable, tuple[object, datetime]] = OrderedDict()
# how long a caller waits for another's computation before computing itself (a stuck
# computation must not hold every request for the same report)
WAIT_SECONDS = 30.0


def data_version(session: Session) -> Hashable | None:
    """The state of the data this session sees, or None while it holds uncommitted writes."""
    if session.new or session.dirty or session.deleted:
        return None
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        snapshot, own_xid = connection.execute(
            text("SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned()")
        ).one()
        return None if own_xid is not None else ("pg", snapshot)
    if connection.dialect.name == "sqlite":
        if connection.connection.driver_connection.in_transaction:
            return None  # this connection has written: a write transaction is open
        return ("sqlite", session.scalar(select(func.max(AuditEntry.id))))
    return None


def cached(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or the result computed earlier for the same key and the same data."""
    return _cached(session, key, compute, previous=False)[0]


def cached_or_previous(
    session: Session, key: Hashable, compute: Callable[[], T]
) -> tuple[T, datetime | None]:
    """As ``cached``, except while someone else computes this key for a newer state of the
    data: then the previous result is handed out at once, with when it was computed (None:
    the result is current)."""
    return _cached(session, key, compute, previous=True)


def _cached(
    session: Session, key: Hashable, compute: Callable[[], T], *, previous: bool
) -> tuple[T, datetime | None]:
    version = data_version(session)
    if version is None:
        return compute(), None
    # the database too: tests and tools open many databases in one process
    base_key = (str(session.get_bind().url), key)
    full_key = (base_key, version)
    while True:
        with _lock:
            if full_key in _results:
                _results.move_to_end(full_key)
                return _results[full_key], None  # type: ignore[return-value]
            if previous and _computing_any[base_key] and base_key in _previous:
                result, at = _previous[base_key]
                return result, at  # type: ignore[return-value]
            running = _computing.get(full_key)
            if running is None:
                done = _computing[full_key] = threading.Event()
                _computing_any[base_key] += 1
                break
        # someone else computes this very result: wait for it, then read it (or, if their
        # computation failed or takes too long, compute it here)
        if not running.wait(WAIT_SECONDS):
            return compute(), None
    try:
        result = compute()
        with _lock:
            _results[full_key] = result
            while len(_results) > SIZE:
                _results.popitem(last=False)
            _previous[base_key] = (result, datetime.now(UTC))
            _previous.move_to_end(base_key)
            while len(_previous) > SIZE:
                _previous.popitem(last=False)
        return result, None
    finally:
        with _lock:
            _computing.pop(full_key, None)
            _computing_any[base_key] -= 1
            if not _computing_any[base_key]:
                del _computing_any[base_key]
        done.set()


def clear() -> None:
    with _lock:
        _results.clear()
        _previous.clear()

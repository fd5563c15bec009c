"""Ledger properties for any sequence of movements, counts and allocations (Hypothesis):
the balance equals the sum of the movements, never goes below zero, a refused write changes
nothing, and `inventory verify` finds no difference."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from inventory import allocations as alloc
from inventory import catalog, counts, ledger
from inventory.models import Movement, Position
from readiness import services
from readiness.errors import DomainError
from readiness.permissions import SYSTEM

pytestmark = pytest.mark.slow  # hypothesis property tests of the ledger

THRESHOLD = Decimal("50000")
SERIAL = itertools.count(1)

qty = st.integers(min_value=1, max_value=60)
place = st.sampled_from(["wh", "st"])
operation = st.one_of(
    st.tuples(st.just("receipt"), place, qty),
    st.tuples(st.just("issue"), place, qty),
    st.tuples(st.just("write_off"), place, qty),
    st.tuples(st.just("count"), place, st.integers(min_value=0, max_value=80)),
    st.tuples(st.just("transfer"), st.just("wh"), qty),
)


def _world(session):
    """Fresh units, users and an item for one example (codes never repeat across examples)."""
    n = next(SERIAL)
    make = lambda code, kind, parent=None: services.create_unit(  # noqa: E731
        session,
        code=f"{code}{n}",
        name=f"{code}{n}",
        kind=kind,
        parent=parent,
        headcount=10,
        actor=SYSTEM,
    )
    bureau = make("PB", "bureau")
    units = {"wh": make("PWH", "warehouse", bureau), "st": make("PST", "station", bureau)}
    roles = {
        "wh": ("keeper", units["wh"]),
        "st": ("clerk", units["st"]),
        "cmd": ("command", bureau),
    }
    people = {
        key: services.create_user(
            session,
            username=f"p{role}{n}",
            password="secret-pass-1",
            role=role,
            unit=unit,
            actor=SYSTEM,
        )
        for key, (role, unit) in roles.items()
    }
    item = catalog.create_item(
        session,
        code=f"PI{n}",
        name=f"物资{n}",
        category="防汛",
        uom="件",
        unit_cost="10.00",
        shelf_life_days=None,
        tracking="bulk",
        actor=SYSTEM,
    )
    session.commit()
    return units, people, item


def _book(session, unit, item) -> tuple[int, int, int]:
    """(balance, reserved, sum of the unit's movements) for the item."""
    session.expire_all()
    balance, reserved = session.execute(
        select(
            func.coalesce(func.sum(Position.qty), 0), func.coalesce(func.sum(Position.reserved), 0)
        ).where(Position.unit_id == unit.id, Position.item_id == item.id)
    ).one()
    moved = session.scalar(
        select(func.coalesce(func.sum(Movement.qty), 0)).where(
            Movement.unit_id == unit.id, Movement.item_id == item.id
        )
    )
    return int(balance), int(reserved), int(moved)


def _apply(session, op, units, people, item):
    kind, where, n = op
    unit, person = units[where], people[where]
    if kind in ("receipt", "issue", "write_off"):
        ledger.record_movement(
            session,
            unit=unit,
            item=item,
            kind=kind,
            qty=n,
            actor=person,
            reason="damaged" if kind == "write_off" else "",
        )
    elif kind == "count":
        count = counts.start_count(session, unit, actor=person)
        counts.enter_count(session, count, item, None, n, actor=person)
        counts.submit_count(session, count, actor=person)
        counts.approve_count(session, count, actor=people["cmd"])
    else:
        a = alloc.create_allocation(
            session,
            from_unit=units["wh"],
            to_unit=units["st"],
            lines=[alloc.LineInput(item.code, n)],
            reason="补齐",
            actor=people["st"],
        )
        alloc.approve_allocation(session, a, actor=people["cmd"], threshold=THRESHOLD)
        alloc.dispatch_allocation(session, a, actor=people["wh"])
        alloc.receive_allocation(session, a, actor=people["st"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_any_sequence_keeps_the_books_equal_to_the_ledger(session, ops):
    units, people, item = _world(session)
    expected = {"wh": 0, "st": 0}
    for op in ops:
        kind, where, n = op
        before = {k: _book(session, u, item) for k, u in units.items()}
        try:
            _apply(session, op, units, people, item)
        except DomainError:
            event(f"{kind} refused")
            session.rollback()
            # refused: exactly as before, and only when the stock really was short
            assert {k: _book(session, u, item) for k, u in units.items()} == before
            assert kind in ("issue", "write_off", "transfer") and n > expected[where]
            continue
        session.commit()
        event(f"{kind} done")
        if kind == "receipt":
            expected[where] += n
        elif kind in ("issue", "write_off"):
            expected[where] -= n
        elif kind == "count":
            expected[where] = n
        else:
            expected["wh"] -= n
            expected["st"] += n
        for key, unit in units.items():
            balance, reserved, moved = _book(session, unit, item)
            assert balance == moved == expected[key] >= 0
            assert reserved == 0
    assert ledger.verify_balances(session) == []

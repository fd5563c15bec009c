"""20 clients at once on the same stock (PostgreSQL): issuing, counting, approving counts,
dispatching and receiving allocations through the API for a bounded time. No request fails
with a 500, every allocation leaves the warehouse once, and the books equal the ledger."""

import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from inventory import allocations as alloc
from inventory import ledger
from inventory.models import Allocation, Movement, Position
from readiness.permissions import SYSTEM
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(BACKEND != "postgresql", reason="needs real concurrent connections"),
]

CLIENTS = 20
SECONDS = 8
MAX_REQUESTS = 40  # per client


@pytest.fixture
def app_config():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": CLIENTS + 5, "max_overflow": 5}}


def test_twenty_clients_on_the_same_stock(
    app, session, make_unit, make_item, make_user, make_token, stock
):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    st = make_unit("ST", name="大冶派出所")
    item = make_item("LJ", name="救生衣", unit_cost="120.00")
    stock(wh, item, 3000)
    stock(st, item, 300)
    keepers = [make_user(f"keeper{n}", "keeper", wh) for n in range(9)]
    clerks = [make_user(f"clerk{n}", "clerk", st) for n in range(8)]
    commands = [make_user(f"cmd{n}", "command", None) for n in range(3)]
    allocations = []
    for _ in range(40):
        a = alloc.create_allocation(
            session,
            from_unit=wh,
            to_unit=st,
            lines=[alloc.LineInput("LJ", 5)],
            reason="汛前补齐",
            actor=SYSTEM,
        )
        alloc.approve_allocation(session, a, actor=commands[0], threshold=Decimal("50000"))
        allocations.append(a.id)
    session.commit()
    tokens = {u.username: make_token(u) for u in [*keepers, *clerks, *commands]}
    counts_to_approve: list[int] = []
    statuses: Counter = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS
    start = threading.Barrier(CLIENTS)

    def call(client, headers, method, path, body=None):
        response = client.open(path, method=method, json=body or {}, headers=headers)
        with lock:
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{method} {path}: {response.get_data(as_text=True)[:200]}")
            elif response.status_code >= 400 and "error" not in (response.get_json() or {}):
                failures.append(f"{method} {path}: error without the API's shape")
        return response

    def work(user, role, seed):
        with app.app_context():
            run(user, role, seed)

    def run(user, role, seed):
        rng = random.Random(seed)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[user.username]}"}
        unit = "WH" if role == "keeper" else "ST"
        start.wait()
        for _ in range(MAX_REQUESTS):
            if time.monotonic() > deadline:
                break
            choice = rng.random()
            if role == "command":
                with lock:
                    count_id = counts_to_approve.pop() if counts_to_approve else None
                if count_id is None:
                    call(client, headers, "GET", "/api/v1/reports/shortfall")
                else:
                    call(client, headers, "POST", f"/api/v1/counts/{count_id}/approve")
            elif choice < 0.5:
                body = {"unit": unit, "item": "LJ", "kind": "issue", "qty": rng.randint(1, 30)}
                call(client, headers, "POST", "/api/v1/movements", body)
            elif choice < 0.65:
                # a count of what the shelves hold, give or take a piece
                held = client.get(f"/api/v1/stock?unit={unit}", headers=headers).get_json()
                qty = sum(r["qty"] for r in held["rows"]) + rng.randint(-2, 2)
                body = {"unit": unit, "lines": [{"item": "LJ", "counted": max(0, qty)}]}
                response = call(client, headers, "POST", "/api/v1/counts", body)
                if response.status_code == 201:
                    with lock:
                        counts_to_approve.append(response.get_json()["id"])
            else:
                target = rng.choice(allocations)
                action = "dispatch" if role == "keeper" else "receive"
                call(client, headers, "POST", f"/api/v1/allocations/{target}/{action}")

    workers = [
        threading.Thread(target=work, args=(u, role, n))
        for n, (u, role) in enumerate(
            [(u, "keeper") for u in keepers]
            + [(u, "clerk") for u in clerks]
            + [(u, "command") for u in commands]
        )
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    assert failures == []
    assert sum(statuses.values()) >= CLIENTS * 5, statuses
    assert statuses[201] + statuses[200] > 0 and statuses[409] > 0, statuses

    session.expire_all()
    assert ledger.verify_balances(session) == []
    assert session.scalar(select(func.min(Position.qty))) >= 0
    sent = Counter(
        session.scalars(
            select(Movement.document).where(
                Movement.kind == "transfer_out", Movement.unit_id == wh.id
            )
        )
    )
    assert all(n == 1 for n in sent.values()), sent  # each allocation leaves once
    dispatched = session.scalar(
        select(func.count())
        .select_from(Allocation)
        .where(Allocation.status.in_(["dispatched", "received", "closed"]))
    )
    assert dispatched == len(sent)

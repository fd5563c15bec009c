"""A writer killed with SIGKILL in the middle of a transaction leaves the database consistent:
what it committed is there, what it had not committed is not, and the books match the ledger."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select, text

from inventory import ledger
from inventory.models import Movement, Position
from readiness.permissions import SYSTEM
from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, time
    from readiness import create_app
    from readiness.extensions import db
    from readiness.permissions import SYSTEM
    from readiness import services
    from inventory import ledger
    from inventory.models import Item

    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        s = db.session
        unit = services.get_unit(s, "CRASH")
        item = s.scalar(db.select(Item).where(Item.code == "CR1"))
        for _ in range(5):  # committed: these must survive
            ledger.record_movement(s, unit=unit, item=item, kind="receipt", qty=10, actor=SYSTEM)
            s.commit()
        # one transaction with many writes, never committed
        for _ in range(200):
            ledger.record_movement(s, unit=unit, item=item, kind="receipt", qty=1, actor=SYSTEM)
        ledger.record_movement(s, unit=unit, item=item, kind="issue", qty=40, actor=SYSTEM)
        s.flush()
        print("mid-transaction", flush=True)
        time.sleep(120)
    """
)


def test_a_writer_killed_mid_transaction_leaves_the_books_consistent(
    session, database_url, make_unit, make_item
):
    unit = make_unit("CRASH")
    item = make_item("CR1")
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            line = writer.stdout.readline()
            assert line.strip() == "mid-transaction", writer.stderr.read()[-2000:]
            os.kill(writer.pid, signal.SIGKILL)
            assert writer.wait(timeout=30) == -signal.SIGKILL
        finally:
            if writer.poll() is None:
                writer.kill()
    session.expire_all()
    if BACKEND == "sqlite":
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    # only the five committed receipts are in the ledger and on the shelf
    moved = session.scalars(select(Movement.qty).where(Movement.unit_id == unit.id)).all()
    assert moved == [10, 10, 10, 10, 10]
    held = session.scalar(
        select(func.sum(Position.qty)).where(
            Position.unit_id == unit.id, Position.item_id == item.id
        )
    )
    assert held == 50
    assert ledger.verify_balances(session) == []
    # and the database takes writes again at once (no lock left behind)
    ledger.record_movement(session, unit=unit, item=item, kind="issue", qty=5, actor=SYSTEM)
    session.commit()
    assert ledger.verify_balances(session) == []

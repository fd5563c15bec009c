"""Migration 0020 (issue 19) on a database with a ledger: every movement keeps its lines as
they were (no phone time, reversing nothing), a movement can be reversed once only, a spot
count's request key is unique; going back down leaves the ledger as it was."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config
from tests.migration_rows import insert_item, insert_warehouse

pytestmark = pytest.mark.slow  # runs the migrations up and down

MOVEMENT = (
    "INSERT INTO movements (id, position_id, unit_id, item_id, lot_id, kind, qty,"
    " balance_after, at, actor_id, actor_name, note, reason, document, serials, request_key"
    "{extra_cols}) VALUES ({id}, 1, 1, 1, NULL, '{kind}', {qty}, {balance},"
    " '2026-12-01 08:00:00', NULL, 'wang', '', '', '', '', NULL{extra_vals})"
)


def _movement(mid, kind, qty, balance, reverses=None):
    extra_cols = ", reverses_id" if reverses is not None else ""
    extra_vals = f", {reverses}" if reverses is not None else ""
    return text(
        MOVEMENT.format(
            id=mid,
            kind=kind,
            qty=qty,
            balance=balance,
            extra_cols=extra_cols,
            extra_vals=extra_vals,
        )
    )


def test_the_ledger_keeps_its_lines_and_a_line_is_reversed_once(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0019")
        run = db.session.execute
        insert_warehouse()
        insert_item("KIT", "急救包")
        run(
            text(
                "INSERT INTO positions (id, unit_id, item_id, lot_id, qty, reserved, updated_at)"
                " VALUES (1, 1, 1, NULL, 35, 0, '2026-12-01 08:00:00')"
            )
        )
        run(_movement(1, "receipt", 38, 38))
        run(_movement(2, "issue", -3, 35))
        db.session.commit()
        upgrade(revision="0020")
        # fresh connections, as the app opens them (foreign keys on: the rebuild turned
        # them off on the migration's own connection)
        db.session.remove()
        db.engine.dispose()
        rows = db.session.execute(
            text("SELECT id, qty, device_at, reverses_id FROM movements ORDER BY id")
        ).all()
        assert [tuple(r) for r in rows] == [(1, 38, None, None), (2, -3, None, None)]
        run(_movement(3, "reversal", 3, 38, reverses=2))
        db.session.commit()
        with pytest.raises(IntegrityError):
            run(_movement(4, "reversal", 3, 41, reverses=2))
        db.session.rollback()
        with pytest.raises(IntegrityError):  # reversing a line that does not exist
            run(_movement(5, "reversal", 3, 41, reverses=99))
            db.session.flush()
            db.session.commit()
        db.session.rollback()
        for cid in (1, 2):
            statement = text(
                "INSERT INTO counts (id, unit_id, status, is_spot, note, started_at,"
                " is_blind, request_key) VALUES (:id, 1, 'submitted', :t, '',"
                " '2026-12-01 08:00:00', :f, 'phone-key-0000000001')"
            )
            if cid == 1:
                run(statement, {"id": cid, "t": True, "f": False})
                db.session.commit()
            else:
                with pytest.raises(IntegrityError):
                    run(statement, {"id": cid, "t": True, "f": False})
                db.session.rollback()
        db.session.commit()
        downgrade(revision="0019")
        columns = {c["name"] for c in inspect(db.engine).get_columns("movements")}
        assert "device_at" not in columns and "reverses_id" not in columns
        assert db.session.execute(text("SELECT COUNT(*) FROM movements")).scalar() == 3
        db.session.remove()
        db.engine.dispose()

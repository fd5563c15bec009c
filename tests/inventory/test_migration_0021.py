"""Migration 0021 (issue 20, item 1) on a database with serial pieces: every piece keeps its
status, a piece may now be out of service, records keep their kinds and results; going back
down turns a piece out of service into one under repair (the old statuses) and keeps the
rest."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config
from tests.migration_rows import insert_item, insert_warehouse

pytestmark = pytest.mark.slow  # runs the migrations up and down

ASSET = (
    "INSERT INTO assets (id, item_id, serial, unit_id, status, note, registered_at)"
    " VALUES ({id}, 1, '{serial}', 1, '{status}', '', '2025-06-01 08:00:00')"
)
RECORD = (
    "INSERT INTO maintenance_records (asset_id, unit_id, kind, done_on, result, readings, note,"
    " vendor, cost, recorded_at) VALUES (1, 1, '{kind}', '2026-11-30', '{result}', '', '', '',"
    " NULL, '2026-11-30 09:00:00')"
)


def test_pieces_keep_their_status_and_may_be_out_of_service(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0020")
        run = db.session.execute
        insert_warehouse()
        insert_item("PUMP", "排水泵", tracking="serial")
        run(text(ASSET.format(id=1, serial="P-1", status="in_service")))
        run(text(ASSET.format(id=2, serial="P-2", status="under_repair")))
        db.session.commit()
        upgrade(revision="0021")
        db.session.remove()
        db.engine.dispose()
        statuses = run(text("SELECT serial, status FROM assets ORDER BY id")).all()
        assert [tuple(r) for r in statuses] == [("P-1", "in_service"), ("P-2", "under_repair")]
        assert run(text("SELECT service_interval_days FROM items")).scalar() is None
        run(text("UPDATE assets SET status = 'out_of_service' WHERE id = 1"))
        run(text(RECORD.format(kind="function_test", result="fail")))
        db.session.commit()
        for bad in (
            RECORD.format(kind="painting", result="pass"),
            RECORD.format(kind="service", result="maybe"),
            "UPDATE items SET test_interval_days = 0",
            "UPDATE assets SET status = 'lost' WHERE id = 2",
        ):
            with pytest.raises(IntegrityError):
                run(text(bad))
                db.session.flush()
            db.session.rollback()
        db.session.commit()
        db.session.remove()
        downgrade(revision="0020")
        assert "maintenance_records" not in inspect(db.engine).get_table_names()
        statuses = run(text("SELECT serial, status FROM assets ORDER BY id")).all()
        assert [tuple(r) for r in statuses] == [("P-1", "under_repair"), ("P-2", "under_repair")]
        db.session.remove()
        db.engine.dispose()

"""Migration 0007 on a database that already holds drills (an existing installation)."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations up and down


@pytest.mark.skipif(
    BACKEND != "sqlite",
    reason="only SQLite rebuilds the drills table (batch mode); PostgreSQL alters it in place",
)
def test_upgrading_keeps_existing_drills_and_their_findings(tmp_path):
    app = create_app(_base_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="0006")
        db.session.execute(
            text(
                "INSERT INTO units (id, code, name, kind, headcount, is_active, created_at,"
                " version) VALUES (1, 'DAYE', '大冶派出所', 'station', 28, 1,"
                " '2022-01-01 00:00:00', 1)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO drills (id, title, kind, form, scope, hazard, scenario, held_on,"
                " duration_minutes, location, lead_unit_id, participants, roster,"
                " hands_on_training, summary, is_real_incident, status, created_at)"
                " VALUES (1, '防汛演练', 'flood_drill', 'live', 'comprehensive', '', '',"
                " '2022-06-28', 240, '', 1, 260, '', 0, '', 0, 'held', '2022-06-28 08:00:00')"
            )
        )
        db.session.execute(text("INSERT INTO drill_units VALUES (1, 1)"))
        db.session.execute(
            text("INSERT INTO findings (id, drill_id, is_strength, text) VALUES (1, 1, 0, '分工')")
        )
        db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT title, kind FROM drills")).all() == [
            ("防汛演练", "flood_drill")
        ]
        assert db.session.execute(text("SELECT count(*) FROM findings")).scalar() == 1
        assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        downgrade(revision="0006")
        assert db.session.execute(text("SELECT count(*) FROM drills")).scalar() == 1
        db.engine.dispose()

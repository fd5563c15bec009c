"""Migration 0008 adds the shelter tables to an existing installation, and can be undone."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations up and down

SHELTER_TABLES = {
    "villages",
    "shelters",
    "shelter_villages",
    "shelter_inspections",
    "shelter_defects",
}


def test_upgrading_from_0007_keeps_units_and_adds_the_shelter_tables(tmp_path, database_url):
    # PostgreSQL: the migrated test database, stepped down and back up again
    url = f"sqlite:///{tmp_path / 'old.db'}" if BACKEND == "sqlite" else database_url
    app = create_app(_base_config(url))
    with app.app_context():
        if BACKEND == "sqlite":
            upgrade(revision="0007")
        else:
            downgrade(revision="0007")
        assert not SHELTER_TABLES & set(inspect(db.engine).get_table_names())
        db.session.execute(
            text(
                "INSERT INTO units (code, name, kind, headcount, is_active, created_at, version)"
                " VALUES ('WL-ST', '石塘镇', 'town', 0, true, '2022-01-01 00:00:00', 1)"
            )
        )
        db.session.commit()
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= SHELTER_TABLES
        town_id = db.session.execute(text("SELECT id FROM units WHERE code = 'WL-ST'")).scalar()
        db.session.execute(
            text(
                "INSERT INTO villages (town_id, name, kind, population, to_relocate, created_at)"
                " VALUES (:t, '海山村', 'village', 1200, 80, '2022-01-01 00:00:00')"
            ),
            {"t": town_id},
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

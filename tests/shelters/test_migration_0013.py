"""Migration 0013 (issue 16, item 5): every site already marked standardized counts as
accepted by the system on the acceptance date it had; other sites stay unaccepted."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations

NEW_TABLES = {"shelter_acceptances", "shelter_acceptance_documents", "coverage_targets"}


def _site(name: str, town_id: int, standardized: bool, on: str | None) -> dict:
    return {"n": name, "t": town_id, "s": standardized, "on": on}


def test_migration_0013_carries_standardized_sites_over_as_accepted_by_the_system(
    tmp_path, database_url
):
    # PostgreSQL: the migrated test database, stepped down and back up again
    url = f"sqlite:///{tmp_path / 'old.db'}" if BACKEND == "sqlite" else database_url
    app = create_app(_base_config(url))
    with app.app_context():
        if BACKEND == "sqlite":
            upgrade(revision="0012")
        else:
            downgrade(revision="0012")
        assert not NEW_TABLES & set(inspect(db.engine).get_table_names())
        db.session.execute(
            text(
                "INSERT INTO units (code, name, kind, headcount, is_active, created_at, version)"
                " VALUES ('WL-ST', '石塘镇', 'town', 0, true, '2022-01-01 00:00:00', 1)"
            )
        )
        town_id = db.session.execute(text("SELECT id FROM units WHERE code = 'WL-ST'")).scalar()
        for site in (
            _site("石塘镇中心小学", town_id, True, "2020-07-01"),
            _site("里箬村祠堂", town_id, False, None),
        ):
            db.session.execute(
                text(
                    "INSERT INTO shelters (name, town_id, address, level, capacity, structure,"
                    " is_accessible, has_generator, is_in_floodplain, is_standardized,"
                    " standardized_on, status, manager_name, manager_phone, contacts, note,"
                    " created_at, version) VALUES (:n, :t, '', 'town', 400, 'frame', false,"
                    " false, false, :s, :on, 'active', '', '', '', '',"
                    " '2024-03-01 08:00:00', 1)"
                ),
                site,
            )
        db.session.commit()
        upgrade(revision="0013")
        assert set(inspect(db.engine).get_table_names()) >= NEW_TABLES
        rows = db.session.execute(
            text(
                "SELECT s.name, a.status, a.accepted_on, a.accepted_by_id, a.requested_at,"
                " a.note FROM shelter_acceptances a JOIN shelters s ON s.id = a.shelter_id"
            )
        ).all()
        assert len(rows) == 1
        name, status, accepted_on, accepted_by, requested_at, note = rows[0]
        assert (name, status, str(accepted_on)[:10]) == ("石塘镇中心小学", "accepted", "2020-07-01")
        assert accepted_by is None and requested_at is None  # by the system, never asked
        assert note == "系统迁移：原已标记为规范化"
        if BACKEND == "sqlite":
            downgrade(revision="0012")
            assert not NEW_TABLES & set(inspect(db.engine).get_table_names())
            standardized = db.session.execute(
                text("SELECT is_standardized FROM shelters WHERE name = '石塘镇中心小学'")
            ).scalar()
            assert standardized  # the flag stays with the site
        else:
            upgrade()  # the test database goes back to the head for the next tests
        db.session.remove()
        db.engine.dispose()

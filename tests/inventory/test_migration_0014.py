"""Migration 0014 on a database that already holds a standard edition: the edition gets no
unit, so it keeps applying everywhere; a unit's own edition, published afterwards, wins
for that unit's tree only."""

from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations up and down


def _seed_0013():
    run = db.session.execute
    t = {"t": True}
    run(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES"
            " (1, 'DF', '登封市公安局', 'bureau', NULL, 0, :t, '2022-01-01 00:00:00', 1),"
            " (2, 'DAYE', '大冶派出所', 'station', 1, 28, :t, '2022-01-01 00:00:00', 1),"
            " (3, 'WL', '温岭市应急管理局', 'bureau', NULL, 0, :t, '2022-01-01 00:00:00', 1)"
        ),
        t,
    )
    run(
        text(
            "INSERT INTO items (id, code, name, category, uom, unit_cost, tracking,"
            " is_active, created_at) VALUES (1, 'LJ', '救生衣', '防汛', '件', 120, 'bulk', :t,"
            " '2022-01-01 00:00:00')"
        ),
        t,
    )
    run(
        text(
            "INSERT INTO standard_versions (id, effective_from, note, published_at,"
            " published_by_id) VALUES (1, '2022-07-01', '应急装备现代化',"
            " '2022-06-30 00:00:00', NULL)"
        )
    )
    run(
        text(
            "INSERT INTO standard_lines (id, version_id, unit_kind, item_id, base_qty,"
            " per_officer) VALUES (1, 1, 'station', 1, 2, 1)"
        )
    )
    db.session.commit()


def test_migration_0014_existing_editions_apply_everywhere(empty_url):
    from inventory.models import StandardVersion
    from inventory.standard import requirements_for_unit, standard_as_of
    from readiness.models import Unit

    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0013")
        _seed_0013()
        upgrade(revision="0014")
        assert db.session.execute(text("SELECT id, unit_id FROM standard_versions")).all() == [
            (1, None)
        ]
        assert "unit_id" in {c["name"] for c in inspect(db.engine).get_columns("standard_versions")}
        # the services below read through today's models: bring the rest of the schema up
        db.session.remove()
        upgrade()
        on = date(2026, 1, 1)
        daye, wl = db.session.get(Unit, 2), db.session.get(Unit, 3)
        assert standard_as_of(db.session, on, daye).id == 1
        assert standard_as_of(db.session, on, wl).id == 1
        assert [r.required for r in requirements_for_unit(db.session, daye, on)] == [30]
        # Dengfeng's own edition, published after the upgrade, wins below Dengfeng only.
        version = StandardVersion(id=2, effective_from=date(2025, 1, 1), unit_id=1)
        db.session.add(version)
        db.session.commit()
        assert standard_as_of(db.session, on, daye).id == version.id
        assert standard_as_of(db.session, on, wl).id == 1
        # Down again: only the edition for everywhere fits the old table.
        db.session.remove()  # no open read may hold the table the downgrade rebuilds
        downgrade(revision="0013")
        assert db.session.execute(text("SELECT id FROM standard_versions")).scalars().all() == [1]
        if BACKEND == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        db.session.remove()
        db.engine.dispose()

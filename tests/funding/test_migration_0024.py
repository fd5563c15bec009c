"""Migration 0024 (issue 20, items 4–7) on a database with shelter inspections: a subsidy
written on an inspection becomes a proposed subsidy of the site's town for the inspection's
year, proposed by whoever recorded it (nobody had approved it); an inspection without one
proposes nothing; the fund's balance cannot go below zero in the database; going back down
drops the new tables and keeps the inspections."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config
from tests.migration_rows import insert_user

pytestmark = pytest.mark.slow  # runs the migrations up and down

TOWN = (
    "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active, created_at,"
    " version) VALUES (1, 'WL-ST', '石塘镇', 'town', NULL, 66, :t, '2022-01-01 00:00:00', 1)"
)
SITE = (
    "INSERT INTO shelters (id, name, town_id, address, level, capacity, structure,"
    " is_accessible, has_generator, is_in_floodplain, is_standardized, status, manager_name,"
    " manager_phone, contacts, note, created_at, version) VALUES (1, '石塘小学', 1, '', 'town',"
    " 200, 'frame', :f, :f, :f, :f, 'active', '', '', '', '', '2022-01-01 00:00:00', 1)"
)
INSPECTION = (
    "INSERT INTO shelter_inspections (id, shelter_id, inspected_on, inspector, checklist,"
    " replenished_qty, rotated_qty, subsidy, note, recorded_by_id, created_at) VALUES ({id}, 1,"
    " '{day}', '', '{{}}', 0, 0, {subsidy}, '', 1, '2022-12-20 08:00:00')"
)


def test_subsidies_on_inspections_become_proposals_and_come_and_go(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0023")
        run = db.session.execute
        flags = {"t": True, "f": False}
        run(text(TOWN), flags)
        insert_user("shitang", "clerk")
        run(text(SITE), flags)
        run(text(INSPECTION.format(id=1, day="2022-12-20", subsidy="96000.00")))
        run(text(INSPECTION.format(id=2, day="2023-03-01", subsidy="0")))
        db.session.commit()
        upgrade(revision="0024")
        rows = run(
            text(
                "SELECT inspection_id, unit_id, year, amount, status, proposed_by_id"
                " FROM shelter_subsidies"
            )
        ).all()
        assert [tuple(r) for r in rows] == [(1, 1, 2022, 96000, "proposed", 1)]
        run(text("INSERT INTO reserve_funds (unit_id, balance) VALUES (1, 10)"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            run(text("UPDATE reserve_funds SET balance = balance - 10.01"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()
        downgrade(revision="0023")
        tables = set(inspect(db.engine).get_table_names())
        assert "shelter_subsidies" not in tables and "reserve_funds" not in tables
        assert run(text("SELECT count(*) FROM shelter_inspections")).scalar() == 2
        db.session.remove()
        db.engine.dispose()

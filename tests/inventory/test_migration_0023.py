"""Migration 0023 (issue 20, item 2) on a database with corrective actions: existing actions
are kept, an action may now come from a pre-season check, the checks' rules hold in the
database (one season per unit and year, one check per unit and year, a known item kind, a
failed item says why, an answer is dated); going back down drops the checks and their
actions and keeps every other action."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config
from tests.migration_rows import insert_user, insert_warehouse

pytestmark = pytest.mark.slow  # runs the migrations up and down

ACTION = (
    "INSERT INTO corrective_actions (id, source, text, measures, leader, element, owner_id,"
    " unit_id, due_on, status, evidence, cancel_reason, created_at)"
    " VALUES ({id}, '{source}', '{text}', '', '', 'planning', 1, 1, '2027-06-01', 'open', '',"
    " '', '2026-12-04 08:00:00')"
)
SEASON = (
    "INSERT INTO flood_seasons (id, unit_id, year, starts_on, lead_days, set_at)"
    " VALUES ({id}, 1, {year}, '{year}-06-01', {lead}, '2026-12-04 08:00:00')"
)
CHECK = (
    "INSERT INTO preseason_checks (id, unit_id, season_id, year, opened_on, opened_at)"
    " VALUES ({id}, 1, 1, {year}, '2027-05-02', '2027-05-02 08:00:00')"
)
ITEM = (
    "INSERT INTO preseason_items (check_id, position, kind, item, is_ok, note, answered_at,"
    " action_id) VALUES (1, {position}, '{kind}', '专人负责', {ok}, '{note}', {at}, {action})"
)
AT = "'2027-05-03 08:00:00'"


def test_actions_are_kept_and_checks_come_and_go(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0022")
        run = db.session.execute
        insert_warehouse()
        insert_user("keeper", "keeper")
        run(text(ACTION.format(id=1, source="round", text="北门挂锁锈死")))
        db.session.commit()
        with pytest.raises(IntegrityError):  # not yet a source
            run(text(ACTION.format(id=2, source="preseason", text="x")))
            db.session.flush()
        db.session.rollback()
        upgrade(revision="0023")
        db.session.remove()
        db.engine.dispose()
        assert run(text("SELECT text FROM corrective_actions")).scalar() == "北门挂锁锈死"
        run(text(ACTION.format(id=2, source="preseason", text="专人负责——未落实")))
        run(text(SEASON.format(id=1, year=2027, lead=30)))
        run(
            text(
                "INSERT INTO preseason_templates (unit_id, items, set_at)"
                " VALUES (1, :items, '2026-12-01 08:00:00')"
            ),
            {"items": '["专人负责"]'},
        )
        run(text(CHECK.format(id=1, year=2027)))
        run(
            text(
                ITEM.format(
                    position=0, kind="checklist", ok="FALSE", note="未落实", at=AT, action=2
                )
            )
        )
        run(
            text(
                ITEM.format(position=1, kind="count", ok="NULL", note="", at="NULL", action="NULL")
            )
        )
        db.session.commit()
        for bad in (
            SEASON.format(id=2, year=2027, lead=30),  # the same unit and year
            SEASON.format(id=3, year=2028, lead=0),  # opens no day before
            CHECK.format(id=2, year=2027),  # the same unit and year
            ITEM.format(position=2, kind="drill", ok="NULL", note="", at="NULL", action="NULL"),
            ITEM.format(position=3, kind="checklist", ok="FALSE", note="", at=AT, action="NULL"),
            ITEM.format(position=4, kind="checklist", ok="TRUE", note="", at="NULL", action="NULL"),
            ITEM.format(position=5, kind="test", ok="NULL", note="", at="NULL", action="NULL"),
            ITEM.format(position=1, kind="checklist", ok="NULL", note="", at="NULL", action="NULL"),
            ACTION.format(id=5, source="bogus", text="x"),
        ):
            with pytest.raises(IntegrityError):
                run(text(bad))
                db.session.flush()
            db.session.rollback()
        db.session.remove()
        downgrade(revision="0022")
        tables = set(inspect(db.engine).get_table_names())
        assert (
            not {
                "flood_seasons",
                "preseason_templates",
                "preseason_checks",
                "preseason_items",
            }
            & tables
        )
        kept = run(text("SELECT id, source FROM corrective_actions")).all()
        assert [tuple(r) for r in kept] == [(1, "round")]
        with pytest.raises(IntegrityError):
            run(text(ACTION.format(id=6, source="preseason", text="x")))
            db.session.flush()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()

"""Migration 0022 (issue 20, item 3) on a database with corrective actions: existing actions
are kept, an action may now come from a safety round, the rounds' rules hold in the database
(a known frequency, a failed item says why, one round per unit, frequency and period); going
back down drops the rounds and their actions and keeps every other action."""

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
    " VALUES ({id}, '{source}', '{text}', '', '', 'planning', 1, 1, '2026-12-11', 'open', '',"
    " '', '2026-12-04 08:00:00')"
)
ROUND = (
    "INSERT INTO safety_rounds (id, unit_id, frequency, period_start, done_on, note,"
    " recorded_at) VALUES ({id}, 1, '{frequency}', '{start}', '2026-12-04', '',"
    " '2026-12-04 08:00:00')"
)
ANSWER = (
    "INSERT INTO safety_round_answers (round_id, position, item, is_ok, note, action_id)"
    " VALUES (1, {position}, '门窗锁具完好', {ok}, '{note}', {action})"
)


def test_actions_are_kept_and_rounds_come_and_go(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0021")
        run = db.session.execute
        insert_warehouse()
        insert_user("keeper", "keeper")
        run(text(ACTION.format(id=1, source="self", text="应急灯未按月检测")))
        db.session.commit()
        with pytest.raises(IntegrityError):  # not yet a source
            run(text(ACTION.format(id=2, source="round", text="x")))
            db.session.flush()
        db.session.rollback()
        upgrade(revision="0022")
        db.session.remove()
        db.engine.dispose()
        assert run(text("SELECT text FROM corrective_actions")).scalar() == "应急灯未按月检测"
        run(text(ACTION.format(id=2, source="round", text="门窗锁具完好——北门挂锁锈死")))
        run(
            text(
                "INSERT INTO round_templates (unit_id, frequency, items, set_at, created_at)"
                " VALUES (1, 'daily', :items, '2026-12-01 08:00:00', '2026-12-01 08:00:00')"
            ),
            {"items": '["门窗锁具完好"]'},
        )
        run(text(ROUND.format(id=1, frequency="daily", start="2026-12-04")))
        run(text(ANSWER.format(position=0, ok="FALSE", note="北门挂锁锈死", action=2)))
        db.session.commit()
        for bad in (
            ROUND.format(id=2, frequency="daily", start="2026-12-04"),  # the same period
            ROUND.format(id=3, frequency="hourly", start="2026-12-04"),
            ROUND.format(id=4, frequency="weekly", start="2026-12-07"),  # after it was done
            ANSWER.format(position=1, ok="FALSE", note="", action="NULL"),  # a fail says why
            ACTION.format(id=5, source="bogus", text="x"),
        ):
            with pytest.raises(IntegrityError):
                run(text(bad))
                db.session.flush()
            db.session.rollback()
        db.session.remove()
        downgrade(revision="0021")
        tables = inspect(db.engine).get_table_names()
        assert not {"round_templates", "safety_rounds", "safety_round_answers"} & set(tables)
        kept = run(text("SELECT id, source FROM corrective_actions")).all()
        assert [tuple(r) for r in kept] == [(1, "self")]
        with pytest.raises(IntegrityError):
            run(text(ACTION.format(id=6, source="round", text="x")))
            db.session.flush()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()

"""Migration 0016 (issue 17): every existing corrective action came from a drill finding and
carries over unchanged as one of the register's drill actions; the register then takes
actions of other sources (an inspection visit's)."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config

pytestmark = pytest.mark.slow  # runs the migrations


def _seed_0015():
    run = db.session.execute
    t, f = {"t": True}, {"f": False}
    run(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES (1, 'DF', '登封市公安局', 'bureau', NULL, 0, :t,"
            " '2022-01-01 00:00:00', 1), (2, 'DAYE', '大冶派出所', 'station', 1, 28, :t,"
            " '2022-01-01 00:00:00', 1)"
        ),
        t,
    )
    run(
        text(
            "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
            " is_active, session_version, created_at, version, must_change_password)"
            " VALUES (1, 'chen', '陈刚', 'clerk', 2, 'h', 'zh', :t, 1, '2022-01-01 00:00:00',"
            " 1, :f)"
        ),
        {"t": True, "f": False},
    )
    run(
        text(
            "INSERT INTO drills (id, title, kind, form, scope, hazard, scenario, held_on,"
            " duration_minutes, location, lead_unit_id, participants, roster,"
            " hands_on_training, summary, is_real_incident, status, created_at)"
            " VALUES (1, '防汛演练', 'flood_drill', 'live', 'comprehensive', '', '',"
            " '2022-06-28', 240, '', 2, 260, '', :f, '', :f, 'held', '2022-06-28 08:00:00')"
        ),
        f,
    )
    run(
        text("INSERT INTO findings (id, drill_id, is_strength, text) VALUES (1, 1, :f, '分工')"),
        f,
    )
    run(
        text(
            "INSERT INTO corrective_actions (id, finding_id, text, element, owner_id, unit_id,"
            " due_on, status, evidence, cancel_reason, created_at) VALUES"
            " (1, 1, '明确分工', 'planning', 1, 2, '2022-08-01', 'open', '', '',"
            " '2022-06-28 09:00:00'),"
            " (2, 1, '修订预案', 'planning', 1, 2, '2022-08-15', 'done', '已修订', '',"
            " '2022-06-28 09:00:00')"
        )
    )
    run(
        text(
            "INSERT INTO action_due_changes (id, action_id, old_due_on, new_due_on, reason,"
            " changed_by_id, changed_at) VALUES (1, 1, '2022-07-01', '2022-08-01', '教官未到',"
            " 1, '2022-06-30 09:00:00')"
        )
    )


def test_drill_actions_carry_over_and_the_register_takes_other_sources(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0015")
        _seed_0015()
        db.session.commit()
        upgrade(revision="0016")
        rows = db.session.execute(
            text(
                "SELECT id, source, finding_id, visit_id, text, measures, leader, status,"
                " evidence FROM corrective_actions ORDER BY id"
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            (1, "drill", 1, None, "明确分工", "", "", "open", ""),
            (2, "drill", 1, None, "修订预案", "", "", "done", "已修订"),
        ]
        assert db.session.scalar(text("SELECT COUNT(*) FROM action_due_changes")) == 1
        # an inspection visit's action names its visit and no finding
        db.session.execute(
            text(
                "INSERT INTO inspection_visits (id, kind, unit_id, visited_on, team, summary,"
                " created_at) VALUES (1, 'supervision', 1, '2026-11-01', '李强', '',"
                " '2026-11-01 09:00:00')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO corrective_actions (id, source, visit_id, text, measures, leader,"
                " element, owner_id, unit_id, due_on, status, evidence, cancel_reason,"
                " created_at) VALUES (3, 'inspection', 1, '台账缺失', '建账', '张局', 'planning',"
                " 1, 2, '2026-12-31', 'open', '', '', '2026-11-01 09:00:00')"
            )
        )
        db.session.commit()
        # a drill action without its finding, or an inspection action without its visit,
        # is refused by the database
        for bad in (
            "(4, 'drill', NULL, '无来源'",
            "(5, 'inspection', NULL, '无检查'",
        ):
            with pytest.raises(IntegrityError):
                db.session.execute(
                    text(
                        "INSERT INTO corrective_actions (id, source, visit_id, text, measures,"
                        " leader, element, owner_id, unit_id, due_on, status, evidence,"
                        f" cancel_reason, created_at) VALUES {bad}, '', '', 'planning', 1, 2,"
                        " '2026-12-31', 'open', '', '', '2026-11-01 09:00:00')"
                    )
                )
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()

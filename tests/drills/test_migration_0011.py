"""Migration 0011 on a database that already holds corrective actions, drill kinds and
requirements: who reported each action done comes from the audit log, due dates stay, an
action verified by whoever reported it done waits for a second person again, and the kinds
and requirements kept so far apply everywhere."""

from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations up and down


def _rows(sql: str):
    """Rows as plain values: dates as ISO text (SQLite answers text, PostgreSQL dates)."""
    return [
        tuple(v.isoformat() if isinstance(v, date) else v for v in r)
        for r in db.session.execute(text(sql)).all()
    ]


def _seed_0010():
    run = db.session.execute
    run(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES (1, 'DF', '登封市公安局', 'bureau', NULL, 0, :t,"
            " '2022-01-01 00:00:00', 1), (2, 'DAYE', '大冶派出所', 'station', 1, 28, :t,"
            " '2022-01-01 00:00:00', 1)"
        ),
        {"t": True},
    )
    for uid, name, role, unit in (
        (1, "wang", "command", 1),
        (2, "li", "inspector", 1),
        (3, "zhang", "clerk", 2),
    ):
        run(
            text(
                "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
                " is_active, session_version, created_at, version) VALUES (:id, :u, :u, :r,"
                " :unit, 'hash', 'zh', :t, 1, '2022-01-01 00:00:00', 1)"
            ),
            {"id": uid, "u": name, "r": role, "unit": unit, "t": True},
        )
    run(
        text(
            "INSERT INTO drill_kinds (code, name, family, is_active, position)"
            " VALUES ('boat_rescue', '舟艇救援演练', 'drill', :t, 100)"
        ),
        {"t": True},
    )
    run(
        text(
            "INSERT INTO drills (id, title, kind, form, scope, hazard, scenario, held_on,"
            " duration_minutes, location, lead_unit_id, participants, roster,"
            " hands_on_training, summary, is_real_incident, status, created_at)"
            " VALUES (1, '防汛演练', 'flood_drill', 'live', 'comprehensive', '', '',"
            " '2022-06-28', 240, '', 2, 260, '', :f, '', :f, 'held', '2022-06-28 08:00:00')"
        ),
        {"f": False},
    )
    run(text("INSERT INTO drill_units (drill_id, unit_id) VALUES (1, 2)"))
    run(
        text("INSERT INTO findings (id, drill_id, is_strength, text) VALUES (1, 1, :f, '分工')"),
        {"f": False},
    )
    # 1: done (reported twice, last by zhang); 2: verified by wang, who reported it done;
    # 3: reported by wang, verified by li; 4: open, its date moved once
    for aid, status, due, evidence, verifier in (
        (1, "done", "2022-08-01", "已印发", None),
        (2, "verified", "2022-08-15", "已修订", 1),
        (3, "verified", "2022-08-20", "已培训", 2),
        (4, "open", "2022-10-31", "", None),
    ):
        run(
            text(
                "INSERT INTO corrective_actions (id, finding_id, text, element, owner_id,"
                " unit_id, due_on, status, evidence, done_at, verified_at, verified_by_id,"
                " created_at) VALUES (:id, 1, '事项', 'planning', 3, 2, :due, :status,"
                " :evidence, NULL, NULL, :verifier, '2022-06-28 08:00:00')"
            ),
            {
                "id": aid,
                "due": date.fromisoformat(due),
                "status": status,
                "evidence": evidence,
                "verifier": verifier,
            },
        )
    run(
        text(
            "INSERT INTO action_due_changes (action_id, old_due_on, new_due_on, reason,"
            " changed_by_id, changed_at) VALUES (4, '2022-09-01', '2022-10-31', '物资未到', 3,"
            " '2022-08-20 00:00:00')"
        )
    )
    for n, (actor, object_type, object_id) in enumerate(
        (
            (1, "corrective_actions", "1"),
            (3, "corrective_actions", "1"),  # the latest report of action 1
            (1, "corrective_actions", "2"),
            (1, "corrective_actions", "3"),
            (2, "drills", "4"),  # another object with the same id: not action 4
        )
    ):
        run(
            text(
                "INSERT INTO audit_log (at, actor_id, actor_name, action, object_type,"
                " object_id, unit_id, summary) VALUES (:at, :actor, 'x', 'action.done', :ot,"
                " :oid, 2, '')"
            ),
            {
                "at": f"2022-07-0{n + 1} 00:00:00",
                "actor": actor,
                "ot": object_type,
                "oid": object_id,
            },
        )
    run(
        text(
            "INSERT INTO drill_requirements (unit_kind, drill_kind, per_year, interval_days)"
            " VALUES ('station', 'flood_drill', 1, NULL)"
        )
    )
    db.session.commit()


def test_migration_0011_carries_actions_kinds_and_requirements_over(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0010")
        _seed_0010()
        upgrade(revision="0011")
        assert _rows(
            "SELECT id, status, due_on, evidence, done_by_id, verified_by_id"
            " FROM corrective_actions ORDER BY id"
        ) == [
            (1, "done", "2022-08-01", "已印发", 3, None),
            (2, "done", "2022-08-15", "已修订", 1, None),  # back to awaiting a second person
            (3, "verified", "2022-08-20", "已培训", 1, 2),
            (4, "open", "2022-10-31", "", None, None),
        ]
        assert _rows("SELECT action_id, old_due_on, new_due_on FROM action_due_changes") == [
            (4, "2022-09-01", "2022-10-31")
        ]
        [(object_id, summary)] = _rows(
            "SELECT object_id, summary FROM audit_log WHERE action = 'action.reopen'"
        )
        assert object_id == "2" and "未经第二人核验" in summary
        assert _rows("SELECT code, unit_id FROM drill_kinds WHERE code = 'boat_rescue'") == [
            ("boat_rescue", None)
        ]
        assert _rows("SELECT unit_id, unit_kind, drill_kind FROM drill_requirements") == [
            (None, "station", "flood_drill")
        ]
        tables = inspect(db.engine).get_table_names()
        assert {"action_extensions", "action_returns"} <= set(tables)
        if BACKEND == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []

        db.session.commit()  # PostgreSQL: the reads' transaction would block the downgrade
        downgrade(revision="0010")
        columns = {c["name"] for c in inspect(db.engine).get_columns("corrective_actions")}
        assert "done_by_id" not in columns
        assert "action_extensions" not in inspect(db.engine).get_table_names()
        assert _rows("SELECT count(*) FROM drill_requirements") == [(1,)]

        db.session.commit()
        upgrade()  # the whole chain: the kinds and requirements kept so far still work
        from drills import requirements

        rows = requirements.compliance(db.session, 2022, today=date(2022, 12, 31))
        assert [(r.unit.code, r.drill_kind, r.required, r.held) for r in rows] == [
            ("DAYE", "flood_drill", 1, 1)
        ]
        assert "boat_rescue" in requirements.drill_kinds(db.session, unit_id=2)
        db.session.remove()
        db.engine.dispose()

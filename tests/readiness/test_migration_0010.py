"""Migration 0010 (issue 14) rebuilds `users` on SQLite: accounts, their tokens and the audit
entries pointing at them come through unchanged, and nobody is asked to change a password."""

import pytest
from sqlalchemy import inspect, text

from tests.conftest import BACKEND

pytestmark = pytest.mark.slow


@pytest.mark.skipif(BACKEND != "sqlite", reason="only SQLite rebuilds the users table")
def test_migration_0010_keeps_users_tokens_and_audit(tmp_path):
    from flask_migrate import downgrade, upgrade

    from readiness import create_app
    from readiness.db import db
    from tests.conftest import _base_config

    app = create_app(_base_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="0009")
        db.session.execute(
            text(
                "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
                " created_at, version) VALUES (1, 'DF', '登封市公安局', 'bureau', NULL, 0, 1,"
                " '2022-01-01 00:00:00', 1)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
                " is_active, session_version, failed_logins, locked_until, created_at, version)"
                " VALUES (1, 'wang', '王', 'command', 1, 'hash-1', 'zh', 1, 3, 4,"
                " '2026-12-01 00:00:00', '2022-01-01 00:00:00', 2)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at)"
                " VALUES (1, 1, 'abc', 'rdy_abcdefgh', '2022-01-01 00:00:00')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO audit_log (at, actor_id, actor_name, action, object_type,"
                " object_id, unit_id, summary) VALUES ('2022-01-01 00:00:00', 1, 'wang',"
                " 'user.login', 'users', '1', 1, '')"
            )
        )
        db.session.commit()
        upgrade(revision="0010")
        row = db.session.execute(
            text(
                "SELECT username, name, role, unit_id, password_hash, session_version, version,"
                " must_change_password FROM users"
            )
        ).one()
        assert tuple(row) == ("wang", "王", "command", 1, "hash-1", 3, 2, 0)
        columns = {c["name"] for c in inspect(db.engine).get_columns("users")}
        assert not columns & {"failed_logins", "locked_until"}
        assert "login_throttle" in inspect(db.engine).get_table_names()
        assert db.session.execute(text("SELECT user_id FROM api_tokens")).scalar() == 1
        assert db.session.execute(text("SELECT actor_id FROM audit_log")).scalar() == 1
        assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        downgrade(revision="0009")
        assert db.session.execute(text("SELECT failed_logins FROM users")).scalar() == 0
        assert "login_throttle" not in inspect(db.engine).get_table_names()
        db.engine.dispose()

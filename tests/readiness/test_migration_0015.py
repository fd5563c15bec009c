"""Migration 0015 (issue 16): command staff and inspectors without a unit are placed at the
installation's one top unit, so they keep reaching what they reached; with two bureaus
they are left for an administrator to place."""

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.slow


def _units_and_users(roots: int) -> list[str]:
    rows = [
        "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active, created_at,"
        f" version) VALUES ({n}, 'B{n}', '局{n}', 'bureau', NULL, 0, TRUE,"
        " '2022-01-01 00:00:00', 1)"
        for n in range(1, roots + 1)
    ]
    rows.append(
        "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active, created_at,"
        " version) VALUES (9, 'S9', '派出所', 'station', 1, 10, TRUE, '2022-01-01 00:00:00', 1)"
    )
    for n, (name, role, unit) in enumerate(
        [
            ("cmd", "command", "NULL"),
            ("insp", "inspector", "NULL"),
            ("root", "admin", "NULL"),
            ("clerk", "clerk", "9"),
            ("cmd9", "command", "9"),
        ],
        start=1,
    ):
        rows.append(
            "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
            " is_active, session_version, created_at, version, must_change_password)"
            f" VALUES ({n}, '{name}', '', '{role}', {unit}, 'h', 'zh', TRUE, 1,"
            " '2022-01-01 00:00:00', 1, FALSE)"
        )
    return rows


@pytest.mark.parametrize("roots", [1, 2])
def test_migration_0015_places_unitless_command_staff(empty_url, roots):
    from flask_migrate import upgrade

    from readiness import create_app
    from readiness.db import db
    from tests.conftest import _base_config

    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0014")
        for statement in _units_and_users(roots):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade(revision="0015")
        units = dict(db.session.execute(text("SELECT username, unit_id FROM users")).all())
        db.session.commit()
        placed = 1 if roots == 1 else None
        assert units == {"cmd": placed, "insp": placed, "root": None, "clerk": 9, "cmd9": 9}
        db.session.remove()
        db.engine.dispose()

"""What several migrations need to rebuild a table in SQLite's batch mode.

SQLite cannot alter a constraint in place: Alembic's batch mode copies the table to a new
one and drops the old. A table other tables reference cannot be dropped while foreign keys
are enforced, so the rebuild runs with them off, and is checked before they go back on.
Kept apart from the application's code on purpose: a migration must behave the same when
the app changes later.
"""

from __future__ import annotations

from alembic import op


def foreign_keys_off() -> bool:
    """Turn SQLite's foreign keys off for a rebuild; True when the database is SQLite."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    return sqlite


def check_foreign_keys(sqlite: bool) -> None:
    """After a rebuild: refuse to go on if any reference broke, then enforce them again."""
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
        op.execute("PRAGMA foreign_keys=ON")

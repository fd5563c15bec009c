"""Security (issue 14): login throttle shared by all workers, forced password change.

The per-account lock columns (`failed_logins`, `locked_until`) go: sign-in failures are
counted in `login_throttle` per client address and per typed username, whether or not
the account exists.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _foreign_keys_off():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds `users`, which nearly every table references (see 0007).
        op.execute("PRAGMA foreign_keys=OFF")
    return sqlite


def _check_foreign_keys(sqlite: bool):
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def upgrade():
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    sqlite = _foreign_keys_off()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")
    _check_foreign_keys(sqlite)


def downgrade():
    sqlite = _foreign_keys_off()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_column("must_change_password")
    _check_foreign_keys(sqlite)
    op.drop_table("login_throttle")

"""Bureau reach (issue 16, item 1): command staff and inspectors belong to a unit.

Until now they reached every unit and could have none. Where the installation has one top
unit (one bureau), those without a unit are placed there and keep reaching what they
reached; with several top units nobody can tell which bureau is theirs, so they stay
without a unit (reaching nothing) until an administrator places them — the users page
shows them as 未分配单位.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    roots = bind.execute(sa.text("SELECT id FROM units WHERE parent_id IS NULL")).scalars().all()
    if len(roots) == 1:
        bind.execute(
            sa.text(
                "UPDATE users SET unit_id = :root"
                " WHERE unit_id IS NULL AND role IN ('command', 'inspector')"
            ),
            {"root": roots[0]},
        )


def downgrade():
    pass  # a unit given to an account is harmless to the older code

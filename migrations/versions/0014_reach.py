"""Bureau reach (issue 16, item 1): settings belong to the unit that sets them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

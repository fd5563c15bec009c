"""The register's other sources (issue 17, item 1): shelter defects and stocktake variances become corrective actions.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

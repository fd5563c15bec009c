"""The catalog in English (issue 22): an item's name, category and unit of measure are kept
in English beside the Chinese, and the English UI shows them. Empty means "as in Chinese".

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_en", sa.String(100), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("category_en", sa.String(40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("uom_en", sa.String(20), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("uom_en")
        batch_op.drop_column("category_en")
        batch_op.drop_column("name_en")

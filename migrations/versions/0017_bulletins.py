"""Weekly ranking and monthly bulletin (issue 17, item 4): issued bulletins are kept.

- ``bulletins``: a ranking issued by a unit's command staff for one week or month, its rows
  frozen as JSON, its number (2026年第11期), who issued it and when; one per unit and period.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period_kind", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "period_kind IN ('week', 'month')", name=op.f("ck_bulletins_period_kind_known")
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_bulletins_period_ordered")),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_bulletins_issued_by_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_bulletins_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletins")),
        sa.UniqueConstraint(
            "unit_id", "period_kind", "period_start", name=op.f("uq_bulletins_unit_id")
        ),
    )
    op.create_index(op.f("ix_bulletins_unit_id"), "bulletins", ["unit_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_bulletins_unit_id"), table_name="bulletins")
    op.drop_table("bulletins")

"""Handover (人事调整): a unit's named custodian (保管责任人, 专人负责).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds `units`, which nearly every table references; SQLite would
        # refuse the DROP of the old copy with foreign keys on (see 0007).
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("custodian_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_units_custodian_id_users"),
            "users",
            ["custodian_id"],
            ["id"],
            use_alter=True,
        )
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=OFF")  # see upgrade()
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_units_custodian_id_users"), type_="foreignkey")
        batch_op.drop_column("custodian_id")

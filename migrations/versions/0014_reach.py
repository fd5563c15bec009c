"""Bureau reach (issue 16, item 4): a standard edition belongs to the unit that publishes it
and applies to that unit's subtree, the nearest unit's edition winning.

Existing editions get no unit (NULL): they keep applying everywhere, after any unit's own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _foreign_keys_off():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds `standard_versions`, which `standard_lines` references.
        op.execute("PRAGMA foreign_keys=OFF")
    return sqlite


def _check_foreign_keys(sqlite: bool):
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def upgrade():
    sqlite = _foreign_keys_off()
    with op.batch_alter_table("standard_versions") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_standard_versions_unit_id_units"), "units", ["unit_id"], ["id"]
        )
        batch.create_index(batch.f("ix_standard_versions_unit_id"), ["unit_id"], unique=False)
    _check_foreign_keys(sqlite)


def downgrade():
    sqlite = _foreign_keys_off()
    # Only the editions that apply everywhere fit the old one-standard-for-all table; a
    # unit's own edition would otherwise start applying to every other unit.
    op.execute(
        "DELETE FROM standard_lines WHERE version_id IN"
        " (SELECT id FROM standard_versions WHERE unit_id IS NOT NULL)"
    )
    op.execute("DELETE FROM standard_versions WHERE unit_id IS NOT NULL")
    with op.batch_alter_table("standard_versions") as batch:
        batch.drop_index(batch.f("ix_standard_versions_unit_id"))
        batch.drop_constraint(op.f("fk_standard_versions_unit_id_units"), type_="foreignkey")
        batch.drop_column("unit_id")
    _check_foreign_keys(sqlite)

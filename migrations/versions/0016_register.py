"""The register of corrective actions (issue 17): every action has a source, and
inspection visits record what an inspection team found.

- ``inspection_visits``: a visit (巡察、督察、检查、暗访、回头看) to a unit, its team and summary.
- ``corrective_actions.source`` (``inspection``, ``drill``, ``shelter``, ``count``,
  ``self``; every existing action came from a drill finding, so ``drill``),
  ``visit_id``, ``measures`` (整改措施) and ``leader`` (责任领导); ``finding_id`` may be
  empty now, but a drill's action names its finding and an inspection's its visit (checks).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inspection_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('inspection_tour', 'supervision', 'check', 'unannounced', 'follow_up')",
            name=op.f("ck_inspection_visits_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_inspection_visits_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_inspection_visits_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_visits")),
    )
    op.create_index(
        op.f("ix_inspection_visits_unit_id"), "inspection_visits", ["unit_id"], unique=False
    )
    op.create_index(
        op.f("ix_inspection_visits_visited_on"), "inspection_visits", ["visited_on"], unique=False
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds corrective_actions, which other tables reference (see 0011).
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="drill")
        )
        batch.add_column(sa.Column("visit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("measures", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("leader", sa.String(length=60), nullable=False, server_default="")
        )
        batch.alter_column("finding_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            op.f("fk_corrective_actions_visit_id_inspection_visits"),
            "inspection_visits",
            ["visit_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_corrective_actions_source"), ["source"], unique=False)
        batch.create_index(op.f("ix_corrective_actions_visit_id"), ["visit_id"], unique=False)
        batch.create_check_constraint(
            "source_known", "source IN ('inspection', 'drill', 'shelter', 'count', 'self')"
        )
        batch.create_check_constraint(
            "drill_has_finding", "source <> 'drill' OR finding_id IS NOT NULL"
        )
        batch.create_check_constraint(
            "inspection_has_visit", "source <> 'inspection' OR visit_id IS NOT NULL"
        )
    with op.batch_alter_table("corrective_actions") as batch:
        # the defaults served the rows already there; new rows say their own
        batch.alter_column("source", existing_type=sa.String(length=20), server_default=None)
        batch.alter_column("measures", existing_type=sa.Text(), server_default=None)
        batch.alter_column("leader", existing_type=sa.String(length=60), server_default=None)
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=OFF")
    # only drill actions fit the old table
    op.execute(
        "DELETE FROM action_due_changes WHERE action_id IN"
        " (SELECT id FROM corrective_actions WHERE source <> 'drill')"
    )
    op.execute(
        "DELETE FROM action_extensions WHERE action_id IN"
        " (SELECT id FROM corrective_actions WHERE source <> 'drill')"
    )
    op.execute(
        "DELETE FROM action_returns WHERE action_id IN"
        " (SELECT id FROM corrective_actions WHERE source <> 'drill')"
    )
    op.execute("DELETE FROM corrective_actions WHERE source <> 'drill'")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_inspection_has_visit"), type_="check")
        batch.drop_constraint(op.f("ck_corrective_actions_drill_has_finding"), type_="check")
        batch.drop_constraint(op.f("ck_corrective_actions_source_known"), type_="check")
        batch.drop_index(op.f("ix_corrective_actions_visit_id"))
        batch.drop_index(op.f("ix_corrective_actions_source"))
        batch.drop_constraint(
            op.f("fk_corrective_actions_visit_id_inspection_visits"), type_="foreignkey"
        )
        batch.alter_column("finding_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("leader")
        batch.drop_column("measures")
        batch.drop_column("visit_id")
        batch.drop_column("source")
    op.drop_index(op.f("ix_inspection_visits_visited_on"), table_name="inspection_visits")
    op.drop_index(op.f("ix_inspection_visits_unit_id"), table_name="inspection_visits")
    op.drop_table("inspection_visits")

"""Warehouse safety rounds (库区"日周月"隐患排查, issue 20, item 3).

- ``round_templates``: a unit's checklist per frequency (daily, weekly, monthly), its items a
  JSON list (read and replaced whole; answers keep their own text).
- ``safety_rounds``: a round of a unit, once per frequency and period (day, ISO week, month).
- ``safety_round_answers``: each item passed or failed (a failure says why) and its
  corrective action.
- ``corrective_actions.source`` may be ``round`` (库区排查).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime
from readiness.migration_helpers import check_foreign_keys, foreign_keys_off

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OLD_SOURCES = "source IN ('inspection', 'drill', 'shelter', 'count', 'self')"
NEW_SOURCES = "source IN ('inspection', 'drill', 'shelter', 'count', 'self', 'round')"
FREQUENCY = "frequency IN ('daily', 'weekly', 'monthly')"


def upgrade():
    sqlite = foreign_keys_off()
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_source_known"), type_="check")
        batch.create_check_constraint("source_known", NEW_SOURCES)
    op.create_table(
        "round_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(FREQUENCY, name=op.f("ck_round_templates_frequency_known")),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_round_templates_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_round_templates_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_templates")),
        sa.UniqueConstraint("unit_id", "frequency", name="uq_round_templates_unit_frequency"),
    )
    op.create_table(
        "safety_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(FREQUENCY, name=op.f("ck_safety_rounds_frequency_known")),
        sa.CheckConstraint("period_start <= done_on", name=op.f("ck_safety_rounds_done_in_period")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_safety_rounds_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_safety_rounds_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_rounds")),
        sa.UniqueConstraint(
            "unit_id", "frequency", "period_start", name="uq_safety_rounds_unit_period"
        ),
    )
    op.create_index(op.f("ix_safety_rounds_unit_id"), "safety_rounds", ["unit_id"], unique=False)
    op.create_index(op.f("ix_safety_rounds_done_on"), "safety_rounds", ["done_on"], unique=False)
    op.create_table(
        "safety_round_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("is_ok", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "is_ok OR note <> ''", name=op.f("ck_safety_round_answers_fail_has_note")
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.id"],
            name=op.f("fk_safety_round_answers_action_id_corrective_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["safety_rounds.id"],
            name=op.f("fk_safety_round_answers_round_id_safety_rounds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_round_answers")),
        sa.UniqueConstraint("round_id", "position", name="uq_safety_round_answers_position"),
    )
    op.create_index(
        op.f("ix_safety_round_answers_action_id"),
        "safety_round_answers",
        ["action_id"],
        unique=False,
    )
    check_foreign_keys(sqlite)


def downgrade():
    sqlite = foreign_keys_off()
    op.drop_index(op.f("ix_safety_round_answers_action_id"), table_name="safety_round_answers")
    op.drop_table("safety_round_answers")
    op.drop_index(op.f("ix_safety_rounds_done_on"), table_name="safety_rounds")
    op.drop_index(op.f("ix_safety_rounds_unit_id"), table_name="safety_rounds")
    op.drop_table("safety_rounds")
    op.drop_table("round_templates")
    # the rounds' actions do not fit the old register
    rounds = "SELECT id FROM corrective_actions WHERE source = 'round'"
    for table in (
        "action_due_changes",
        "action_extensions",
        "action_returns",
        "drill_attachments",
    ):
        op.execute(f"DELETE FROM {table} WHERE action_id IN ({rounds})")
    op.execute("DELETE FROM corrective_actions WHERE source = 'round'")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_source_known"), type_="check")
        batch.create_check_constraint("source_known", OLD_SOURCES)
    check_foreign_keys(sqlite)

"""Pre-season check (汛前检查, issue 20, item 2).

- ``flood_seasons``: a bureau's flood season for a year: its start and how many days before
  it the checks open (set by command staff; the nearest unit up the tree wins).
- ``preseason_templates``: a unit's pre-season checklist, its items a JSON list.
- ``preseason_checks``: a unit's check for one season (year), once per unit and year.
- ``preseason_items``: what the check asks (a due function test of a piece, a stocktake, an
  expired lot, a checklist item), how it was answered and, for a failure, its corrective
  action.
- ``corrective_actions.source`` may be ``preseason`` (汛前检查).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime
from readiness.migration_helpers import check_foreign_keys, foreign_keys_off

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

OLD_SOURCES = "source IN ('inspection', 'drill', 'shelter', 'count', 'self', 'round')"
NEW_SOURCES = "source IN ('inspection', 'drill', 'shelter', 'count', 'self', 'round', 'preseason')"
KINDS = "kind IN ('test', 'count', 'lot', 'checklist')"


def upgrade():
    sqlite = foreign_keys_off()
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_source_known"), type_="check")
        batch.create_check_constraint("source_known", NEW_SOURCES)
    op.create_table(
        "flood_seasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "lead_days >= 1 AND lead_days <= 180", name=op.f("ck_flood_seasons_lead_days_range")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_flood_seasons_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_flood_seasons_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flood_seasons")),
        sa.UniqueConstraint("unit_id", "year", name="uq_flood_seasons_unit_year"),
    )
    op.create_table(
        "preseason_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_preseason_templates_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_preseason_templates_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preseason_templates")),
        sa.UniqueConstraint("unit_id", name="uq_preseason_templates_unit"),
    )
    op.create_table(
        "preseason_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["completed_by_id"],
            ["users.id"],
            name=op.f("fk_preseason_checks_completed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["flood_seasons.id"],
            name=op.f("fk_preseason_checks_season_id_flood_seasons"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_preseason_checks_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preseason_checks")),
        sa.UniqueConstraint("unit_id", "year", name="uq_preseason_checks_unit_year"),
    )
    op.create_index(
        op.f("ix_preseason_checks_season_id"), "preseason_checks", ["season_id"], unique=False
    )
    op.create_table(
        "preseason_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("is_ok", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("count_id", sa.Integer(), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_preseason_items_kind_known")),
        sa.CheckConstraint(
            "kind <> 'test' OR asset_id IS NOT NULL", name=op.f("ck_preseason_items_test_piece")
        ),
        sa.CheckConstraint(
            "kind <> 'lot' OR lot_id IS NOT NULL", name=op.f("ck_preseason_items_lot_named")
        ),
        sa.CheckConstraint(
            "is_ok IS NULL OR is_ok OR note <> ''", name=op.f("ck_preseason_items_fail_has_note")
        ),
        sa.CheckConstraint(
            "is_ok IS NULL OR answered_at IS NOT NULL",
            name=op.f("ck_preseason_items_answer_dated"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.id"],
            name=op.f("fk_preseason_items_action_id_corrective_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["users.id"], name=op.f("fk_preseason_items_answered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_preseason_items_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["preseason_checks.id"],
            name=op.f("fk_preseason_items_check_id_preseason_checks"),
        ),
        sa.ForeignKeyConstraint(
            ["count_id"], ["counts.id"], name=op.f("fk_preseason_items_count_id_counts")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_preseason_items_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["maintenance_records.id"],
            name=op.f("fk_preseason_items_record_id_maintenance_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preseason_items")),
        sa.UniqueConstraint("check_id", "position", name="uq_preseason_items_position"),
    )
    op.create_index(
        op.f("ix_preseason_items_action_id"), "preseason_items", ["action_id"], unique=False
    )
    check_foreign_keys(sqlite)


def downgrade():
    sqlite = foreign_keys_off()
    op.drop_index(op.f("ix_preseason_items_action_id"), table_name="preseason_items")
    op.drop_table("preseason_items")
    op.drop_index(op.f("ix_preseason_checks_season_id"), table_name="preseason_checks")
    op.drop_table("preseason_checks")
    op.drop_table("preseason_templates")
    op.drop_table("flood_seasons")
    # the pre-season checks' actions do not fit the old register
    preseason = "SELECT id FROM corrective_actions WHERE source = 'preseason'"
    for table in (
        "action_due_changes",
        "action_extensions",
        "action_returns",
        "drill_attachments",
    ):
        op.execute(f"DELETE FROM {table} WHERE action_id IN ({preseason})")
    op.execute("DELETE FROM corrective_actions WHERE source = 'preseason'")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_source_known"), type_="check")
        batch.create_check_constraint("source_known", OLD_SOURCES)
    check_foreign_keys(sqlite)

"""Maintenance and function tests (issue 20, item 1): serial equipment is serviced and tested
on a schedule, and a failed test takes a piece out of service until it is repaired.

- ``items.service_interval_days`` / ``test_interval_days``: the schedule of a serial item.
- ``maintenance_records``: each service, function test and repair (date, result, readings,
  vendor, cost, who, a photo), once per request key.
- ``assets.status`` may be ``out_of_service`` (a failed test; not on hand).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime
from readiness.migration_helpers import check_foreign_keys, foreign_keys_off

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('in_service', 'under_repair', 'retired')"
NEW_STATUSES = "status IN ('in_service', 'under_repair', 'out_of_service', 'retired')"


def upgrade():
    sqlite = foreign_keys_off()
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("service_interval_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("test_interval_days", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_items_intervals_positive"),
            "(service_interval_days IS NULL OR service_interval_days > 0)"
            " AND (test_interval_days IS NULL OR test_interval_days > 0)",
        )
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("ck_assets_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_assets_status_known"), NEW_STATUSES)
    op.create_table(
        "maintenance_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("readings", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("photo_type", sa.String(length=100), nullable=True),
        sa.Column("photo_name", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "kind IN ('service', 'function_test', 'repair')",
            name=op.f("ck_maintenance_records_kind_known"),
        ),
        sa.CheckConstraint(
            "result IN ('pass', 'fail')", name=op.f("ck_maintenance_records_result_known")
        ),
        sa.CheckConstraint(
            "cost IS NULL OR cost >= 0", name=op.f("ck_maintenance_records_cost_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_maintenance_records_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_maintenance_records_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_maintenance_records_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_records")),
        sa.UniqueConstraint("request_key", name=op.f("uq_maintenance_records_request_key")),
    )
    op.create_index(
        "ix_maintenance_records_asset_kind",
        "maintenance_records",
        ["asset_id", "kind", "done_on"],
        unique=False,
    )
    op.create_index(
        op.f("ix_maintenance_records_unit_id"), "maintenance_records", ["unit_id"], unique=False
    )
    check_foreign_keys(sqlite)


def downgrade():
    sqlite = foreign_keys_off()
    op.drop_index(op.f("ix_maintenance_records_unit_id"), table_name="maintenance_records")
    op.drop_index("ix_maintenance_records_asset_kind", table_name="maintenance_records")
    op.drop_table("maintenance_records")
    # a piece out of service after a failed test was, before, a piece under repair
    op.execute("UPDATE assets SET status = 'under_repair' WHERE status = 'out_of_service'")
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("ck_assets_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_assets_status_known"), OLD_STATUSES)
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("ck_items_intervals_positive"), type_="check")
        batch.drop_column("test_interval_days")
        batch.drop_column("service_interval_days")
    check_foreign_keys(sqlite)

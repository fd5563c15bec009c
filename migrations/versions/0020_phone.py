"""The phone in the field (issue 19): actions sent later from a phone's outbox, undo, and
serial pieces confirmed by scanning.

- ``movements.device_at``: when the user tapped, by the phone's clock (``at`` stays the
  time the server received it); ``movements.reverses_id``: an undo names the movement it
  reverses, once.
- ``counts.request_key``: a spot count sent from a phone is recorded once however often
  it is resent; ``count_lines.counted_on_device_at`` and ``request_key``: the phone's time
  and one-time key of a count entry.
- ``assets.last_seen_at`` / ``last_seen_by_id``: a serial piece confirmed there by
  scanning its label.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime
from readiness.migration_helpers import check_foreign_keys, foreign_keys_off

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    sqlite = foreign_keys_off()
    with op.batch_alter_table("movements") as batch:
        batch.add_column(sa.Column("device_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_movements_reverses_id_movements"), "movements", ["reverses_id"], ["id"]
        )
        batch.create_unique_constraint(op.f("uq_movements_reverses_id"), ["reverses_id"])
    with op.batch_alter_table("counts") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_counts_request_key"), ["request_key"])
    with op.batch_alter_table("count_lines") as batch:
        batch.add_column(sa.Column("counted_on_device_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_seen_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_assets_last_seen_by_id_users"), "users", ["last_seen_by_id"], ["id"]
        )
    check_foreign_keys(sqlite)


def downgrade():
    sqlite = foreign_keys_off()
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("fk_assets_last_seen_by_id_users"), type_="foreignkey")
        batch.drop_column("last_seen_by_id")
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("count_lines") as batch:
        batch.drop_column("request_key")
        batch.drop_column("counted_on_device_at")
    with op.batch_alter_table("counts") as batch:
        batch.drop_constraint(op.f("uq_counts_request_key"), type_="unique")
        batch.drop_column("request_key")
    with op.batch_alter_table("movements") as batch:
        batch.drop_constraint(op.f("uq_movements_reverses_id"), type_="unique")
        batch.drop_constraint(op.f("fk_movements_reverses_id_movements"), type_="foreignkey")
        batch.drop_column("reverses_id")
        batch.drop_column("device_at")
    check_foreign_keys(sqlite)

"""Stocktakes (issue 16, item 3): blind counts, positions not counted, returned counts.

- ``count_lines.not_counted_reason``: a position with stock may be marked not counted, with
  a reason, instead of a counted quantity (never both: CHECK).
- ``counts``: ``is_blind`` (book quantities hidden from the counter until submission),
  ``is_partial`` (submitted with positions not counted), ``returned_at`` /
  ``returned_by_id`` / ``return_reason`` (returned for recount), and a CHECK on the status
  (``returned`` is new). A count already submitted or approved with positions holding stock
  left uncounted is marked partial: those positions keep the date of their last real count.
  Counts already running were started seeing the book: they stay not blind.
- ``count_intervals`` becomes a count policy that belongs to a unit: a surrogate ``id``,
  ``unit_id`` (NULL = everywhere; the existing rows), ``blind`` (true), unique per unit and
  kind (and per kind among the rows without a unit). The table is small and nothing points
  at it: it is rebuilt on both databases, its rows carried over.

The per-position count date is not stored: it is read from the approved counts' lines
(``inventory.counts.counts_due``), so the existing data needs nothing more.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATUSES = "status IN ('open', 'submitted', 'returned', 'approved', 'cancelled')"
RETURNED = "status <> 'returned' OR TRIM(return_reason) <> ''"


def _foreign_keys_off():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds `counts`, which `count_lines` references. The first PRAGMA
        # works when this migration runs first; run after another one, inside its
        # transaction, it is ignored and the second defers the checks to the commit
        # (by when the rebuilt table holds every row again).
        op.execute("PRAGMA foreign_keys=OFF")
        op.execute("PRAGMA defer_foreign_keys=ON")
    return sqlite


def _check_foreign_keys(sqlite: bool):
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def _policies_table():
    op.create_table(
        "count_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_kind", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.CheckConstraint("days > 0", name=op.f("ck_count_intervals_days_positive")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_count_intervals_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_intervals")),
        sa.UniqueConstraint("unit_id", "unit_kind", name=op.f("uq_count_intervals_unit_id")),
    )
    op.create_index(
        "uq_count_intervals_kind_everywhere",
        "count_intervals",
        ["unit_kind"],
        unique=True,
        sqlite_where=sa.text("unit_id IS NULL"),
        postgresql_where=sa.text("unit_id IS NULL"),
    )


def upgrade():
    bind = op.get_bind()
    sqlite = _foreign_keys_off()
    with op.batch_alter_table("count_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_counted_reason", sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_count_lines_counted_or_reason"),
            "not_counted_reason IS NULL OR (counted IS NULL AND TRIM(not_counted_reason) <> '')",
        )
    with op.batch_alter_table("counts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_blind", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("is_partial", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("returned_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("returned_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("return_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            op.f("fk_counts_returned_by_id_users"), "users", ["returned_by_id"], ["id"]
        )
        batch_op.create_check_constraint(op.f("ck_counts_status_known"), STATUSES)
        batch_op.create_check_constraint(op.f("ck_counts_returned_with_reason"), RETURNED)
    _check_foreign_keys(sqlite)
    # Submitted or approved before the rule, with positions holding stock left uncounted.
    op.execute(
        "UPDATE counts SET is_partial = TRUE WHERE status IN ('submitted', 'approved')"
        " AND EXISTS (SELECT 1 FROM count_lines WHERE count_lines.count_id = counts.id"
        " AND count_lines.counted IS NULL AND count_lines.book > 0)"
    )

    rows = bind.execute(sa.text("SELECT unit_kind, days FROM count_intervals")).all()
    op.drop_table("count_intervals")
    _policies_table()
    if rows:
        op.bulk_insert(
            sa.table(
                "count_intervals",
                sa.column("unit_id", sa.Integer()),
                sa.column("unit_kind", sa.String()),
                sa.column("days", sa.Integer()),
                sa.column("blind", sa.Boolean()),
            ),
            [{"unit_id": None, "unit_kind": k, "days": d, "blind": True} for k, d in rows],
        )


def downgrade():
    bind = op.get_bind()
    sqlite = _foreign_keys_off()
    rows = bind.execute(
        sa.text("SELECT unit_kind, days FROM count_intervals WHERE unit_id IS NULL")
    ).all()
    op.drop_index("uq_count_intervals_kind_everywhere", table_name="count_intervals")
    op.drop_table("count_intervals")
    op.create_table(
        "count_intervals",
        sa.Column("unit_kind", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_kind", name=op.f("pk_count_intervals")),
    )
    if rows:
        op.bulk_insert(
            sa.table("count_intervals", sa.column("unit_kind"), sa.column("days")),
            [{"unit_kind": k, "days": d} for k, d in rows],
        )
    # A returned count goes back to being counted: the old schema knows no other state.
    op.execute("UPDATE counts SET status = 'open' WHERE status = 'returned'")
    with op.batch_alter_table("counts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_counts_returned_with_reason"), type_="check")
        batch_op.drop_constraint(op.f("ck_counts_status_known"), type_="check")
        batch_op.drop_constraint(op.f("fk_counts_returned_by_id_users"), type_="foreignkey")
        batch_op.drop_column("return_reason")
        batch_op.drop_column("returned_by_id")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("is_partial")
        batch_op.drop_column("is_blind")
    with op.batch_alter_table("count_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_count_lines_counted_or_reason"), type_="check")
        batch_op.drop_column("not_counted_reason")
    _check_foreign_keys(sqlite)

"""Shelter acceptance (issue 16, item 5): a site is standardized only once accepted.

Three tables: ``shelter_acceptances`` (a site's requests for acceptance, its acceptances and
their withdrawals: its history), ``shelter_acceptance_documents`` (the files of an
acceptance) and ``coverage_targets`` (the coverage target a unit's command staff set).
Every site already marked standardized counts as accepted by the system (no acceptor) on
the acceptance date it has, with a note saying so.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

import readiness.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MIGRATED_NOTE = "系统迁移：原已标记为规范化"


def upgrade():
    op.create_table(
        "shelter_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shelter_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("request_note", sa.Text(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("accepted_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("withdrawn_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'accepted', 'withdrawn')",
            name=op.f("ck_shelter_acceptances_status_known"),
        ),
        sa.CheckConstraint(
            "status <> 'requested' OR (requested_at IS NOT NULL AND accepted_on IS NULL)",
            name=op.f("ck_shelter_acceptances_request_dated"),
        ),
        sa.CheckConstraint(
            "status = 'requested' OR (accepted_on IS NOT NULL AND accepted_at IS NOT NULL)",
            name=op.f("ck_shelter_acceptances_acceptance_dated"),
        ),
        sa.CheckConstraint(
            "status <> 'withdrawn' OR (withdrawn_at IS NOT NULL AND withdrawal_reason <> '')",
            name=op.f("ck_shelter_acceptances_withdrawal_reasoned"),
        ),
        sa.CheckConstraint(
            "accepted_by_id IS NULL OR requested_by_id IS NULL"
            " OR accepted_by_id <> requested_by_id",
            name=op.f("ck_shelter_acceptances_accepted_by_another"),
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_shelter_acceptances_accepted_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_shelter_acceptances_requested_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["shelter_id"],
            ["shelters.id"],
            name=op.f("fk_shelter_acceptances_shelter_id_shelters"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["users.id"],
            name=op.f("fk_shelter_acceptances_withdrawn_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelter_acceptances")),
    )
    with op.batch_alter_table("shelter_acceptances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shelter_acceptances_shelter_id"), ["shelter_id"], unique=False
        )
        batch_op.create_index(
            "uq_shelter_acceptances_open",
            ["shelter_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('requested', 'accepted')"),
            postgresql_where=sa.text("status IN ('requested', 'accepted')"),
        )

    op.create_table(
        "shelter_acceptance_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("acceptance_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", readiness.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "size_bytes > 0", name=op.f("ck_shelter_acceptance_documents_size_positive")
        ),
        sa.ForeignKeyConstraint(
            ["acceptance_id"],
            ["shelter_acceptances.id"],
            name=op.f("fk_shelter_acceptance_documents_acceptance_id_shelter_acceptances"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_shelter_acceptance_documents_uploaded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelter_acceptance_documents")),
    )
    with op.batch_alter_table("shelter_acceptance_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shelter_acceptance_documents_acceptance_id"),
            ["acceptance_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_shelter_acceptance_documents_sha256"), ["sha256"], unique=False
        )

    op.create_table(
        "coverage_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", readiness.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "target > 0 AND target <= 1", name=op.f("ck_coverage_targets_target_fraction")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_coverage_targets_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_coverage_targets_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_targets")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_coverage_targets_unit_id")),
    )

    # Sites already marked standardized: accepted by the system (no acceptor) on the
    # acceptance date they carry, recorded when the site was registered.
    op.execute(
        sa.text(
            "INSERT INTO shelter_acceptances (shelter_id, status, request_note, accepted_on,"
            " accepted_at, accepted_by_id, note, withdrawal_reason)"
            " SELECT id, 'accepted', '', standardized_on, created_at, NULL, :note, ''"
            " FROM shelters WHERE is_standardized = true AND standardized_on IS NOT NULL"
            " ORDER BY id"
        ).bindparams(note=MIGRATED_NOTE)
    )


def downgrade():
    # The flag and date on shelters stay as they are: they are what was accepted last.
    op.drop_table("coverage_targets")
    with op.batch_alter_table("shelter_acceptance_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shelter_acceptance_documents_sha256"))
        batch_op.drop_index(batch_op.f("ix_shelter_acceptance_documents_acceptance_id"))
    op.drop_table("shelter_acceptance_documents")
    with op.batch_alter_table("shelter_acceptances", schema=None) as batch_op:
        batch_op.drop_index("uq_shelter_acceptances_open")
        batch_op.drop_index(batch_op.f("ix_shelter_acceptances_shelter_id"))
    op.drop_table("shelter_acceptances")

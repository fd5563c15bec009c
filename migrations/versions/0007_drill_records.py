"""Complete drill records: configurable drill kinds, times, structured summary, attachments,
cancelled actions, requirements as an interval, training rosters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

"""

import sqlalchemy as sa
from alembic import op

import readiness.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The kinds the two inspection reports name; command staff add more on the requirements page.
SEED_KINDS = [
    ("flood_drill", "大型防汛演练", "full_scale", 10),
    ("field_exercise", "实战大练兵", "functional", 20),
    ("training_drill", "防汛应急培训演练", "drill", 30),
    ("combat_unit_drill", "最小作战单元训练", "drill", 40),
    ("tabletop", "桌面推演", "tabletop", 50),
]


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds `drills`, which other tables reference; SQLite would refuse the
        # DROP of the old copy with foreign keys on. Must run before anything opens a
        # transaction (a PRAGMA inside one is ignored); the schema is checked again below.
        op.execute("PRAGMA foreign_keys=OFF")
    kinds = op.create_table(
        "drill_kinds",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("family", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "family IN ('tabletop', 'drill', 'functional', 'full_scale')",
            name=op.f("ck_drill_kinds_family_known"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_drill_kinds")),
    )
    op.bulk_insert(
        kinds,
        [
            {"code": c, "name": n, "family": f, "is_active": True, "position": p}
            for c, n, f, p in SEED_KINDS
        ],
    )

    with op.batch_alter_table("drills") as batch:
        batch.add_column(sa.Column("start_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("end_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("problems", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("lessons", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_drills_request_key"), ["request_key"])
        batch.create_foreign_key(
            op.f("fk_drills_kind_drill_kinds"), "drill_kinds", ["kind"], ["code"]
        )

    with op.batch_alter_table("corrective_actions") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("drill_requirements") as batch:
        batch.drop_constraint(op.f("ck_drill_requirements_per_year_positive"), type_="check")
        batch.alter_column("per_year", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("interval_days", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            "per_year_or_interval",
            "(per_year > 0 AND interval_days IS NULL) OR (per_year IS NULL AND interval_days > 0)",
        )
        batch.create_foreign_key(
            op.f("fk_drill_requirements_drill_kind_drill_kinds"),
            "drill_kinds",
            ["drill_kind"],
            ["code"],
        )

    with op.batch_alter_table("training_sessions") as batch:
        batch.add_column(sa.Column("trainee_names", sa.Text(), nullable=False, server_default=""))

    op.create_table(
        "drill_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", readiness.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_drill_attachments_size_positive")),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.id"],
            name=op.f("fk_drill_attachments_action_id_corrective_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["drill_id"], ["drills.id"], name=op.f("fk_drill_attachments_drill_id_drills")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_drill_attachments_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_attachments")),
    )
    with op.batch_alter_table("drill_attachments") as batch:
        batch.create_index(batch.f("ix_drill_attachments_drill_id"), ["drill_id"])
        batch.create_index(batch.f("ix_drill_attachments_action_id"), ["action_id"])
        batch.create_index(batch.f("ix_drill_attachments_sha256"), ["sha256"])
    op.create_index("ix_drill_units_unit_id_drill_id", "drill_units", ["unit_id", "drill_id"])
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=OFF")  # see upgrade()
    op.drop_index("ix_drill_units_unit_id_drill_id", table_name="drill_units")
    op.drop_table("drill_attachments")
    with op.batch_alter_table("training_sessions") as batch:
        batch.drop_column("trainee_names")
    with op.batch_alter_table("drill_requirements") as batch:
        batch.drop_constraint(
            op.f("fk_drill_requirements_drill_kind_drill_kinds"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("ck_drill_requirements_per_year_or_interval"), type_="check")
        batch.drop_column("interval_days")
        batch.alter_column("per_year", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint("per_year_positive", "per_year > 0")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_column("cancel_reason")
    with op.batch_alter_table("drills") as batch:
        batch.drop_constraint(op.f("fk_drills_kind_drill_kinds"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_drills_request_key"), type_="unique")
        for column in ("request_key", "lessons", "problems", "purpose", "end_time", "start_time"):
            batch.drop_column(column)
    op.drop_table("drill_kinds")

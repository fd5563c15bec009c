"""Corrective actions (issue 16, item 2): who reported done, returns, extension requests;
drill kinds and requirements that belong to a unit.

- ``corrective_actions.done_by_id``: who reported the action done, taken for existing
  actions from the audit log (the latest ``action.done`` entry of each action). The check
  ``verified_by_another`` now also refuses a verifier who reported the action done. An
  existing action verified by the person who reported it done was never checked by a
  second person: it goes back to "done, awaiting verification" (its evidence and dates
  kept), and the audit log says so.
- ``action_extensions``: requests to move a due date, decided by someone else.
- ``action_returns``: done actions sent back for rework, with the reason.
- ``drill_requirements.unit_id`` and ``drill_kinds.unit_id``: the unit that set them
  (NULL: everywhere, as every existing row stays).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

VERIFIED_BY_ANOTHER_OLD = (
    "status <> 'verified' OR (verified_by_id IS NOT NULL AND verified_by_id <> owner_id)"
)
VERIFIED_BY_ANOTHER = (
    "status <> 'verified' OR (verified_by_id IS NOT NULL AND verified_by_id <> owner_id"
    " AND (done_by_id IS NULL OR verified_by_id <> done_by_id))"
)
REOPENED = (
    "迁移 0011：该整改由核验人本人报告完成，未经第二人核验，"
    "已恢复为“已完成待验证”，须由另一位指挥人员或督察人员核验。"
)


def _foreign_keys_off():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds corrective_actions and drill_kinds, which other tables
        # reference (see 0007, 0010).
        op.execute("PRAGMA foreign_keys=OFF")
    return sqlite


def _check_foreign_keys(sqlite: bool):
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def upgrade():
    op.create_table(
        "action_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("old_due_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_action_extensions_status_known"),
        ),
        sa.CheckConstraint(
            "due_on > old_due_on", name=op.f("ck_action_extensions_later_than_before")
        ),
        sa.CheckConstraint(
            "(status = 'pending' AND decided_by_id IS NULL AND decided_at IS NULL)"
            " OR (status <> 'pending' AND decided_by_id IS NOT NULL AND decided_at IS NOT NULL"
            " AND decided_by_id <> requested_by_id)",
            name=op.f("ck_action_extensions_decided_by_another"),
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR decision_reason <> ''",
            name=op.f("ck_action_extensions_refusal_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.id"],
            name=op.f("fk_action_extensions_action_id_corrective_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_action_extensions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_action_extensions_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_extensions")),
    )
    op.create_index(
        op.f("ix_action_extensions_action_id"), "action_extensions", ["action_id"], unique=False
    )
    op.create_index(
        "uq_action_extensions_pending",
        "action_extensions",
        ["action_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "action_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("returned_by_id", sa.Integer(), nullable=False),
        sa.Column("returned_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "done_by_id IS NULL OR returned_by_id <> done_by_id",
            name=op.f("ck_action_returns_returned_by_another"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["corrective_actions.id"],
            name=op.f("fk_action_returns_action_id_corrective_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["done_by_id"], ["users.id"], name=op.f("fk_action_returns_done_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["returned_by_id"], ["users.id"], name=op.f("fk_action_returns_returned_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_returns")),
    )
    op.create_index(
        op.f("ix_action_returns_action_id"), "action_returns", ["action_id"], unique=False
    )

    sqlite = _foreign_keys_off()
    with op.batch_alter_table("corrective_actions") as batch:
        batch.add_column(sa.Column("done_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_corrective_actions_done_by_id_users"), "users", ["done_by_id"], ["id"]
        )
    # Who reported each action done: the latest "action.done" entry of the audit log.
    op.execute(
        "UPDATE corrective_actions SET done_by_id = ("
        " SELECT a.actor_id FROM audit_log a WHERE a.action = 'action.done'"
        " AND a.object_type = 'corrective_actions'"
        " AND a.object_id = CAST(corrective_actions.id AS VARCHAR(40))"
        " ORDER BY a.at DESC, a.id DESC LIMIT 1)"
        " WHERE status IN ('done', 'verified', 'cancelled')"
    )
    # Verified by whoever reported it done: no second person checked it.
    bind = op.get_bind()
    reopened = bind.execute(
        sa.text(
            "SELECT id, unit_id FROM corrective_actions WHERE status = 'verified'"
            " AND done_by_id IS NOT NULL AND verified_by_id = done_by_id ORDER BY id"
        )
    ).all()
    now = datetime.now(UTC).replace(tzinfo=None)
    for action_id, unit_id in reopened:
        bind.execute(
            sa.text(
                "UPDATE corrective_actions SET status = 'done', verified_by_id = NULL,"
                " verified_at = NULL WHERE id = :id"
            ),
            {"id": action_id},
        )
        bind.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor_id, actor_name, action, object_type,"
                " object_id, unit_id, summary) VALUES (:at, NULL, 'system', 'action.reopen',"
                " 'corrective_actions', :object_id, :unit_id, :summary)"
            ),
            {"at": now, "object_id": str(action_id), "unit_id": unit_id, "summary": REOPENED},
        )
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_verified_by_another"), type_="check")
        batch.create_check_constraint("verified_by_another", VERIFIED_BY_ANOTHER)

    with op.batch_alter_table("drill_requirements") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_drill_requirements_unit_id_units"), "units", ["unit_id"], ["id"]
        )
        batch.drop_constraint(op.f("uq_drill_requirements_unit_kind"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_drill_requirements_unit_id"), ["unit_id", "unit_kind", "drill_kind"]
        )
        batch.create_index(batch.f("ix_drill_requirements_unit_id"), ["unit_id"], unique=False)
    op.create_index(
        "uq_drill_requirements_everywhere",
        "drill_requirements",
        ["unit_kind", "drill_kind"],
        unique=True,
        sqlite_where=sa.text("unit_id IS NULL"),
        postgresql_where=sa.text("unit_id IS NULL"),
    )

    with op.batch_alter_table("drill_kinds") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_drill_kinds_unit_id_units"), "units", ["unit_id"], ["id"])
        batch.create_index(batch.f("ix_drill_kinds_unit_id"), ["unit_id"], unique=False)
    _check_foreign_keys(sqlite)


def downgrade():
    sqlite = _foreign_keys_off()
    with op.batch_alter_table("drill_kinds") as batch:
        batch.drop_index(batch.f("ix_drill_kinds_unit_id"))
        batch.drop_constraint(op.f("fk_drill_kinds_unit_id_units"), type_="foreignkey")
        batch.drop_column("unit_id")

    op.drop_index("uq_drill_requirements_everywhere", table_name="drill_requirements")
    # Only the requirements that apply everywhere fit the old one-set-for-all table.
    op.execute("DELETE FROM drill_requirements WHERE unit_id IS NOT NULL")
    with op.batch_alter_table("drill_requirements") as batch:
        batch.drop_index(batch.f("ix_drill_requirements_unit_id"))
        batch.drop_constraint(op.f("uq_drill_requirements_unit_id"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_drill_requirements_unit_kind"), ["unit_kind", "drill_kind"]
        )
        batch.drop_constraint(op.f("fk_drill_requirements_unit_id_units"), type_="foreignkey")
        batch.drop_column("unit_id")

    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_constraint(op.f("ck_corrective_actions_verified_by_another"), type_="check")
        batch.create_check_constraint("verified_by_another", VERIFIED_BY_ANOTHER_OLD)
        batch.drop_constraint(op.f("fk_corrective_actions_done_by_id_users"), type_="foreignkey")
        batch.drop_column("done_by_id")
    _check_foreign_keys(sqlite)

    op.drop_index(op.f("ix_action_returns_action_id"), table_name="action_returns")
    op.drop_table("action_returns")
    op.drop_index("uq_action_extensions_pending", table_name="action_extensions")
    op.drop_index(op.f("ix_action_extensions_action_id"), table_name="action_extensions")
    op.drop_table("action_extensions")

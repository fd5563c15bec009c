"""The register's other sources (issue 17, item 1): shelter defects and stocktake variances
become corrective actions.

- ``shelter_defects.action_id``: each defect's corrective action (source ``shelter``).
  Existing defects get one each, owned by the town's custodian, else its first active clerk
  or keeper, else an active command user of the nearest unit above it; a defect whose town
  has nobody of these keeps no action (its "resolved" flag still says whether the site needs
  attention) rather than failing the upgrade. An unresolved defect's action is open, due 30
  days after its inspection; a resolved one's is done — a second person never verified it —
  with its resolution as evidence (or "检查时当场整改"), done on its resolution date.
- ``count_variance_thresholds``: when an approved count's variance becomes an action, kept
  per unit by command staff (none at first: no count makes an action until one is set).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

"""

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DUE_DAYS = 30
ON_THE_SPOT = "检查时当场整改"

_actions = sa.table(
    "corrective_actions",
    sa.column("id", sa.Integer),
    sa.column("source", sa.String),
    sa.column("text", sa.Text),
    sa.column("measures", sa.Text),
    sa.column("leader", sa.String),
    sa.column("element", sa.String),
    sa.column("owner_id", sa.Integer),
    sa.column("unit_id", sa.Integer),
    sa.column("due_on", sa.Date),
    sa.column("status", sa.String),
    sa.column("evidence", sa.Text),
    sa.column("done_at", UTCDateTime),
    sa.column("done_by_id", sa.Integer),
    sa.column("cancel_reason", sa.Text),
    sa.column("created_at", UTCDateTime),
)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _owners(bind) -> dict[int, int | None]:
    """Each unit's owner for its defects, as the application chooses when nobody is named
    (rectification.actions.default_owner without an actor)."""
    units = {
        r.id: r for r in bind.execute(sa.text("SELECT id, parent_id, custodian_id FROM units"))
    }
    users = list(
        bind.execute(sa.text("SELECT id, role, unit_id, is_active FROM users ORDER BY id"))
    )
    active = {u.id: u for u in users if u.is_active}
    children: dict[int, list[int]] = {}
    for u in units.values():
        children.setdefault(u.parent_id, []).append(u.id)

    def below(unit_id: int) -> list[int]:
        out, todo = [], [unit_id]
        while todo:
            current = todo.pop()
            if current in out:
                continue
            out.append(current)
            todo.extend(children.get(current, []))
        return out

    def above(unit_id: int) -> list[int]:
        out, current = [], unit_id
        while current is not None and current not in out and current in units:
            out.append(current)
            current = units[current].parent_id
        return out

    def owner(unit_id: int) -> int | None:
        custodian = units[unit_id].custodian_id
        if custodian in active:
            return custodian
        subtree = set(below(unit_id))
        writers = [
            u for u in active.values() if u.role in ("clerk", "keeper") and u.unit_id in subtree
        ]
        if writers:
            return min(writers, key=lambda u: (u.unit_id != unit_id, u.id)).id
        for up in above(unit_id):
            commanders = [u for u in active.values() if u.role == "command" and u.unit_id == up]
            if commanders:
                return commanders[0].id
        return None

    return {unit_id: owner(unit_id) for unit_id in units}


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("shelter_defects") as batch:
        batch.add_column(sa.Column("action_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_shelter_defects_action_id_corrective_actions"),
            "corrective_actions",
            ["action_id"],
            ["id"],
        )
        batch.create_unique_constraint(op.f("uq_shelter_defects_action_id"), ["action_id"])
    if sqlite:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
    op.create_table(
        "count_variance_thresholds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("min_qty", sa.Integer(), nullable=True),
        sa.Column("min_pct", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "min_qty IS NULL OR min_qty >= 0",
            name=op.f("ck_count_variance_thresholds_qty_not_negative"),
        ),
        sa.CheckConstraint(
            "min_pct IS NULL OR (min_pct >= 0 AND min_pct <= 100)",
            name=op.f("ck_count_variance_thresholds_pct_range"),
        ),
        sa.CheckConstraint(
            "min_qty IS NOT NULL OR min_pct IS NOT NULL",
            name=op.f("ck_count_variance_thresholds_something_set"),
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_count_variance_thresholds_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_count_variance_thresholds_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_variance_thresholds")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_count_variance_thresholds_unit_id")),
    )
    _carry_defects_over()


def _carry_defects_over() -> None:
    bind = op.get_bind()
    defects = list(
        bind.execute(
            sa.text(
                "SELECT d.id, d.text, d.is_resolved, d.resolved_on, d.resolution,"
                " d.resolved_by_id, s.town_id, i.inspected_on"
                " FROM shelter_defects d JOIN shelters s ON s.id = d.shelter_id"
                " JOIN shelter_inspections i ON i.id = d.inspection_id ORDER BY d.id"
            )
        )
    )
    if not defects:
        return
    owners = _owners(bind)
    now = datetime.now(UTC)
    for d in defects:
        owner_id = owners.get(d.town_id)
        if owner_id is None:
            continue  # nobody could own it: the defect keeps its own flag
        resolved = bool(d.is_resolved)
        done_on = _as_date(d.resolved_on) if resolved and d.resolved_on is not None else None
        action_id = bind.execute(
            _actions.insert()
            .values(
                source="shelter",
                text=d.text,
                measures="",
                leader="",
                element="planning",
                owner_id=owner_id,
                unit_id=d.town_id,
                due_on=_as_date(d.inspected_on) + timedelta(days=DUE_DAYS),
                status="done" if resolved else "open",
                evidence=((d.resolution or "").strip() or ON_THE_SPOT) if resolved else "",
                done_at=(
                    datetime(done_on.year, done_on.month, done_on.day, tzinfo=UTC)
                    if done_on
                    else (now if resolved else None)
                ),
                done_by_id=d.resolved_by_id if resolved else None,
                cancel_reason="",
                created_at=now,
            )
            .returning(_actions.c.id)
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE shelter_defects SET action_id = :a WHERE id = :d"),
            {"a": action_id, "d": d.id},
        )


def downgrade():
    op.drop_table("count_variance_thresholds")
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("shelter_defects") as batch:
        batch.drop_constraint(op.f("uq_shelter_defects_action_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_shelter_defects_action_id_corrective_actions"), type_="foreignkey"
        )
        batch.drop_column("action_id")
    # only drill and inspection actions fit the old register
    others = "SELECT id FROM corrective_actions WHERE source IN ('shelter', 'count', 'self')"
    for table in ("action_due_changes", "action_extensions", "action_returns"):
        op.execute(f"DELETE FROM {table} WHERE action_id IN ({others})")
    op.execute("DELETE FROM corrective_actions WHERE source IN ('shelter', 'count', 'self')")

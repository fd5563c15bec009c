"""Money that follows the gap (issue 20, items 4–7).

- ``leadership_members``, ``collective_decisions``, ``decision_attendees``: each bureau's
  leadership group and its collective decisions on spending (三重一大).
- ``reserve_funds``, ``fund_entries``: each bureau's reserve fund (储备金), its balance never
  below zero (CHECK), and its ledger.
- ``purchase_requests``, ``purchase_lines``, ``purchase_deliveries``: purchase requests from
  the gap, their approved lines (expected deliveries) and the receipts posted against them.
- ``shelter_subsidies``: a subsidy proposed on a shelter inspection, approved and paid.

A subsidy written on an inspection before this revision was never approved by anyone: it
becomes a proposed subsidy of the site's unit for the inspection's year, for command staff
to approve (or refuse) and pay from the fund.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

import readiness.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reserve_funds",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_reserve_funds_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_reserve_funds_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_reserve_funds")),
    )
    op.create_table(
        "collective_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("members_total", sa.Integer(), nullable=False),
        sa.Column("minutes_sha256", sa.String(length=64), nullable=True),
        sa.Column("minutes_type", sa.String(length=100), nullable=True),
        sa.Column("minutes_name", sa.String(length=200), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", readiness.db.UTCDateTime(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('approved', 'rejected', 'deferred')",
            name=op.f("ck_collective_decisions_outcome_known"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_collective_decisions_amount_not_negative")),
        sa.CheckConstraint(
            "members_total > 0", name=op.f("ck_collective_decisions_members_total_positive")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_collective_decisions_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_collective_decisions_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collective_decisions")),
        sa.UniqueConstraint("request_key", name=op.f("uq_collective_decisions_request_key")),
    )
    with op.batch_alter_table("collective_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collective_decisions_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "leadership_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("is_head", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_leadership_members_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_leadership_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leadership_members")),
        sa.UniqueConstraint("unit_id", "user_id", name="uq_leadership_members_unit_user"),
    )
    with op.batch_alter_table("leadership_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leadership_members_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "decision_attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("is_head", sa.Boolean(), nullable=False),
        sa.Column("position", sa.String(length=10), nullable=True),
        sa.Column("remark", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "position IS NULL OR position IN ('agree', 'oppose', 'reserve')",
            name=op.f("ck_decision_attendees_position_known"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["collective_decisions.id"],
            name=op.f("fk_decision_attendees_decision_id_collective_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_decision_attendees_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_attendees")),
        sa.UniqueConstraint("decision_id", "seq", name="uq_decision_attendees_seq"),
        sa.UniqueConstraint("decision_id", "user_id", name="uq_decision_attendees_user"),
    )
    op.create_table(
        "fund_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", readiness.db.UTCDateTime(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "(kind = 'appropriation') = (amount > 0)",
            name=op.f("ck_fund_entries_appropriations_in_spending_out"),
        ),
        sa.CheckConstraint(
            "kind IN ('appropriation', 'purchase', 'subsidy', 'repair', 'allocation_subsidy')",
            name=op.f("ck_fund_entries_kind_known"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_fund_entries_amount_not_zero")),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_fund_entries_balance_after_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["collective_decisions.id"],
            name=op.f("fk_fund_entries_decision_id_collective_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_fund_entries_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["reserve_funds.unit_id"],
            name=op.f("fk_fund_entries_unit_id_reserve_funds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_entries")),
        sa.UniqueConstraint("object_type", "object_id", name="uq_fund_entries_object"),
        sa.UniqueConstraint("request_key", name=op.f("uq_fund_entries_request_key")),
    )
    with op.batch_alter_table("fund_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fund_entries_unit_booked", ["unit_id", "booked_on", "id"], unique=False
        )

    op.create_table(
        "purchase_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("addressee", sa.String(length=200), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", readiness.db.UTCDateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("approved_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("funding_source", sa.String(length=20), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'partly', 'refused')",
            name=op.f("ck_purchase_requests_status_known"),
        ),
        sa.CheckConstraint(
            "approved_amount IS NULL OR approved_amount >= 0",
            name=op.f("ck_purchase_requests_approved_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_purchase_requests_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["collective_decisions.id"],
            name=op.f("fk_purchase_requests_decision_id_collective_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_purchase_requests_requested_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_purchase_requests_submitted_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_purchase_requests_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_requests")),
        sa.UniqueConstraint("request_key", name=op.f("uq_purchase_requests_request_key")),
    )
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_requests_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "purchase_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("approved_qty", sa.Integer(), nullable=True),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "approved_qty IS NULL OR (approved_qty >= 0 AND approved_qty <= qty)",
            name=op.f("ck_purchase_lines_approved_within_requested"),
        ),
        sa.CheckConstraint("delivered >= 0", name=op.f("ck_purchase_lines_delivered_not_negative")),
        sa.CheckConstraint("qty > 0", name=op.f("ck_purchase_lines_qty_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_purchase_lines_unit_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_purchase_lines_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["purchase_requests.id"],
            name=op.f("fk_purchase_lines_request_id_purchase_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_purchase_lines_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_lines")),
        sa.UniqueConstraint("request_id", "unit_id", "item_id", name="uq_purchase_lines_unit_item"),
    )
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_lines_unit_item", ["unit_id", "item_id"], unique=False)

    op.create_table(
        "shelter_subsidies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", readiness.db.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", readiness.db.UTCDateTime(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("fund_entry_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'refused')",
            name=op.f("ck_shelter_subsidies_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_shelter_subsidies_amount_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_shelter_subsidies_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["collective_decisions.id"],
            name=op.f("fk_shelter_subsidies_decision_id_collective_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["fund_entry_id"],
            ["fund_entries.id"],
            name=op.f("fk_shelter_subsidies_fund_entry_id_fund_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["shelter_inspections.id"],
            name=op.f("fk_shelter_subsidies_inspection_id_shelter_inspections"),
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["users.id"], name=op.f("fk_shelter_subsidies_proposed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_shelter_subsidies_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelter_subsidies")),
        sa.UniqueConstraint("inspection_id", name=op.f("uq_shelter_subsidies_inspection_id")),
    )
    with op.batch_alter_table("shelter_subsidies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shelter_subsidies_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "purchase_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["purchase_lines.id"],
            name=op.f("fk_purchase_deliveries_line_id_purchase_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["movements.id"],
            name=op.f("fk_purchase_deliveries_movement_id_movements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_deliveries")),
        sa.UniqueConstraint("movement_id", name=op.f("uq_purchase_deliveries_movement_id")),
    )
    with op.batch_alter_table("purchase_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_deliveries_line_id"), ["line_id"], unique=False
        )

    # subsidies written on inspections so far await an approval nobody gave
    inspections = sa.table(
        "shelter_inspections",
        sa.column("id", sa.Integer),
        sa.column("shelter_id", sa.Integer),
        sa.column("inspected_on", sa.Date),
        sa.column("subsidy", sa.Numeric(12, 2)),
        sa.column("recorded_by_id", sa.Integer),
    )
    shelters = sa.table("shelters", sa.column("id", sa.Integer), sa.column("town_id", sa.Integer))
    subsidies = sa.table(
        "shelter_subsidies",
        sa.column("inspection_id", sa.Integer),
        sa.column("unit_id", sa.Integer),
        sa.column("year", sa.Integer),
        sa.column("amount", sa.Numeric(14, 2)),
        sa.column("status", sa.String),
        sa.column("proposed_by_id", sa.Integer),
        sa.column("proposed_at", readiness.db.UTCDateTime),
        sa.column("reason", sa.Text),
        sa.column("version", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            inspections.c.id,
            shelters.c.town_id,
            inspections.c.inspected_on,
            inspections.c.subsidy,
            inspections.c.recorded_by_id,
        )
        .join(shelters, shelters.c.id == inspections.c.shelter_id)
        .where(inspections.c.subsidy > 0)
    ).all()
    if rows:
        now = readiness.db.utcnow()
        op.bulk_insert(
            subsidies,
            [
                {
                    "inspection_id": r.id,
                    "unit_id": r.town_id,
                    "year": r.inspected_on.year,
                    "amount": r.subsidy,
                    "status": "proposed",
                    # whoever wrote it on the inspection proposed it: they cannot approve it
                    "proposed_by_id": r.recorded_by_id,
                    "proposed_at": now,
                    "reason": "",
                    "version": 1,
                }
                for r in rows
            ],
        )


def downgrade():
    with op.batch_alter_table("purchase_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_deliveries_line_id"))

    op.drop_table("purchase_deliveries")
    with op.batch_alter_table("shelter_subsidies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shelter_subsidies_unit_id"))

    op.drop_table("shelter_subsidies")
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_lines_unit_item")

    op.drop_table("purchase_lines")
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_requests_unit_id"))

    op.drop_table("purchase_requests")
    with op.batch_alter_table("fund_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_fund_entries_unit_booked")

    op.drop_table("fund_entries")
    op.drop_table("decision_attendees")
    with op.batch_alter_table("leadership_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leadership_members_unit_id"))

    op.drop_table("leadership_members")
    with op.batch_alter_table("collective_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collective_decisions_unit_id"))

    op.drop_table("collective_decisions")
    op.drop_table("reserve_funds")

"""Printer profiles (issue 18, item 3): calibration belongs to a unit's printer, not to the
whole installation.

- ``printer_profiles``: a unit's named printer with its label stock (layout), its language
  (PDF, ZPL or TSPL) and resolution, and its correction (X/Y offset in mm, scale in %).
- ``label_layout_settings`` (one offset per layout for everybody) goes. A non-zero offset
  saved there becomes a profile "<layout>（原全局校准）" of every top unit, so nobody's
  correction is lost; it is then each unit's to rename, change or retire.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

from readiness.db import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "printer_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("layout", sa.String(length=20), nullable=False),
        sa.Column("output", sa.String(length=10), nullable=False),
        sa.Column("dpi", sa.Integer(), nullable=False),
        sa.Column("offset_x_mm", sa.Numeric(precision=5, scale=1), nullable=False),
        sa.Column("offset_y_mm", sa.Numeric(precision=5, scale=1), nullable=False),
        sa.Column("scale_pct", sa.Numeric(precision=5, scale=1), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "offset_x_mm BETWEEN -15 AND 15 AND offset_y_mm BETWEEN -15 AND 15",
            name=op.f("ck_printer_profiles_offset_on_sheet"),
        ),
        sa.CheckConstraint(
            "scale_pct BETWEEN 90 AND 110", name=op.f("ck_printer_profiles_scale_near_full_size")
        ),
        sa.CheckConstraint(
            "output IN ('pdf', 'zpl', 'tspl')", name=op.f("ck_printer_profiles_output_known")
        ),
        sa.CheckConstraint("dpi IN (203, 300)", name=op.f("ck_printer_profiles_dpi_known")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_printer_profiles_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_printer_profiles_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printer_profiles")),
        sa.UniqueConstraint("unit_id", "name", name=op.f("uq_printer_profiles_unit_id")),
    )
    op.create_index(
        op.f("ix_printer_profiles_unit_id"), "printer_profiles", ["unit_id"], unique=False
    )
    op.execute(
        "INSERT INTO printer_profiles (unit_id, name, layout, output, dpi, offset_x_mm,"
        " offset_y_mm, scale_pct, is_active, updated_at, updated_by_id)"
        " SELECT u.id, s.layout || '（原全局校准）', s.layout, 'pdf', 203, s.offset_x_mm,"
        " s.offset_y_mm, 100, u.is_active, s.updated_at, s.updated_by_id"
        " FROM label_layout_settings s CROSS JOIN units u"
        " WHERE u.parent_id IS NULL AND (s.offset_x_mm <> 0 OR s.offset_y_mm <> 0)"
    )
    op.drop_table("label_layout_settings")


def downgrade():
    op.create_table(
        "label_layout_settings",
        sa.Column("layout", sa.String(length=20), nullable=False),
        sa.Column("offset_x_mm", sa.Numeric(precision=5, scale=1), nullable=False),
        sa.Column("offset_y_mm", sa.Numeric(precision=5, scale=1), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_label_layout_settings_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("layout", name=op.f("pk_label_layout_settings")),
    )
    op.drop_index(op.f("ix_printer_profiles_unit_id"), table_name="printer_profiles")
    op.drop_table("printer_profiles")

"""Migration 0019 (issue 18, item 3): the one installation-wide offset per layout becomes a
printer profile of every top unit, so nobody's correction is lost; the profiles keep one name
per unit and refuse corrections off the sheet; going back down removes them."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config

pytestmark = pytest.mark.slow  # runs the migrations

UNIT = (
    "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active, created_at,"
    " version) VALUES ({id}, '{code}', '{code}', 'bureau', {parent}, 0, :t,"
    " '2022-01-01 00:00:00', 1)"
)
PROFILE = (
    "INSERT INTO printer_profiles (unit_id, name, layout, output, dpi, offset_x_mm,"
    " offset_y_mm, scale_pct, is_active, updated_at) VALUES (1, '{name}', 'a4-3x8', '{output}',"
    " {dpi}, {x}, 0, {scale}, :t, '2026-12-01 09:00:00')"
)


def test_global_offsets_become_profiles_of_every_top_unit(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0018")
        for unit_id, code, parent in ((1, "DF", "NULL"), (2, "WL", "NULL"), (3, "DF-WH", "1")):
            db.session.execute(text(UNIT.format(id=unit_id, code=code, parent=parent)), {"t": True})
        db.session.execute(
            text(
                "INSERT INTO label_layout_settings (layout, offset_x_mm, offset_y_mm, updated_at)"
                " VALUES ('a4-3x8', 1.5, -2.0, '2026-11-30 08:00:00'),"
                " ('a4-2x5', 0, 0, '2026-11-30 08:00:00')"
            )
        )
        db.session.commit()
        upgrade(revision="0019")
        rows = db.session.execute(
            text(
                "SELECT unit_id, name, layout, offset_x_mm, offset_y_mm, scale_pct"
                " FROM printer_profiles ORDER BY unit_id"
            )
        ).all()
        # the 3×8 correction, on both top units; the untouched 2×5 offset makes no profile
        assert [(r[0], r[1], r[2], float(r[3]), float(r[4]), float(r[5])) for r in rows] == [
            (1, "a4-3x8（原全局校准）", "a4-3x8", 1.5, -2.0, 100.0),
            (2, "a4-3x8（原全局校准）", "a4-3x8", 1.5, -2.0, 100.0),
        ]
        assert "label_layout_settings" not in inspect(db.engine).get_table_names()
        for bad in (
            PROFILE.format(name="a4-3x8（原全局校准）", output="pdf", dpi=203, x=0, scale=100),
            PROFILE.format(name="x", output="pdf", dpi=203, x=16, scale=100),
            PROFILE.format(name="y", output="pdf", dpi=203, x=0, scale=120),
            PROFILE.format(name="z", output="epl", dpi=203, x=0, scale=100),
            PROFILE.format(name="w", output="zpl", dpi=600, x=0, scale=100),
        ):
            with pytest.raises(IntegrityError):
                db.session.execute(text(bad), {"t": True})
            db.session.rollback()
        db.session.commit()
        downgrade(revision="0018")
        tables = inspect(db.engine).get_table_names()
        assert "printer_profiles" not in tables and "label_layout_settings" in tables
        assert db.session.execute(text("SELECT COUNT(*) FROM units")).scalar() == 3
        db.session.remove()
        db.engine.dispose()

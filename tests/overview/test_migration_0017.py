"""Migration 0017 (issue 17, item 4): an existing database gains the table of issued
bulletins, which keeps one bulletin per unit and period and only weeks and months; going
back down removes it and leaves the rest as it was."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import _base_config

pytestmark = pytest.mark.slow  # runs the migrations

INSERT = (
    "INSERT INTO bulletins (id, unit_id, period_kind, period_start, period_end, number, rows,"
    " issued_by_id, issued_at) VALUES ({id}, 1, '{kind}', '{start}', '{end}', '2026年第11期',"
    " '{{\"rows\": []}}', NULL, '2026-12-01 09:00:00')"
)


def test_bulletins_are_kept_once_per_unit_and_period(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0016")
        db.session.execute(
            text(
                "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
                " created_at, version) VALUES (1, 'DF', '登封市公安局', 'bureau', NULL, 0, :t,"
                " '2022-01-01 00:00:00', 1)"
            ),
            {"t": True},
        )
        db.session.commit()
        upgrade(revision="0017")
        db.session.execute(
            text(INSERT.format(id=1, kind="month", start="2026-11-01", end="2026-11-30"))
        )
        # a week starting the same day is another period
        db.session.execute(
            text(INSERT.format(id=2, kind="week", start="2026-11-01", end="2026-11-07"))
        )
        db.session.commit()
        assert db.session.execute(text("SELECT rows FROM bulletins WHERE id = 1")).scalar() in (
            {"rows": []},
            '{"rows": []}',
        )
        for bad in (
            INSERT.format(id=3, kind="month", start="2026-11-01", end="2026-11-30"),
            INSERT.format(id=4, kind="year", start="2026-01-01", end="2026-12-31"),
            INSERT.format(id=5, kind="month", start="2026-11-01", end="2026-10-31"),
        ):
            with pytest.raises(IntegrityError):
                db.session.execute(text(bad))
            db.session.rollback()
        assert db.session.execute(text("SELECT COUNT(*) FROM bulletins")).scalar() == 2
        # end the session's transaction: PostgreSQL's DROP TABLE waits for its lock
        db.session.commit()
        downgrade(revision="0016")
        assert "bulletins" not in inspect(db.engine).get_table_names()
        assert db.session.execute(text("SELECT code FROM units")).scalar() == "DF"
        db.session.remove()
        db.engine.dispose()

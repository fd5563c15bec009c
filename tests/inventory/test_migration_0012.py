"""Migration 0012 on a database that already holds counts and count intervals: a count
approved with positions holding stock left uncounted becomes partial (what it missed keeps
the date of its last real count), running counts stay as they were (not blind: their
counter saw the book), and the intervals kept so far become policies for everywhere."""

from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config

pytestmark = pytest.mark.slow  # runs the migrations up and down


def _rows(sql: str):
    return [tuple(r) for r in db.session.execute(text(sql)).all()]


def _seed_0011():
    run = db.session.execute
    t = {"t": True}
    run(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES"
            " (1, 'DF', '登封市公安局', 'bureau', NULL, 0, :t, '2022-01-01 00:00:00', 1),"
            " (2, 'DAYE', '大冶派出所', 'station', 1, 28, :t, '2022-01-01 00:00:00', 1),"
            " (3, 'WH', '中心仓库', 'warehouse', 1, 5, :t, '2022-01-01 00:00:00', 1)"
        ),
        t,
    )
    for uid, name, role, unit in ((1, "wang", "command", 1), (2, "zhang", "clerk", 2)):
        run(
            text(
                "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
                " is_active, session_version, created_at, version) VALUES (:id, :u, :u, :r,"
                " :unit, 'hash', 'zh', :t, 1, '2022-01-01 00:00:00', 1)"
            ),
            {"id": uid, "u": name, "r": role, "unit": unit, "t": True},
        )
    run(
        text(
            "INSERT INTO items (id, code, name, category, uom, unit_cost, shelf_life_days,"
            " tracking, is_active, created_at) VALUES"
            " (1, 'LJ', '救生衣', '防汛', '件', 120, NULL, 'bulk', :t, '2022-01-01 00:00:00'),"
            " (2, 'TAPE', '警戒带', '警戒', '盘', 30, NULL, 'bulk', :t, '2022-01-01 00:00:00')"
        ),
        t,
    )
    run(
        text(
            "INSERT INTO positions (id, unit_id, item_id, lot_id, qty, reserved, updated_at)"
            " VALUES (1, 2, 1, NULL, 6, 0, '2026-01-01 00:00:00'),"
            " (2, 2, 2, NULL, 1, 0, '2026-01-01 00:00:00'),"
            " (3, 3, 1, NULL, 50, 0, '2026-01-01 00:00:00')"
        )
    )
    # 1: DAYE, full, approved 2026-10-01; 2: DAYE, approved 2026-11-20 with the tape left
    # uncounted (the "1 of 16 lines"); 3: WH, still being counted.
    for cid, unit, status, decided in (
        (1, 2, "approved", "2026-10-01 09:00:00"),
        (2, 2, "approved", "2026-11-20 09:00:00"),
        (3, 3, "open", None),
    ):
        run(
            text(
                "INSERT INTO counts (id, unit_id, status, is_spot, note, started_at,"
                " started_by_id, submitted_at, submitted_by_id, decided_at, decided_by_id)"
                " VALUES (:id, :unit, :status, :f, '', '2026-09-30 08:00:00', 2, NULL, NULL,"
                " :decided, :by)"
            ),
            {
                "id": cid,
                "unit": unit,
                "status": status,
                "f": False,
                "decided": decided,
                "by": 1 if decided else None,
            },
        )
    for lid, cid, pos, item, book, counted in (
        (1, 1, 1, 1, 6, 6),
        (2, 1, 2, 2, 1, 1),
        (3, 2, 1, 1, 6, 6),
        (4, 2, 2, 2, 1, None),
        (5, 3, 3, 1, 50, 48),
    ):
        run(
            text(
                "INSERT INTO count_lines (id, count_id, position_id, item_id, lot_id, book,"
                " counted, counted_at, counted_by_id) VALUES (:id, :c, :p, :i, NULL, :b, :n,"
                " NULL, 2)"
            ),
            {"id": lid, "c": cid, "p": pos, "i": item, "b": book, "n": counted},
        )
    run(text("INSERT INTO count_intervals (unit_kind, days) VALUES ('warehouse', 14)"))
    db.session.commit()


def _refused(sql: str) -> None:
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(text(sql))
    db.session.rollback()


def test_migration_0012_marks_legacy_partial_counts_and_keeps_intervals(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0011")
        _seed_0011()
        upgrade(revision="0012")
        assert _rows("SELECT id, status, is_partial, is_blind FROM counts ORDER BY id") == [
            (1, "approved", False, False),
            (2, "approved", True, False),
            (3, "open", False, False),
        ]
        assert _rows("SELECT unit_id, unit_kind, days, blind FROM count_intervals") == [
            (None, "warehouse", 14, True)
        ]
        assert _rows("SELECT count(*) FROM count_lines WHERE not_counted_reason IS NULL") == [(5,)]

        from inventory import counts

        due = {d.unit.code: d for d in counts.counts_due(db.session, None, today=date(2026, 12, 3))}
        # The tape was last really counted on 1 October: the partial count did not reset it.
        assert due["DAYE"].last_counted_on == date(2026, 10, 1)
        assert due["DAYE"].due_on == date(2026, 12, 30)
        assert due["WH"].interval_days == 14 and due["WH"].last_counted_on is None
        assert counts.count_policy(db.session, "warehouse", 3).blind is True

        # The rules are in the database too.
        _refused("UPDATE counts SET status = 'bogus' WHERE id = 1")
        _refused("UPDATE counts SET status = 'returned' WHERE id = 3")  # no reason
        _refused("UPDATE count_lines SET not_counted_reason = '锁着' WHERE id = 5")  # counted
        _refused("UPDATE count_lines SET not_counted_reason = '  ' WHERE id = 4")
        _refused(
            "INSERT INTO count_intervals (unit_id, unit_kind, days, blind)"
            " VALUES (NULL, 'warehouse', 30, FALSE)"
        )
        db.session.execute(
            text("UPDATE counts SET status = 'returned', return_reason = '数量不符' WHERE id = 3")
        )
        db.session.commit()
        if BACKEND == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []

        db.session.commit()
        downgrade(revision="0011")
        columns = {c["name"] for c in inspect(db.engine).get_columns("counts")}
        assert not columns & {"is_partial", "is_blind", "return_reason"}
        assert _rows("SELECT unit_kind, days FROM count_intervals") == [("warehouse", 14)]
        assert _rows("SELECT status FROM counts WHERE id = 3") == [("open",)]

        db.session.commit()  # let go of the tables the migration rebuilds (PostgreSQL waits)
        upgrade()  # the whole chain again
        assert _rows("SELECT unit_id, unit_kind, days, blind FROM count_intervals") == [
            (None, "warehouse", 14, True)
        ]
        db.session.remove()
        db.engine.dispose()

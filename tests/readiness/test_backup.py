"""Backup and restore: a copy of the database and its attachment files that comes back whole."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from drills.attachments import attachment_path
from drills.models import Attachment
from inventory import ledger
from inventory.models import Item, Movement
from readiness import backup, demo
from readiness.config import storage_dir
from readiness.db import db
from readiness.models import AuditEntry, Unit
from readiness.permissions import SYSTEM
from tests.conftest import BACKEND

BACKUP_KEY = "test-backup-key-7f3c9a1e5b2d4086"


@pytest.fixture
def app_config() -> dict:
    """Backups here are signed, as in production (READINESS_BACKUP_KEY)."""
    return {"BACKUP_KEY": BACKUP_KEY}


def invoke(runner, *args):
    return runner.invoke(args=[str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def wipe_database(session) -> None:
    """Lose the whole database, as after a broken disk or a `DROP` by mistake."""
    session.close()
    engine = db.engine
    engine.dispose()
    if BACKEND == "sqlite":
        path = Path(engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with engine.begin() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        conn.execute(text("DROP TABLE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS audit_log_append_only()"))
    engine.dispose()


def test_restore_after_losing_everything_brings_back_every_table_and_file(
    app, session, runner, tmp_path
):
    demo.load(session, storage_dir())
    session.commit()
    counts = backup.row_counts(db.engine)
    unit_name = session.scalar(select(Unit.name).where(Unit.code == "DF-DAYE"))
    movement = session.scalars(select(Movement).order_by(Movement.id.desc())).first()
    movement_id, movement_qty = movement.id, movement.qty
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    audit_id, audit_summary = audit.id, audit.summary
    attachment = session.scalars(select(Attachment).order_by(Attachment.id)).first()
    assert attachment is not None, "the demo data should include drill attachments"
    file_path = attachment_path(storage_dir(), attachment.sha256)
    file_bytes = file_path.read_bytes()
    assert sum(counts.values()) > 100 and len([n for n in counts.values() if n]) > 20

    target = tmp_path / "backups" / "2025-06-01"
    output = ok(invoke(runner, "backup", target))
    assert f"backup written: {target}" in output
    assert f"{sum(counts.values())} rows" in output
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["backend"] == BACKEND
    assert manifest["tables"] == counts
    revision = session.scalar(text("SELECT version_num FROM alembic_version"))
    assert manifest["alembic_revision"] == revision
    assert manifest["missing_attachments"] == []
    db_file = "database.sqlite3" if BACKEND == "sqlite" else "database.dump"
    assert (target / db_file).is_file()
    assert (target / "attachments" / file_path.relative_to(storage_dir())).read_bytes() == (
        file_bytes
    )

    wipe_database(session)
    shutil.rmtree(storage_dir())

    output = ok(invoke(runner, "restore", target, "--yes"))
    assert "ok: every table has the row count of the backup" in output
    assert backup.row_counts(db.engine) == counts
    assert session.scalar(select(Unit.name).where(Unit.code == "DF-DAYE")) == unit_name
    assert session.get(Movement, movement_id).qty == movement_qty
    assert session.get(AuditEntry, audit_id).summary == audit_summary
    assert file_path.read_bytes() == file_bytes
    assert ok(invoke(runner, "inventory", "verify")).startswith("ok")


def test_restore_of_an_archive_undoes_later_changes_but_only_with_yes(
    app, session, runner, tmp_path, make_unit, make_item, stock
):
    unit = make_unit("DF-DAYE", name="大冶派出所", parent=None)
    item = make_item("LIFEJACKET")
    unit_id, item_id = unit.id, item.id
    stock(unit, item, 40)
    stock(unit, item, 15, kind="issue")
    counts = backup.row_counts(db.engine)
    archive = tmp_path / "readiness.tar.gz"
    output = ok(invoke(runner, "backup", archive))
    assert archive.is_file() and f"backup written: {archive}" in output

    # Later work the restore must undo: a rename, a new unit, more movements.
    unit.name = "改过的名字"
    session.commit()
    make_unit("DF-NEW", parent=None)
    stock(unit, item, 7)
    session.close()

    refused = invoke(runner, "restore", archive)
    assert refused.exit_code != 0
    assert "--yes" in refused.output
    assert session.scalar(select(func.count()).select_from(Unit)) == 2
    session.close()

    if BACKEND == "sqlite":
        # The restored file keeps the old one's mode (and owner), so the app can open it.
        db_path = Path(db.engine.url.database)
        db_path.chmod(0o640)
    ok(invoke(runner, "restore", archive, "--yes"))
    if BACKEND == "sqlite":
        assert db_path.stat().st_mode & 0o777 == 0o640
        assert not [p for p in db_path.parent.iterdir() if ".restore-" in p.name]
    assert backup.row_counts(db.engine) == counts
    assert session.scalar(select(Unit.name).where(Unit.code == "DF-DAYE")) == "大冶派出所"
    assert session.scalar(select(Unit).where(Unit.code == "DF-NEW")) is None
    qtys = session.scalars(select(Movement.qty).order_by(Movement.id)).all()
    assert qtys == [40, -15]
    # The app keeps working on the restored database.
    stock(session.get(Unit, unit_id), session.get(Item, item_id), 1)
    assert ok(invoke(runner, "inventory", "verify")).startswith("ok")


@pytest.mark.parametrize("victim", ["database", "attachment"])
def test_restore_refuses_a_changed_backup_and_leaves_the_database_alone(
    app, session, runner, tmp_path, make_unit, victim
):
    make_unit("DF-DAYE", parent=None)
    sha = "ab" + "0" * 62
    stored = attachment_path(storage_dir(), sha)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"%PDF-1.4 sign-in sheet")
    target = tmp_path / "bk"
    ok(invoke(runner, "backup", target))
    make_unit("DF-LATER", parent=None)
    session.close()
    before = backup.row_counts(db.engine)

    manifest = json.loads((target / "manifest.json").read_text())
    name = manifest["database_file"] if victim == "database" else f"attachments/ab/{sha}"
    data = bytearray((target / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (target / name).write_bytes(bytes(data))
    stored.unlink()

    result = invoke(runner, "restore", target, "--yes")
    assert result.exit_code != 0
    assert f"sha256 mismatch: {name}" in result.output
    assert "nothing restored" in result.output
    assert backup.row_counts(db.engine) == before
    assert session.scalar(select(Unit).where(Unit.code == "DF-LATER")) is not None
    assert not stored.exists()


def test_restore_refuses_a_file_slipped_into_the_backup(app, runner, tmp_path, make_unit):
    make_unit("DF-DAYE", parent=None)
    target = tmp_path / "bk"
    ok(invoke(runner, "backup", target))
    (target / "attachments" / "cd").mkdir(parents=True)
    (target / "attachments" / "cd" / "cdcd").write_bytes(b"not from the app")
    result = invoke(runner, "restore", target, "--yes")
    assert result.exit_code != 0
    assert "file not in the manifest: attachments/cd/cdcd" in result.output


def test_backup_refuses_to_overwrite_an_earlier_backup(app, runner, tmp_path, make_unit):
    make_unit("DF-DAYE", parent=None)
    target = tmp_path / "bk"
    ok(invoke(runner, "backup", target))
    first = (target / "manifest.json").read_bytes()
    result = invoke(runner, "backup", target)
    assert result.exit_code != 0 and "already exists" in result.output
    assert (target / "manifest.json").read_bytes() == first
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_backup_taken_while_movements_are_written_is_consistent(
    app, session, runner, tmp_path, database_url, make_unit, make_item
):
    unit = make_unit("DF-WH", kind="warehouse", parent=None)
    items = [make_item(f"ITEM{i}") for i in range(3)]
    unit_id, item_ids = unit.id, [i.id for i in items]
    session.close()
    stop = threading.Event()
    written = [0]
    errors = []

    def keep_writing():
        engine = create_engine(database_url)
        try:
            with app.app_context(), Session(engine) as s:
                unit = s.get(Unit, unit_id)
                stock = [s.get(Item, i) for i in item_ids]
                while not stop.is_set():
                    item = stock[written[0] % len(stock)]
                    ledger.record_movement(
                        s, unit=unit, item=item, kind="receipt", qty=3, actor=SYSTEM
                    )
                    s.commit()
                    written[0] += 1
        except Exception as err:  # reported by the test thread
            errors.append(err)
        finally:
            engine.dispose()

    def wait_for(n):
        while written[0] < n and not errors:
            stop.wait(0.01)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        wait_for(30)
        before = written[0]
        target = tmp_path / "bk"
        ok(invoke(runner, "backup", target))
        after = written[0]
        wait_for(after + 30)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    backed_up = json.loads((target / "manifest.json").read_text())["tables"]["movements"]
    assert before <= backed_up <= after

    ok(invoke(runner, "restore", target, "--yes"))
    assert session.scalar(select(func.count()).select_from(Movement)) == backed_up < written[0]
    output = ok(invoke(runner, "inventory", "verify"))
    assert output.startswith("ok: every balance equals the sum of its ledger")


def test_postgres_password_goes_in_the_environment_not_the_command_line():
    url = make_url(
        "postgresql+psycopg://readiness:s3cret@db.example:5433/readiness?sslmode=require"
    )
    target, env = backup._pg_target(url)
    assert "s3cret" not in target
    assert target == "postgresql://readiness@db.example:5433/readiness?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"

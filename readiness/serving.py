"""Who is serving the database: a lock each app process holds once it has served a request.

``flask restore`` must take the same lock exclusively before it replaces the database, so it
refuses while any app process works on it (workers would otherwise go on writing into a
SQLite file that was swapped away, and acknowledged writes would be lost), and an app process
that starts during a restore answers 503 until the restore is done.

- SQLite: a shared ``flock(2)`` on ``<database file>.serving`` (mode 0600). flock belongs to
  the open file, so the lock lives as long as the process keeps the file open, and a crash
  drops it.
- PostgreSQL: a shared session-level advisory lock on one connection kept open for the
  purpose (advisory locks are per database).

The lock is taken by the first request, never by CLI commands, and released when the app's
engine is disposed (the test fixtures do that on teardown) or by ``release()``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import ServiceUnavailable

from readiness.db import db

SUFFIX = ".serving"
# One fixed advisory-lock key ("READINES" in ASCII), split as pg_locks shows it.
LOCK_KEY = 0x52454144494E4553
_CLASSID, _OBJID = LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF
EXTENSION = "readiness.serving"


class DatabaseInUse(Exception):
    """Another process serves (or restores) the database; the message is for the operator."""


def lock_path(engine: Engine) -> Path | None:
    """The SQLite lock file beside the database file (None for an in-memory database)."""
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file::memory"):
        return None
    return Path(f"{name}{SUFFIX}")


def _open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def _flock_holders(fd: int) -> list[tuple[int, str]]:
    """(pid, READ|WRITE) of each process with a flock on this file, from /proc/locks (Linux)."""
    info = os.fstat(fd)
    found = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  READ 1234 08:01:5678 0 EOF"; waiters have "->" after the number.
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            same = (
                int(inode) == info.st_ino
                and int(major, 16) == os.major(info.st_dev)
                and int(minor, 16) == os.minor(info.st_dev)
            )
            if same:
                found.append((int(parts[4]), parts[3]))
        except ValueError:
            continue
    return found


def _pg_connection(engine: Engine, purpose: str):
    """A DBAPI connection of its own, outside the engine's pool (dispose() leaves it alone)."""
    raw = engine.raw_connection()
    raw.detach()
    conn = raw.dbapi_connection
    conn.rollback()
    cur = conn.cursor()
    name = f"readiness {purpose} pid {os.getpid()} on {socket.gethostname()}"[:63]
    cur.execute("SELECT set_config('application_name', %s, false)", (name,))
    conn.commit()
    return conn


def _pg_holders(conn) -> list[str]:
    cur = conn.cursor()
    cur.execute(
        "SELECT a.application_name, a.pid, a.client_addr FROM pg_locks l "
        "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1 ORDER BY l.pid",
        (_CLASSID, _OBJID),
    )
    rows = cur.fetchall()
    conn.rollback()
    return [
        app_name or f"backend pid {pid}" + (f" from {addr}" if addr else "")
        for app_name, pid, addr in rows
    ]


class _SharedLock:
    """The lock one app process holds while it serves."""

    def __init__(self, fd: int | None = None, conn=None):
        self.fd = fd
        self.conn = conn

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file drops the flock
            self.fd = None
        if self.conn is not None:
            _unlock_and_close(self.conn, "SELECT pg_advisory_unlock_all()")
            self.conn = None


def take_shared(engine: Engine) -> _SharedLock | None:
    """The shared serving lock, or None when a restore holds the database right now."""
    if engine.dialect.name == "sqlite":
        path = lock_path(engine)
        if path is None:
            return _SharedLock()
        fd = _open_lock_file(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return _SharedLock(fd=fd)
    if engine.dialect.name == "postgresql":
        conn = _pg_connection(engine, "serving")
        cur = conn.cursor()
        cur.execute("SELECT pg_try_advisory_lock_shared(%s)", (LOCK_KEY,))
        taken = cur.fetchone()[0]
        conn.commit()  # a session-level lock outlives the transaction
        if not taken:
            conn.close()
            return None
        return _SharedLock(conn=conn)
    return _SharedLock()


class _Serving:
    def __init__(self, app: Flask):
        self.app = app
        self.held: _SharedLock | None = None
        self.mutex = threading.Lock()

    def before_request(self) -> None:
        if self.held is not None:  # every request after the first stops here
            return
        with self.mutex:
            if self.held is not None:
                return
            engine = db.engine
            held = take_shared(engine)
            if held is None:
                raise ServiceUnavailable(
                    "The database is being restored from a backup; try again in a few minutes."
                )
            if not event.contains(engine, "engine_disposed", self.on_dispose):
                event.listen(engine, "engine_disposed", self.on_dispose)
            self.held = held

    def on_dispose(self, _engine: Engine) -> None:
        self.release()

    def release(self) -> None:
        with self.mutex:
            if self.held is not None:
                self.held.close()
                self.held = None


def init_app(app: Flask) -> None:
    serving = _Serving(app)
    app.extensions[EXTENSION] = serving
    app.before_request(serving.before_request)


def release(app: Flask | None = None) -> None:
    """Stop holding the serving lock (the next request takes it again): tests and teardown."""
    (app or current_app).extensions[EXTENSION].release()


@contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """Hold the database against every app process while it is replaced; raise DatabaseInUse
    when one serves it (or another restore runs)."""
    if engine.dialect.name == "sqlite":
        path = lock_path(engine)
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock_file(path)
        try:
            _give_to_database_owner(fd, Path(engine.url.database))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holders = _flock_holders(fd)
                if any(kind == "WRITE" for _pid, kind in holders):
                    pids = ", ".join(str(p) for p, _ in holders)
                    raise DatabaseInUse(
                        f"another restore is running on this database (pid {pids})"
                    ) from None
                pids = ", ".join(str(p) for p, _ in holders) or "?"
                raise DatabaseInUse(
                    f"the app is serving this database (pid {pids}); stop it first "
                    "(every gunicorn worker and timer), then run restore again"
                ) from None
            yield
        finally:
            os.close(fd)
        return
    if engine.dialect.name == "postgresql":
        conn = _pg_connection(engine, "restore")
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            taken = cur.fetchone()[0]
            conn.commit()
            if not taken:
                holders = ", ".join(_pg_holders(conn)) or "?"
                raise DatabaseInUse(
                    f"the app is serving this database ({holders}); stop it first "
                    "(every gunicorn worker and timer on every host), then run restore again"
                )
            yield
        finally:
            _unlock_and_close(conn, "SELECT pg_advisory_unlock_all()")
        return
    yield


def _unlock_and_close(conn, unlock: str) -> None:
    """Drop the advisory lock before closing: closing alone leaves it held until the server
    process has ended, so a restore right after another one was refused (seen in a test)."""
    import psycopg

    try:
        cur = conn.cursor()
        cur.execute(unlock)
        conn.commit()
    except psycopg.Error:
        pass  # a broken connection: closing it ends the lock anyway
    conn.close()


def _give_to_database_owner(fd: int, database: Path) -> None:
    """A lock file root created for a restore must stay openable by the app's own user."""
    if os.geteuid() != 0:
        return
    owner = (database if database.exists() else database.parent).stat()
    info = os.fstat(fd)
    if (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
        os.fchown(fd, owner.st_uid, owner.st_gid)

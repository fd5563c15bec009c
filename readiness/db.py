"""Declarative base, the Flask-SQLAlchemy handle and SQLite connection settings."""

import os
import stat
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers work while one writer commits; foreign keys are off by
    # default in SQLite and we rely on them.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        _owner_only(cur)
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Each connection keeps up to 32 MiB of pages (filled as read; SQLite's default is
        # 2 MiB). The city's reports read more than 2 MiB of the balances' index, so every run
        # read it again from the operating system: the shortfall's SQL took 125-150 ms with
        # the default, 85 ms with this (issue 21).
        cur.execute("PRAGMA cache_size=-32768")
        cur.close()


def _owner_only(cur) -> None:
    """Keep the database file (it holds password hashes) from other users, whatever the umask.

    A file this connection just created (still empty) becomes 0600; an existing one loses any
    access by others but keeps the group bits an administrator gave it (restore keeps the mode
    of the file it replaces). Done before WAL is switched on: SQLite gives -wal and -shm the
    main file's mode.
    """
    for _seq, name, path in cur.execute("PRAGMA database_list").fetchall():
        if name != "main" or not path:  # an in-memory database has no file
            continue
        for file in (path, f"{path}-wal", f"{path}-shm"):
            try:
                info = os.stat(file)
                if info.st_uid != os.geteuid():
                    continue  # not ours: nothing this process may change
                mode = stat.S_IMODE(info.st_mode)
                wanted = 0o600 if file == path and info.st_size == 0 else mode & ~0o007
                if mode != wanted:
                    os.chmod(file, wanted)
            except FileNotFoundError:
                continue


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and always read back timezone-aware.

    SQLite has no time zones; without this, values written aware come back
    naive and cannot be compared with ``utcnow()``.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)

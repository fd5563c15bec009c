"""Shared fixtures: the app on SQLite or PostgreSQL, clients, sessions, factories.

The database is chosen by READINESS_TEST_DB (``sqlite``, the default, or
``postgresql``). For PostgreSQL a real server is started for the session
(unless TEST_DATABASE_URL points at one); if it cannot start, the run fails.
The schema is always built by the migrations, never by ``create_all``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

# Every feature's models, before any test runs, as create_app imports them: a pure rule test
# that builds a model object (an Inspection, say) configures the mappers, and a relationship
# one package adds to another's model (drills adds CorrectiveAction.finding) must be there
# by then. A test file run alone otherwise failed with "no property 'attachments'".
import drills.models  # noqa: F401
import funding.models  # noqa: F401
import inventory.models  # noqa: F401
import labels.models  # noqa: F401
import overview.models  # noqa: F401
import rectification.models  # noqa: F401
import shelters.models  # noqa: F401
from readiness import create_app, services
from readiness.db import Base, db
from readiness.permissions import SYSTEM

BACKEND = os.environ.get("READINESS_TEST_DB", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"READINESS_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")

PASSWORD = "secret-pass-1"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# Hashing with scrypt costs ~0.1 s; the suite creates hundreds of users.
# test_services.py checks that production uses scrypt.
ORIGINAL_PASSWORD_METHOD = services.PASSWORD_METHOD
services.PASSWORD_METHOD = "pbkdf2:sha256:1000"


def pytest_report_header(config):
    return f"database backend: {BACKEND}"


# A test that asks for no database (parsers, PDF layout, the lock files, the import rules…)
# runs the same code on both backends: the PostgreSQL run leaves it out (deselected), as it
# ran on SQLite.
DATABASE_FIXTURES = {"database_url", "database_template"}


def pytest_collection_modifyitems(config, items):
    if BACKEND != "postgresql":
        return
    without = [i for i in items if not DATABASE_FIXTURES & set(getattr(i, "fixturenames", ()))]
    if without:
        config.hook.pytest_deselected(items=without)
        items[:] = [i for i in items if i not in without]


def _base_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "BASE_URL": "http://localhost",
    }


def _migrate(url: str) -> None:
    app = create_app(_base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy, or a PostgreSQL URL to truncate."""
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        _migrate(f"sqlite:///{path}")
        yield str(path)
        return
    url = os.environ.get("TEST_DATABASE_URL")
    server = None
    if not url:
        from tests import pgserver

        server = pgserver.start()
        url = server.create_database("readiness_test")
    _migrate(url)
    _SEEDED.update(database_rows(url))
    try:
        yield url
    finally:
        if server:
            server.stop()


# Reference rows the migrations write (the seeded drill kinds): put back after each TRUNCATE.
_SEEDED: dict[str, list[dict]] = {}


def database_rows(url: str) -> dict[str, list[dict]]:
    """Every row of a test database, by table (tables without rows left out)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {
            t.name: [dict(r._mapping) for r in conn.execute(t.select())]
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    return {name: table_rows for name, table_rows in rows.items() if table_rows}


@pytest.fixture(scope="session")
def _live_sqlite_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live") / "test.db"


@pytest.fixture
def database_url(database_template, request) -> Iterator[str]:
    """A database exactly as the migrations leave it, for this test alone. SQLite: the
    template copied over one file (always the same path, so the app can be reused);
    PostgreSQL: the one test database, emptied after the test."""
    if BACKEND == "sqlite":
        path = request.getfixturevalue("_live_sqlite_path")
        for leftover in (path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")):
            leftover.unlink(missing_ok=True)
        shutil.copy(database_template, path)
        yield f"sqlite:///{path}"
        return
    yield database_template
    empty_postgresql(database_template)


@contextlib.contextmanager
def demo_app(database_template: str, folder: Path) -> Iterator[Flask]:
    """An app on a database holding the demo data, for a whole module of tests: a copy of
    the migrated SQLite file in ``folder``, or the PostgreSQL template (emptied after)."""
    from readiness import cache, demo

    if BACKEND == "sqlite":
        shutil.copy(database_template, folder / "demo.db")
        url = f"sqlite:///{folder / 'demo.db'}"
    else:
        url = database_template
    cache.clear()
    attachments = folder / "attachments"
    app = create_app({**_base_config(url), "ATTACHMENT_DIR": str(attachments)})
    try:
        with app.app_context():
            demo.load(db.session, attachments)
            db.session.commit()
            db.session.remove()
        yield app
    finally:
        cache.clear()
        if BACKEND == "postgresql":
            empty_postgresql(url)


def empty_postgresql(url: str, rows: dict[str, list[dict]] | None = None) -> None:
    """Empty every table of a PostgreSQL test database and put back the rows the migrations
    wrote, as the next test expects it — or the given rows (from ``database_rows``).

    Only tables holding rows are emptied, by DELETE with triggers and foreign-key checks off
    for this transaction (TRUNCATE takes 40 to 170 ms a table; a test writes a few tables);
    every id sequence starts again at 1."""
    from sqlalchemy import create_engine

    rows = _SEEDED if rows is None else rows
    tables = Base.metadata.sorted_tables
    engine = create_engine(url)
    with engine.begin() as conn:
        probe = " UNION ALL ".join(
            f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in tables
        )
        filled = {name for (name,) in conn.execute(text(probe))}
        # the test server's user owns the cluster: replica mode skips the append-only
        # audit trigger and the foreign-key checks while the tables are emptied
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in tables:
            if table.name in filled:
                conn.execute(text(f'DELETE FROM "{table.name}"'))
        resets = [
            f"setval(pg_get_serial_sequence('\"{t.name}\"', '{column.name}'), 1, false)"
            for t in tables
            if (column := t.autoincrement_column) is not None
        ]
        conn.execute(text("SELECT " + ", ".join(resets)))
        # put back still in replica mode: the rows were read from a consistent database,
        # but in whatever order PostgreSQL keeps them (an updated unit comes after its
        # children), so a foreign key checked row by row could refuse a child before its
        # parent is back
        for table in tables:
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])
                _continue_ids_after(conn, table)
        conn.execute(text("SET LOCAL session_replication_role = origin"))
    engine.dispose()


def _continue_ids_after(conn, table) -> None:
    """Rows put back with their ids leave the id sequence behind: move it past them."""
    column = table.autoincrement_column
    if column is not None:
        # setval(NULL, …) is a no-op for a table whose id has no sequence
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'(SELECT max("{column.name}") FROM "{table.name}"))'
            ),
            {"table": f'"{table.name}"', "column": column.name},
        )


@pytest.fixture
def empty_url(database_template, tmp_path):
    """A database of its own with no schema yet, for a migration's data test: a SQLite file,
    or a PostgreSQL database on the test server, dropped afterwards."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    import uuid

    import psycopg
    from sqlalchemy import make_url

    url = make_url(database_template)
    name = f"{url.database}_m{uuid.uuid4().hex[:8]}"
    dsn = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings."""
    return {}


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, with its own app context and DB session.

    Flask reuses an already pushed app context for requests; the ``app`` fixture
    pushes one for service calls, which would let ``g`` and the database session
    leak from one request into the next — unlike production. Responses are read buffered.
    """

    def open(self, *args, **kwargs):
        # Read a streamed download to its end and close it, as a server does: left open, it
        # would hold its transaction (and on PostgreSQL block the TRUNCATE between tests).
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


# Building an app costs tens of milliseconds (every route's URL builder is compiled) and each
# new app compiles its templates again: tests with the same settings share one app per run,
# put back between tests (fresh database, engine disposed, settings restored, cache cleared).
_APPS: dict[str, Flask] = {}


@pytest.fixture
def app(database_url, app_config, tmp_path):
    from readiness import cache

    # test databases are files copied from one template: keys must not meet across tests
    cache.clear()
    config = {**_base_config(database_url), **app_config}
    key = repr(sorted(config.items()))
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(config)
        app.test_client_class = IsolatedClient
    saved = dict(app.config)
    # Uploaded files go to the test's own folder, never into the repository's instance/.
    if "ATTACHMENT_DIR" not in app_config:
        app.config["ATTACHMENT_DIR"] = str(tmp_path / "attachments")
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        app.config.clear()
        app.config.update(saved)
        cache.clear()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path: str = "/login") -> str:
    """A valid CSRF token for this client's session, read from a page as a browser would."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no csrf token on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict | None = None, **kwargs):
    """POST a form the way the browser does, CSRF token included."""
    payload = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(path, data=payload, **kwargs)


@pytest.fixture
def login(client):
    """Sign the test client in as a user (by username)."""

    def do_login(username: str, password: str = PASSWORD):
        response = post_form(client, "/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do_login


# Every role but the administrator reaches only its unit's subtree. Units a test makes
# without naming a parent go under one city-level unit, where the command and inspector
# users a test makes without naming a unit sit too ("a command user placed at a city unit
# above several bureaus reaches all of them"). ``parent=None`` makes a separate tree.
_UNDER_CITY = object()


@pytest.fixture
def city(session):
    unit = services.create_unit(
        session, code="TOP", name="Top", kind="bureau", parent=None, headcount=0, actor=SYSTEM
    )
    session.commit()
    return unit


@pytest.fixture
def make_unit(session, request):
    counter = iter(range(1, 10_000))

    def make(
        code: str | None = None,
        *,
        name: str | None = None,
        kind: str = "station",
        parent=_UNDER_CITY,
        headcount: int = 20,
    ):
        if parent is _UNDER_CITY:
            parent = request.getfixturevalue("city")
        code = code or f"U{next(counter):04d}"
        unit = services.create_unit(
            session,
            code=code,
            name=name or f"单位{code}",
            kind=kind,
            parent=parent,
            headcount=headcount,
            actor=SYSTEM,
        )
        session.commit()
        return unit

    return make


@pytest.fixture
def make_user(session, make_unit, request):
    def make(
        username: str, role: str = "clerk", unit=None, *, name: str = "", password: str = PASSWORD
    ):
        if unit is None and role in ("clerk", "keeper"):
            unit = make_unit(kind="warehouse" if role == "keeper" else "station")
        elif unit is None and role in ("command", "inspector"):
            unit = request.getfixturevalue("city")
        user = services.create_user(
            session,
            username=username,
            password=password,
            role=role,
            unit=unit,
            name=name,
            actor=SYSTEM,
        )
        session.commit()
        return user

    return make


@pytest.fixture
def make_token(session):
    def make(user) -> str:
        token = services.issue_token(session, user, actor=SYSTEM)
        session.commit()
        return token

    return make


@pytest.fixture
def api(client):
    """Call the JSON API with a bearer token: api(token).get('/api/v1/me')."""

    class Api:
        def __init__(self, token: str | None):
            self.headers = {"Authorization": f"Bearer {token}"} if token else {}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, json=None, **kw):
            return client.post(path, json=json, headers=self.headers, **kw)

        def put(self, path, json=None, **kw):
            return client.put(path, json=json, headers=self.headers, **kw)

    return Api


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def make_item(session):
    from inventory import catalog

    counter = iter(range(1, 10_000))

    def make(
        code: str | None = None,
        *,
        name: str | None = None,
        category: str = "防汛",
        uom: str = "件",
        unit_cost="100.00",
        shelf_life_days: int | None = None,
        tracking: str = "bulk",
    ):
        code = code or f"I{next(counter):04d}"
        item = catalog.create_item(
            session,
            code=code,
            name=name or f"物资{code}",
            category=category,
            uom=uom,
            unit_cost=unit_cost,
            shelf_life_days=shelf_life_days,
            tracking=tracking,
            actor=SYSTEM,
        )
        session.commit()
        return item

    return make


@pytest.fixture
def stock(session):
    """Record a movement as the system (tests' shortcut for 'the books say')."""
    from inventory import ledger

    def post(unit, item, qty, kind="receipt", **kw):
        result = ledger.record_movement(
            session, unit=unit, item=item, kind=kind, qty=qty, actor=SYSTEM, **kw
        )
        session.commit()
        return result

    return post

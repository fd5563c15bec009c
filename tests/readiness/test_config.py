"""Settings come from the environment; the SQLite database is set up for safe concurrent use."""

import pytest
from sqlalchemy import text

from readiness import create_app
from readiness.config import database_url
from readiness.extensions import db
from tests.conftest import BACKEND


def test_postgres_urls_use_psycopg_3():
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_prefixed_environment_variables_and_secret_file(monkeypatch, tmp_path):
    monkeypatch.setenv("READINESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("READINESS_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("READINESS_BASE_URL", "https://readiness.example.gov.cn")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'readiness.db'}"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # https BASE_URL
    key = app.config["SECRET_KEY"]
    assert len(key) == 64 and (tmp_path / "secret_key").read_text() == key
    assert create_app().config["SECRET_KEY"] == key  # reused, not regenerated
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/x")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@localhost/x"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite connection settings")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1

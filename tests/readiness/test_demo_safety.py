"""Demo data only where it belongs (issue 14, finding 6): the demo's accounts have a published
password, so `make run` puts them only into the embedded SQLite database, never into a
database given by DATABASE_URL, never over real data, and every page says when they exist."""

from __future__ import annotations

from sqlalchemy import func, select

from readiness import create_app, demo
from readiness.models import Unit, User
from readiness.permissions import SYSTEM


def _units(session) -> int:
    return session.scalar(select(func.count()).select_from(Unit))


def test_first_start_never_loads_the_demo_into_a_database_given_by_url(runner, session):
    """The test database is not the embedded default: as with DATABASE_URL, nothing is
    loaded and the first administrator's command is printed instead."""
    result = runner.invoke(args=["demo", "load", "--first-start"])
    assert result.exit_code == 0, result.output
    assert "DATABASE_URL" in result.output and "users create admin --role admin" in result.output
    assert _units(session) == 0
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_first_start_loads_the_embedded_database_once(app, runner, session):
    app.config["EMBEDDED_DATABASE"] = True
    result = runner.invoke(args=["demo", "load", "--first-start"])
    assert result.exit_code == 0, result.output
    assert "demo data loaded into" in result.output and demo.DEMO_PASSWORD in result.output
    loaded = _units(session)
    assert loaded > 0
    again = runner.invoke(args=["demo", "load", "--first-start"])
    assert "already has data" in again.output and _units(session) == loaded


def test_demo_load_refuses_a_database_with_real_data(runner, session, make_unit, make_user):
    bureau = make_unit("HZ", name="杭州市应急管理局", kind="bureau", parent=None)
    make_user("zhang", "command", bureau)
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0
    assert "not the demo's" in result.output and "zhang" in result.output
    assert _units(session) == 1
    assert session.scalar(select(User).where(User.username == "clerk")) is None


def test_the_embedded_database_is_the_default_sqlite_file_only(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert create_app({"SECRET_KEY": "x"}).config["EMBEDDED_DATABASE"] is True
    monkeypatch.setenv("DATABASE_URL", "postgresql://readiness@db-host/readiness")
    assert create_app({"SECRET_KEY": "x"}).config["EMBEDDED_DATABASE"] is False


def test_every_page_shows_the_demo_banner_while_demo_accounts_can_sign_in(
    app, runner, session, client
):
    banner = "演示数据：本系统装有公开密码的演示账号"
    assert banner not in client.get("/login").get_data(as_text=True)
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert banner in client.get("/login").get_data(as_text=True)
    from tests.conftest import post_form

    post_form(client, "/login", {"username": "command", "password": demo.DEMO_PASSWORD})
    assert banner in client.get("/").get_data(as_text=True)
    assert banner in client.get("/reports/shortfall").get_data(as_text=True)

    from readiness import services

    for username, *_ in demo.DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        services.set_user_active(session, user, False, actor=SYSTEM)
    session.commit()
    assert banner not in client.get("/login").get_data(as_text=True)

"""The command line administrators use: users, tokens, demo data, database upgrade."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from readiness.models import AuditEntry, Unit, User
from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parents[2]


def test_users_create_reads_the_password_from_stdin(runner, make_unit, session):
    make_unit("DF-DAYE")
    result = runner.invoke(
        args=["users", "create", "chen", "--role", "clerk", "--unit", "DF-DAYE", "--name", "陈刚"],
        input="a-good-password\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "chen"))
    assert (user.role, user.unit.code, user.name) == ("clerk", "DF-DAYE", "陈刚")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert entry.actor_name == "system"


def test_users_create_refuses_bad_input_and_writes_nothing(runner, session):
    cases = [
        (["users", "create", "chen", "--role", "clerk", "--unit", "NOPE"], "NOPE"),
        (["users", "create", "chen", "--role", "clerk"], "必须属于一个单位"),
        (["users", "create", "chen", "--role", "admin"], "密码至少"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args, input="short\n" if "admin" in args else "long-enough\n")
        assert result.exit_code != 0
        assert message in result.output
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_token_is_printed_on_the_last_line_and_works(runner, make_user, api):
    make_user("cmd1", "command", None)
    result = runner.invoke(args=["users", "token", "cmd1"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert api(token).get("/api/v1/me").get_json()["username"] == "cmd1"
    result = runner.invoke(args=["users", "deactivate", "cmd1"])
    assert result.exit_code == 0
    assert api(token).get("/api/v1/me").status_code == 401


def test_token_for_unknown_user(runner):
    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0
    assert "ghost" in result.output


def test_demo_load_is_idempotent_and_has_one_account_per_role(runner, session, client):
    for _ in range(2):
        result = runner.invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
    names = set(session.scalars(select(Unit.name)))
    for station in (
        "大冶派出所",
        "白坪派出所",
        "卢店派出所",
        "君召派出所",
        "宣化派出所",
        "崇高路派出所",
        "告成派出所",
        "少林派出所",
        "交警七中队",
        "治安大队",
        "情指联勤中心",
    ):
        assert station in names
    assert session.scalar(select(func.count()).select_from(Unit)) == len(names)
    roles = {u.role for u in session.scalars(select(User))}
    assert roles == {"clerk", "keeper", "command", "inspector", "admin"}
    # The printed accounts really sign in.
    from readiness.demo import DEMO_PASSWORD
    from tests.conftest import post_form

    response = post_form(client, "/login", {"username": "clerk", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "already" in result.output


def _flask(env, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_db_upgrade_builds_an_empty_database_and_models_match_migrations(tmp_path, database_url):
    """`flask db upgrade` on an empty database, then `flask db check` finds no drift."""
    env = {**os.environ, "READINESS_INSTANCE_PATH": str(tmp_path / "instance")}
    if BACKEND == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS readiness_fresh"))
            conn.execute(text("CREATE DATABASE readiness_fresh"))
        engine.dispose()
        env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/readiness_fresh"
    upgrade = _flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask(env, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    again = _flask(env, "db", "upgrade")  # a second run changes nothing and keeps data
    assert again.returncode == 0
    created = _flask(env, "users", "create", "first", "--role", "admin", stdin="long-enough-pw\n")
    assert created.returncode == 0, created.stderr
    listed = _flask(env, "users", "list")
    assert "first" in listed.stdout
    # A secret key was generated into the instance folder and is reused.
    key_file = tmp_path / "instance" / "secret_key"
    if "SECRET_KEY" not in os.environ:
        assert key_file.exists()
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_a_worker_freezes_what_it_loaded(tmp_path):
    """gunicorn's workers import ``wsgi``: the app and everything loaded with it is frozen
    out of the cycle collector, so a big report's allocations do not walk it again and
    again (issue 21), while objects made afterwards are still collected."""
    env = {
        **os.environ,
        "READINESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
    }
    probe = (
        "import gc, wsgi; frozen = gc.get_freeze_count(); "
        "after = [[] for _ in range(10)]; "
        "print(frozen, any(gc.is_tracked(x) for x in after) and gc.isenabled(), "
        "gc.get_threshold()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    frozen, collected_after, young = out.stdout.split()
    assert int(frozen) > 10_000 and collected_after == "True"
    assert int(young) == 50_000  # the youngest generation collected less often

"""No input makes the app answer 500: out-of-range numbers in the query string, deep JSON,
a reused request key, an XLSX that unpacks to far more than it weighs; and the SQLite
database and backups are readable by their owner only."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, text

from inventory.models import Position
from readiness import create_app
from readiness.db import db
from tests.conftest import BACKEND, _base_config, post_form

BIG = "9" * 40


@pytest.fixture
def boss(make_unit, make_user, make_token, make_item):
    """A command account over a bureau with one station, and its API token."""
    bureau = make_unit("DF", kind="bureau")
    make_unit("DAYE", parent=bureau)
    make_item("LJ", name="救生衣")
    user = make_user("boss", "command", bureau)
    return make_token(user)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/drills?year=-1", "year"),
        ("/drills?year=10000", "year"),
        (f"/drills?year={BIG}", "year"),
        (f"/drills/compliance?year={BIG}", "year"),
        (f"/audit?unit={BIG}", "unit"),
        (f"/audit?page={BIG}", "page"),
        (f"/drills?page={BIG}", "page"),
        # the ledger pages by keyset (?after=, tests/test_paging_lists.py): ?page= is ignored
        (f"/standard?version={BIG}", "version"),
        (f"/scan?count={BIG}", "count"),
        (f"/reports/expiry?days={BIG}", "days"),
    ],
)
def test_a_page_refuses_an_out_of_range_number_naming_the_parameter(boss, login, client, url, name):
    login("boss")
    response = client.get(url)
    assert response.status_code == 400
    assert f"参数 {name} 必须是" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/reports/drill-compliance?year=10000", "year"),
        ("/api/v1/reports/drill-compliance?year=-1", "year"),
        ("/api/v1/reports/drill-compliance?year=%C2%B2", "year"),  # "²" passes isdigit()
        ("/api/v1/reports/expiry?days=%C2%B2", "days"),
        (f"/api/v1/reports/expiry?days={BIG}", "days"),
    ],
)
def test_the_api_refuses_an_out_of_range_number_in_the_error_shape(boss, api, url, name):
    response = api(boss).get(url)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["field"] == name
    assert name in error["message"]


@pytest.fixture
def clerk_token(boss, session, make_user, make_token):
    from readiness.models import Unit

    station = session.scalar(select(Unit).where(Unit.code == "DAYE"))
    return make_token(make_user("clerk", "clerk", station))


def test_deeply_nested_json_is_refused_not_a_server_error(clerk_token, client):
    for body in ("[" * 100_000, '{"a":' * 100_000, '{"unit": ' + "[" * 500 + "]" * 500 + "}"):
        response = client.post(
            "/api/v1/movements",
            data=body,
            headers={"Authorization": f"Bearer {clerk_token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, body[:20]
        assert response.get_json()["error"]["code"] == "bad_request"


def test_a_request_key_reused_for_a_different_movement_is_a_conflict(clerk_token, api, session):
    client = api(clerk_token)
    body = {"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 5, "request_key": "k-1"}
    assert client.post("/api/v1/movements", json=body).status_code == 201
    # the identical retry still answers the movement it recorded
    again = client.post("/api/v1/movements", json=body)
    assert again.status_code == 200
    for changed in ({"qty": 500}, {"note": "另一笔"}, {"lot": "L-2"}):
        response = client.post("/api/v1/movements", json={**body, **changed})
        assert response.status_code == 409, changed
        assert "该请求编号已用于另一份不同的内容" in response.get_json()["error"]["message"]
    assert session.scalars(select(Position.qty)).all() == [5]


def _xlsx_bomb() -> bytes:
    """A small upload whose one sheet unpacks to about 30 MB of XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        cell = "<c t='inlineStr'><is><t>" + "A" * (30 * 1024 * 1024) + "</t></is></c>"
        zf.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData><row>{cell}</row>")
    return out.getvalue()


def test_an_xlsx_that_unpacks_too_large_is_refused_before_it_is_read(
    make_unit, make_user, login, client
):
    make_user("cmd1", "command", make_unit("WL", kind="bureau"))
    login("cmd1")
    data = _xlsx_bomb()
    assert len(data) < 200 * 1024
    response = post_form(
        client,
        "/shelters/import",
        {"file": (io.BytesIO(data), "名单.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "解压后超过 20 MB" in response.get_data(as_text=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(BACKEND != "sqlite", reason="the SQLite file only")
def test_a_new_sqlite_database_and_its_wal_are_the_owners_only(tmp_path):
    path = tmp_path / "fresh.db"
    old = os.umask(0o022)
    try:
        app = create_app(_base_config(f"sqlite:///{path}"))
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (a INTEGER)"))
                conn.execute(text("INSERT INTO t VALUES (1)"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
            db.engine.dispose()
            # A file left readable by everyone (an older install) is closed to others on the
            # next use; group bits an administrator set are kept.
            path.chmod(0o644)
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            assert _mode(path) == 0o640
            db.engine.dispose()
    finally:
        os.umask(old)


def test_a_backup_folder_is_the_owners_only(app, runner, tmp_path):
    if BACKEND == "postgresql":
        from readiness.backup import find_pg_tool

        try:
            find_pg_tool("pg_dump")
        except Exception:
            pytest.skip("pg_dump is not installed")
    old = os.umask(0o022)
    try:
        target = tmp_path / "backups" / "b1"
        result = runner.invoke(args=["backup", str(target)])
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    assert _mode(target) == 0o700
    for item in target.rglob("*"):
        assert _mode(item) == (0o700 if item.is_dir() else 0o600), item


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/users/new", {"username": "newone", "role": "inspector", "unit": BIG}),
        ("/units/new", {"code": "NEW1", "name": "新单位", "kind": "station", "parent": BIG}),
    ],
)
def test_a_giant_id_in_a_posted_form_is_refused_not_a_server_error(
    make_user, login, client, session, path, data
):
    make_user("root", "admin", None)
    login("root")
    response = post_form(client, path, {"password": "a-long-pass-9", "headcount": "3", **data})
    assert response.status_code == 200  # the form again, with what was typed
    assert 'value="newone"' in response.get_data(as_text=True) or "NEW1" in response.get_data(
        as_text=True
    )
    assert session.scalar(text("SELECT count(*) FROM users WHERE username = 'newone'")) == 0
    assert session.scalar(text("SELECT count(*) FROM units WHERE code = 'NEW1'")) == 0

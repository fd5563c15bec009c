"""The JSON API: tokens, error shape, units, and the OpenAPI document."""

import pytest
from sqlalchemy import func, select

from readiness.models import AuditEntry, Unit


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def admin_token(make_user, make_token):
    return make_token(make_user("root", "admin", None))


def test_no_or_bad_token_is_401_json(api):
    assert_error(api(None).get("/api/v1/me"), 401, "unauthorized")
    assert_error(api("rdy_not-a-real-token").get("/api/v1/me"), 401, "unauthorized")
    response = api(None).get("/api/v1/units")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookie_does_not_authenticate_the_api(make_user, login):
    make_user("cmd1", "command", None)
    client = login("cmd1")
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


def test_me(api, make_unit, make_user, make_token):
    unit = make_unit("DF-DAYE", parent=None)
    token = make_token(make_user("clerk1", "clerk", unit, name="陈刚"))
    body = api(token).get("/api/v1/me").get_json()
    assert body == {
        "username": "clerk1",
        "name": "陈刚",
        "role": "clerk",
        "unit": "DF-DAYE",
        "language": "zh",
    }


def test_deactivated_users_token_stops_working(api, make_user, make_token, session):
    from readiness import services
    from readiness.permissions import SYSTEM

    user = make_user("cmd1", "command", None)
    token = make_token(user)
    assert api(token).get("/api/v1/me").status_code == 200
    services.set_user_active(session, user, False, actor=SYSTEM)
    session.commit()
    assert_error(api(token).get("/api/v1/me"), 401, "unauthorized")


def test_units_list_is_scoped_for_a_clerk(api, make_unit, make_user, make_token):
    bureau = make_unit("B", kind="bureau", parent=None)
    station = make_unit("S", parent=bureau)
    make_unit("SQ", kind="squad", parent=station)
    make_unit("O", parent=bureau)
    clerk = make_token(make_user("clerk1", "clerk", station))
    codes = [u["code"] for u in api(clerk).get("/api/v1/units").get_json()["units"]]
    assert codes == ["S", "SQ"]
    assert_error(api(clerk).get("/api/v1/units/O"), 403, "forbidden")
    assert api(clerk).get("/api/v1/units/SQ").get_json()["parent"] == "S"
    command = make_token(make_user("cmd1", "command", bureau))
    codes = [u["code"] for u in api(command).get("/api/v1/units").get_json()["units"]]
    assert codes == ["B", "O", "S", "SQ"]
    assert_error(api(command).get("/api/v1/units/NOPE"), 404, "not_found")
    # command staff of another bureau reach none of it
    elsewhere = make_token(make_user("cmd2", "command", make_unit("X", kind="bureau", parent=None)))
    assert [u["code"] for u in api(elsewhere).get("/api/v1/units").get_json()["units"]] == ["X"]
    assert_error(api(elsewhere).get("/api/v1/units/S"), 403, "forbidden")


def test_admin_creates_units(api, admin_token, session):
    response = api(admin_token).post(
        "/api/v1/units",
        json={
            "code": "DF",
            "name": "登封市公安局",
            "kind": "bureau",
            "parent": None,
            "headcount": 520,
        },
    )
    assert response.status_code == 201
    assert response.get_json() == {
        "code": "DF",
        "name": "登封市公安局",
        "kind": "bureau",
        "parent": None,
        "headcount": 520,
        "is_active": True,
    }
    response = api(admin_token).post(
        "/api/v1/units",
        json={
            "code": "DF-DAYE",
            "name": "大冶派出所",
            "kind": "station",
            "parent": "DF",
            "headcount": 28,
        },
    )
    assert response.status_code == 201
    assert response.get_json()["parent"] == "DF"
    assert count(session, Unit) == 2
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor_name, entry.action) == ("root", "unit.create")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"code": "X1", "name": "x", "kind": "station", "parent": "NOPE", "headcount": 1},
            422,
            "validation_error",
            "parent",
        ),
        (
            {"code": "大冶", "name": "x", "kind": "station", "headcount": 1},
            422,
            "validation_error",
            "code",
        ),
        (
            {"code": "X1", "name": "x", "kind": "station", "headcount": -1},
            422,
            "validation_error",
            "headcount",
        ),
        (
            {"code": "X1", "name": "x", "kind": "station", "headcount": "5"},
            422,
            "validation_error",
            "headcount",
        ),
        (
            {"code": "X1", "name": "x", "kind": "station", "headcount": True},
            422,
            "validation_error",
            "headcount",
        ),
        (
            {"code": "X1", "name": "x", "kind": "station", "headcount": 1.5},
            422,
            "validation_error",
            "headcount",
        ),
        (
            {"code": "X1", "name": "长" * 101, "kind": "station", "headcount": 1},
            422,
            "validation_error",
            "name",
        ),
        ({"code": "X1", "kind": "station"}, 422, "validation_error", "name"),
        ({"code": 12, "name": "x", "kind": "station"}, 422, "validation_error", "code"),
        ({"code": "X1", "name": "x", "kind": "rocket"}, 422, "validation_error", "kind"),
        ({"code": "EXIST", "name": "x", "kind": "station"}, 409, "conflict", "code"),
        ({"code": "exist", "name": "x", "kind": "station"}, 409, "conflict", "code"),
    ],
)
def test_bad_unit_input_changes_nothing(
    api, admin_token, make_unit, session, body, status, code, field
):
    make_unit("EXIST", parent=None)
    units, entries = count(session, Unit), count(session, AuditEntry)
    error = assert_error(api(admin_token).post("/api/v1/units", json=body), status, code)
    assert error.get("field") == field
    assert count(session, Unit) == units
    assert count(session, AuditEntry) == entries


def test_malformed_bodies(api, admin_token, client):
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert_error(
        client.post(
            "/api/v1/units", data="{not json", headers=headers, content_type="application/json"
        ),
        400,
        "bad_request",
    )
    assert_error(client.post("/api/v1/units", data="code=x", headers=headers), 400, "bad_request")
    assert_error(api(admin_token).post("/api/v1/units", json=[1, 2]), 422, "validation_error")


def test_non_admin_cannot_create_units(api, make_user, make_token, session):
    for role in ("command", "inspector", "clerk", "keeper"):
        token = make_token(make_user(f"u-{role}", role))
        response = api(token).post(
            "/api/v1/units", json={"code": f"N{role}", "name": "x", "kind": "station"}
        )
        assert_error(response, 403, "forbidden")
    # the city unit the command and inspector users sit at, the clerk's and keeper's units
    assert count(session, Unit) == 3


def test_unknown_route_and_wrong_method_answer_json(api, admin_token):
    assert_error(api(admin_token).get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(api(admin_token).put("/api/v1/me", json={}), 405, "method_not_allowed")


def test_openapi_document_describes_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", f"{{{arg}}}").replace(f"<int:{arg}>", f"{{{arg}}}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served == documented

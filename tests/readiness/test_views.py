"""Journeys through the pages: sign-in, accounts, units, users, audit, forms that go wrong."""

import re

from sqlalchemy import func, select

from readiness import services
from readiness.models import AuditEntry, Unit, User
from readiness.permissions import SYSTEM
from tests.conftest import PASSWORD, csrf_token, post_form


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def text_of(response) -> str:
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- sign-in


def test_login_page_is_chinese_by_default(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = text_of(page)
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "用户名" in html


def test_anonymous_is_sent_to_login_and_back_after(client, make_user):
    make_user("cmd1", "command", None)
    first = client.get("/units?x=1")
    assert first.status_code == 302
    assert "/login?next=/units?x%3D1" in first.location or "next=" in first.location
    response = post_form(client, first.location, {"username": "cmd1", "password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/units?x=1"


def test_login_never_redirects_off_site(client, make_user):
    make_user("cmd1", "command", None)
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        response = post_form(
            client, f"/login?next={target}", {"username": "cmd1", "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response.location == "/"
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_wrong_password_says_so_in_chinese_and_pauses_after_repeats(client, make_user):
    make_user("cmd1", "command", None)
    message = "用户名或密码不正确；多次失败后需等待几分钟再试。"
    for _ in range(5):
        page = post_form(client, "/login", {"username": "cmd1", "password": "nope-nope"})
        assert page.status_code == 200
        assert message in text_of(page)
    # From this address even the right password is refused now, with the same words.
    page = post_form(client, "/login", {"username": "cmd1", "password": PASSWORD})
    assert page.status_code == 200
    assert message in text_of(page)
    assert "锁定" not in text_of(page)


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    make_user("cmd1", "command", None)
    response = post_form(client, "/login", {"username": "cmd1", "password": PASSWORD})
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_deactivated_users_session_stops_at_the_next_click(app, make_user, session, login):
    user = make_user("cmd1", "command", None)
    client = login("cmd1")
    assert client.get("/units").status_code == 200
    from readiness import services
    from readiness.permissions import SYSTEM

    services.set_user_active(session, user, False, actor=SYSTEM)
    session.commit()
    response = client.get("/units")
    assert response.status_code == 302 and "/login" in response.location


def test_logout_ends_the_session(make_user, login):
    make_user("cmd1", "command", None)
    client = login("cmd1")
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_change_password_ends_other_sessions(app, make_user, login):
    make_user("cmd1", "command", None)
    phone = app.test_client()
    post_form(phone, "/login", {"username": "cmd1", "password": PASSWORD})
    assert phone.get("/").status_code == 200
    desk = login("cmd1")
    bad = post_form(
        desk,
        "/account/password",
        {
            "current_password": "wrong-one",
            "new_password": "brand-new-pw",
            "confirm": "brand-new-pw",
        },
    )
    assert "当前密码不正确。" in text_of(bad)
    ok = post_form(
        desk,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "brand-new-pw", "confirm": "brand-new-pw"},
    )
    assert ok.status_code == 302
    assert desk.get("/").status_code == 200  # this browser stays signed in
    assert phone.get("/").status_code == 302  # the other one is out


# ---------------------------------------------------------------- CSRF


def test_post_without_or_with_forged_csrf_changes_nothing(make_user, login, session):
    make_user("root", "admin", None)
    client = login("root")
    data = {"code": "NEW1", "name": "新单位", "kind": "station", "headcount": "3", "parent": ""}
    for token in (None, "forged-token"):
        payload = dict(data)
        if token:
            payload["csrf_token"] = token
        response = client.post(
            "/units/new", data=payload, headers={"Referer": "http://localhost/units/new"}
        )
        assert response.status_code in (302, 400)
        follow = client.get(response.location) if response.status_code == 302 else response
        assert "表单已过期或来源无效" in text_of(follow)
    assert session.scalar(select(Unit).where(Unit.code == "NEW1")) is None


# ---------------------------------------------------------------- units


def test_admin_creates_and_edits_a_unit(make_user, login, session):
    make_user("root", "admin", None)
    client = login("root")
    response = post_form(
        client,
        "/units/new",
        {"code": "DF", "name": "登封市公安局", "kind": "bureau", "headcount": "520", "parent": ""},
    )
    assert response.status_code == 302
    bureau = session.scalar(select(Unit).where(Unit.code == "DF"))
    response = post_form(
        client,
        "/units/new",
        {
            "code": "DF-DAYE",
            "name": "大冶派出所",
            "kind": "station",
            "headcount": "28",
            "parent": str(bureau.id),
        },
    )
    assert response.location == "/units/DF-DAYE"
    client.get(response.location)  # shows the flash
    tree = text_of(client.get("/units"))
    assert tree.index("登封市公安局") < tree.index("大冶派出所")
    edit = client.get("/units/DF-DAYE/edit")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', text_of(edit)).group(1)
    response = post_form(
        client,
        "/units/DF-DAYE/edit",
        {
            "name": "大冶派出所",
            "kind": "station",
            "headcount": "30",
            "parent": str(bureau.id),
            "version": version,
            "code": "HACKED",
        },
    )
    assert response.status_code == 302
    unit = session.scalar(select(Unit).where(Unit.code == "DF-DAYE"))
    session.refresh(unit)
    assert unit.headcount == 30
    assert session.scalar(select(Unit).where(Unit.code == "HACKED")) is None


def test_unit_form_errors_are_shown_and_nothing_changes(make_user, make_unit, login, session):
    make_user("root", "admin", None)
    make_unit("DF-DAYE", name="大冶派出所", parent=None)
    client = login("root")
    units_before = count(session, Unit)
    audit_before = count(session, AuditEntry)
    station = {"kind": "station", "headcount": "1", "parent": ""}
    cases = [
        ({**station, "code": "df-daye", "name": "x"}, "单位代码 DF-DAYE 已被 大冶派出所 使用。"),
        ({**station, "code": "大冶", "name": "x"}, "单位代码只能由字母、数字"),
        (
            {**station, "code": "OK1", "name": "x", "headcount": "-4"},
            "数值大小必须介于 0 到 100000",
        ),
        ({**station, "code": "OK1", "name": "x", "headcount": "abc"}, "不是有效的整数。"),
        ({**station, "code": "OK1", "name": "长" * 200}, "字段长度不能超过 100 个字符。"),
        ({**station, "code": "OK1", "name": "x", "parent": "99999"}, "所选单位不存在。"),
    ]
    for data, expected in cases:
        page = post_form(client, "/units/new", data)
        assert page.status_code == 200, data
        errors = re.findall(r'class="error">([^<]*)<', text_of(page))
        assert any(expected in e for e in errors), (expected, errors)
    assert count(session, Unit) == units_before
    assert count(session, AuditEntry) == audit_before


def test_a_stale_unit_form_is_refused(make_user, make_unit, login, session):
    make_user("root", "admin", None)
    unit = make_unit("S1", headcount=10, parent=None)
    client = login("root")
    page = client.get("/units/S1/edit")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', text_of(page)).group(1)
    # Someone else saves first.
    post_form(
        client,
        "/units/S1/edit",
        {"name": "甲", "kind": "station", "headcount": "11", "parent": "", "version": version},
    )
    stale = post_form(
        client,
        "/units/S1/edit",
        {"name": "乙", "kind": "station", "headcount": "99", "parent": "", "version": version},
    )
    assert stale.status_code == 200
    assert "该记录已被他人修改" in text_of(stale)
    session.refresh(unit)
    assert (unit.name, unit.headcount) == ("甲", 11)


def test_clerk_cannot_post_to_admin_forms_or_see_other_units(make_user, make_unit, login, session):
    bureau = make_unit("B", kind="bureau", parent=None)
    mine = make_unit("MINE", parent=bureau)
    make_unit("OTHER", parent=bureau)
    make_user("clerk1", "clerk", mine)
    client = login("clerk1")
    response = post_form(
        client,
        "/units/new",
        {"code": "X", "name": "x", "kind": "station", "headcount": "1", "parent": ""},
    )
    assert response.status_code == 403
    assert "您无权访问此页面" in text_of(response)
    response = post_form(
        client,
        "/units/MINE/edit",
        {"name": "改名", "kind": "station", "headcount": "1", "parent": ""},
    )
    assert response.status_code == 403
    assert client.get("/units/MINE").status_code == 200
    assert client.get("/units/OTHER").status_code == 403
    listing = text_of(client.get("/units"))
    assert "单位MINE" in listing and "单位OTHER" not in listing
    assert session.scalar(select(Unit).where(Unit.code == "X")) is None
    session.refresh(mine)
    assert mine.name == "单位MINE"


def test_deactivate_unit_from_page(make_user, make_unit, login, session):
    make_user("root", "admin", None)
    unit = make_unit("S1", parent=None)
    client = login("root")
    page = client.get("/units/S1")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', text_of(page)).group(1)
    response = post_form(client, "/units/S1/deactivate", {"version": version})
    assert response.status_code == 302
    assert "已停用单位" in text_of(client.get(response.location))
    session.refresh(unit)
    assert not unit.is_active


# ---------------------------------------------------------------- users


def test_admin_opens_moves_and_deactivates_an_account(make_user, make_unit, login, session):
    make_user("root", "admin", None)
    a = make_unit("A", parent=None)
    b = make_unit("B", parent=None)
    client = login("root")
    response = post_form(
        client,
        "/users/new",
        {
            "username": "zhang",
            "name": "张伟",
            "role": "clerk",
            "unit": str(a.id),
            "password": "first-pass-1",
        },
    )
    assert response.status_code == 302
    user = session.scalar(select(User).where(User.username == "zhang"))
    page = client.get(f"/users/{user.id}/edit")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', text_of(page)).group(1)
    response = post_form(
        client,
        f"/users/{user.id}/edit",
        {"name": "张伟", "role": "clerk", "unit": str(b.id), "version": version},
    )
    assert response.status_code == 302
    session.refresh(user)
    assert user.unit_id == b.id
    response = post_form(client, f"/users/{user.id}/deactivate", {"version": str(user.version)})
    assert response.status_code == 302
    session.refresh(user)
    assert not user.is_active
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "users", AuditEntry.object_id == str(user.id)
        )
    )
    assert {"user.create", "user.update", "user.deactivate"} <= set(actions)


def test_user_form_errors(make_user, login, session):
    make_user("root", "admin", None)
    client = login("root")
    before = count(session, User)
    page = post_form(
        client,
        "/users/new",
        {"username": "x y", "role": "clerk", "unit": "", "password": "long-enough"},
    )
    assert page.status_code == 200 and "用户名只能由" in text_of(page)
    page = post_form(
        client,
        "/users/new",
        {"username": "xy", "role": "clerk", "unit": "", "password": "long-enough"},
    )
    assert "必须属于一个单位" in text_of(page)
    assert count(session, User) == before


def test_admin_revokes_a_users_tokens(make_user, login, api, session):
    """Administrators cannot create another user's token (see test_account_security),
    but they can stop every token of an account at once."""
    target = make_user("apiuser", "command", None)
    make_user("root", "admin", None)
    token = services.issue_token(session, target, actor=SYSTEM)
    session.commit()
    assert api(token).get("/api/v1/me").get_json()["username"] == "apiuser"
    client = login("root")
    assert token[:12] not in text_of(client.get(f"/users/{target.id}"))
    revoked = post_form(client, f"/users/{target.id}/tokens/revoke", {})
    assert "已吊销 1 个令牌。" in text_of(client.get(revoked.location))
    assert api(token).get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------- audit


def test_audit_log_filters_and_exports(make_user, make_unit, login):
    bureau = make_unit("B", name="甲局", kind="bureau", parent=None)
    make_user("insp", "inspector", bureau)
    make_unit("AAA", name="甲所", parent=bureau)
    make_unit("BBB", name="乙所", parent=bureau)
    make_unit("ZZZ", name="丙局", kind="bureau", parent=None)
    client = login("insp")
    page = text_of(client.get("/audit?object_type=units"))
    assert "unit.create" in page
    csv = client.get("/audit.csv?object_type=units")
    assert csv.status_code == 200
    assert csv.mimetype == "text/csv"
    body = csv.get_data(as_text=True)
    assert body.startswith("\ufeff")
    # the inspector's own bureau's trail, not another bureau's
    assert body.count("unit.create") == 3
    assert "甲所" in body
    assert "丙局" not in body and "丙局" not in page
    csv = client.get("/audit.csv?actor=nobody-like-this")
    assert csv.get_data(as_text=True).count("\n") == 1  # header only


def test_there_is_no_way_to_change_the_audit_log_over_http(app):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


# ---------------------------------------------------------------- language


def test_language_can_be_switched_per_user_and_by_query(make_user, login, session):
    user = make_user("cmd1", "command", None)
    client = login("cmd1")
    assert '<html lang="zh-CN">' in text_of(client.get("/"))
    assert '<html lang="en">' in text_of(client.get("/?lang=en"))
    post_form(client, "/language", {"lang": "en", "next": "/"})
    session.refresh(user)
    assert user.language == "en"
    other = client.application.test_client()
    post_form(other, "/login", {"username": "cmd1", "password": PASSWORD})
    assert '<html lang="en">' in text_of(other.get("/"))

"""Issue 14, findings 1, 4 and 5: sessions that really end, passwords worth having, and an
administrator who administers but cannot act as anyone else. HTTP-level, on both databases.
"""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from readiness import services
from readiness.errors import DomainError
from readiness.models import ApiToken, AuditEntry, User
from readiness.passwords import check_new_password, common_passwords
from readiness.permissions import PERMISSIONS, SYSTEM
from tests.conftest import CSRF_RE, PASSWORD, csrf_token, post_form


def text_of(response) -> str:
    return response.get_data(as_text=True)


def signed_in(app, username: str, password: str = PASSWORD, *, remember: bool = False):
    client = app.test_client()
    data = {"username": username, "password": password}
    if remember:
        data["remember"] = "y"
    response = post_form(client, "/login", data)
    assert response.status_code == 302, text_of(response)[:300]
    return client


def replay(app, cookies: dict[str, str]):
    """A fresh browser holding only these cookies, as a thief who copied them would."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def cookie(client, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


# ---------------------------------------------------------------- finding 1: sessions


def test_a_session_cookie_saved_before_logout_opens_nothing_afterwards(app, make_user):
    make_user("cmd1", "command", None)
    browser = signed_in(app, "cmd1")
    saved = {"session": cookie(browser, "session")}
    assert replay(app, saved).get("/").status_code == 200  # the copy works while signed in
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    again = replay(app, saved).get("/")
    assert again.status_code == 302 and "/login" in again.location


def test_remember_me_lasts_fourteen_days_and_dies_with_logout(app, make_user):
    make_user("cmd1", "command", None)
    browser = app.test_client()
    response = post_form(
        browser, "/login", {"username": "cmd1", "password": PASSWORD, "remember": "y"}
    )
    remember = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")
    )
    expires = parsedate_to_datetime(remember.split("Expires=")[1].split(";")[0])
    days = (expires - datetime.now(UTC)) / timedelta(days=1)
    assert 13.9 < days <= 14
    assert "HttpOnly" in remember
    saved = {"remember_token": cookie(browser, "remember_token")}
    assert replay(app, saved).get("/").status_code == 200  # the cookie alone signs in
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    again = replay(app, saved).get("/")
    assert again.status_code == 302 and "/login" in again.location


@pytest.mark.parametrize("app_config", [{"REMEMBER_COOKIE_DURATION": 365 * 24 * 3600}])
def test_a_longer_remember_setting_is_cut_to_fourteen_days(app):
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=14)


@pytest.mark.parametrize("change", ["password", "role", "unit", "deactivate"])
def test_post_and_password_changes_end_every_remembered_session(
    app, make_user, make_unit, session, change
):
    station = make_unit("S1", kind="station")
    other = make_unit("S2", kind="station")
    user = make_user("clerk1", "clerk", station)
    browser = signed_in(app, "clerk1", remember=True)
    saved = {
        "session": cookie(browser, "session"),
        "remember_token": cookie(browser, "remember_token"),
    }
    assert replay(app, saved).get("/").status_code == 200
    if change == "password":
        services.reset_password(session, user, "another-pass-77", actor=SYSTEM)
    elif change == "role":
        services.update_user(session, user, name="", role="inspector", unit=station, actor=SYSTEM)
    elif change == "unit":
        services.update_user(session, user, name="", role="clerk", unit=other, actor=SYSTEM)
    else:
        services.set_user_active(session, user, False, actor=SYSTEM)
    session.commit()
    for client in (replay(app, saved), browser):
        response = client.get("/")
        assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("app_config", [{"BASE_URL": "https://readiness.example.gov.cn"}])
def test_session_cookies_are_secure_when_served_over_https(app, make_user):
    make_user("cmd1", "command", None)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    token = CSRF_RE.search(text_of(page)).group(1)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "cmd1", "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it over https
    )
    assert response.status_code == 302
    headers = [
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(("session=", "remember"))
    ]
    assert len(headers) == 2 and all("Secure" in h for h in headers)


# ---------------------------------------------------------------- finding 4: passwords


@pytest.mark.parametrize(
    "password, words",
    [
        ("aaaaaaaa", "至少 10 位"),
        ("aaaaaaaaaa", "至少要有 4 个不同的字符"),
        ("qwertyuiop", "常见密码"),
        ("1qaz2wsx3edc", "常见密码"),
        ("woaini1314", "常见密码"),
        ("newclerk-2026", "用户名"),
    ],
)
def test_the_users_page_refuses_weak_passwords_naming_the_field(
    make_user, make_unit, login, session, password, words
):
    make_user("root", "admin", None)
    unit = make_unit("S9")
    client = login("root")
    page = post_form(
        client,
        "/users/new",
        {"username": "newclerk", "role": "inspector", "unit": str(unit.id), "password": password},
    )
    assert page.status_code == 200
    assert words in text_of(page)
    assert 'name="username" required type="text" value="newclerk"' in text_of(page)  # kept
    assert session.scalar(select(User).where(User.username == "newclerk")) is None


def test_the_same_rule_holds_on_the_command_line(runner, session):
    refused = runner.invoke(
        args=["users", "create", "first", "--role", "admin"], input="aaaaaaaa\n"
    )
    assert refused.exit_code != 0
    assert "至少 10 位" in refused.output
    common = runner.invoke(
        args=["users", "create", "first", "--role", "admin"], input="password123\n"
    )
    assert common.exit_code != 0 and "常见密码" in common.output
    assert session.scalar(select(User).where(User.username == "first")) is None
    ok = runner.invoke(
        args=["users", "create", "first", "--role", "admin"], input="a-long-pass-9\n"
    )
    assert ok.exit_code == 0, ok.output
    user = session.scalar(select(User).where(User.username == "first"))
    assert user is not None and not user.must_change_password  # the server's word is final


def test_changing_ones_own_password_follows_the_rule(make_user, login):
    make_user("cmd1", "command", None)
    client = login("cmd1")
    page = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "cmd1cmd1cmd1", "confirm": "cmd1cmd1cmd1"},
    )
    assert page.status_code == 200 and "用户名" in text_of(page)


def test_the_shipped_list_is_read_and_the_demo_password_is_in_it():
    words = common_passwords()
    assert len(words) > 1000
    assert "demo-2021-0720" in words
    with pytest.raises(DomainError) as err:
        check_new_password("Demo-2021-0720", username="someone")
    assert err.value.field == "password"


def test_a_password_set_by_the_administrator_must_be_changed_first(
    app, make_user, make_unit, login, session
):
    make_user("root", "admin", None)
    unit = make_unit("S9")
    admin = login("root")
    created = post_form(
        admin,
        "/users/new",
        {
            "username": "newcmd",
            "role": "inspector",
            "unit": str(unit.id),
            "password": "given-by-admin-1",
        },
    )
    assert created.status_code == 302
    user = session.scalar(select(User).where(User.username == "newcmd"))
    assert user.must_change_password

    # The new user asks for a page, signs in, and is sent to change the password first.
    browser = app.test_client()
    first = browser.get("/audit?page=1")
    signed = post_form(
        browser, first.location, {"username": "newcmd", "password": "given-by-admin-1"}
    )
    assert signed.location == "/audit?page=1"
    held = browser.get(signed.location)
    assert held.status_code == 302 and held.location.startswith("/account/password?next=")
    page = browser.get(held.location)
    assert "管理员设置的" in text_of(page)
    assert browser.get("/account/tokens").status_code == 302  # nothing else until changed
    changed = post_form(
        browser,
        held.location,
        {
            "current_password": "given-by-admin-1",
            "new_password": "only-i-know-42",
            "confirm": "only-i-know-42",
        },
    )
    assert changed.status_code == 302 and changed.location == "/audit?page=1"
    assert browser.get("/audit?page=1").status_code == 200
    session.expire_all()
    assert not session.get(User, user.id).must_change_password


def test_a_reset_password_must_be_changed_too_and_api_waits_for_it(
    app, make_user, login, session, runner
):
    make_user("root", "admin", None)
    clerk = make_user("clerk1", "clerk")
    token_out = runner.invoke(args=["users", "token", "clerk1"])
    token = token_out.output.strip().splitlines()[-1]
    api = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=api).status_code == 200
    admin = login("root")
    reset = post_form(admin, f"/users/{clerk.id}/password", {"password": "reset-by-admin-7"})
    assert reset.status_code == 302
    session.expire_all()
    assert session.get(User, clerk.id).must_change_password
    refused = app.test_client().get("/api/v1/me", headers=api)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    browser = signed_in(app, "clerk1", "reset-by-admin-7")
    assert browser.get("/stock").location.startswith("/account/password")


def test_demo_accounts_keep_the_published_password(runner, session, app):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    demo_user = session.scalar(select(User).where(User.username == "admin"))
    assert demo_user is not None and not demo_user.must_change_password
    assert "演示数据" in text_of(signed_in(app, "admin", "demo-2021-0720").get("/"))


# ---------------------------------------------------------------- finding 5: admin powers


def test_admin_cannot_change_own_role_or_unit(make_user, make_unit, login, session):
    root = make_user("root", "admin", None)
    unit = make_unit("S1")
    client = login("root")
    for data in (
        {"name": "", "role": "command", "unit": "", "version": str(root.version)},
        {"name": "", "role": "admin", "unit": str(unit.id), "version": str(root.version)},
    ):
        page = post_form(client, f"/users/{root.id}/edit", data)
        assert page.status_code == 200
        assert "不能修改自己的角色或所属单位" in text_of(page)
    session.expire_all()
    again = session.get(User, root.id)
    assert (again.role, again.unit_id) == ("admin", None)
    # The name is one's own to correct.
    named = post_form(
        client,
        f"/users/{root.id}/edit",
        {"name": "王管理", "role": "admin", "unit": "", "version": str(again.version)},
    )
    assert named.status_code == 302


def test_admin_cannot_mint_or_see_another_users_token(app, make_user, login, session):
    make_user("root", "admin", None)
    cmd = make_user("cmd1", "command", None)
    admin = login("root")
    # The route the review used is gone, and the service refuses whatever the way in.
    response = post_form(admin, f"/users/{cmd.id}/token", {})
    assert response.status_code in (404, 405)
    root = session.scalar(select(User).where(User.username == "root"))
    with pytest.raises(DomainError):
        services.issue_token(session, cmd, actor=root)
    session.rollback()
    assert session.scalar(select(ApiToken).where(ApiToken.user_id == cmd.id)) is None
    # The user page names no way to obtain one either.
    page = text_of(admin.get(f"/users/{cmd.id}"))
    assert "签发新令牌" not in page and "rdy_" not in page


def test_a_user_creates_and_revokes_their_own_token(app, make_user, session):
    make_user("cmd1", "command", None)
    browser = signed_in(app, "cmd1")
    page = post_form(browser, "/account/tokens", {})
    assert page.status_code == 200
    token = text_of(page).split('<pre class="token">')[1].split("</pre>")[0]
    assert token.startswith("rdy_")
    api = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=api).get_json()["username"] == "cmd1"
    listing = text_of(browser.get("/account/tokens"))
    assert token not in listing and token[:12] in listing  # shown once, then only the prefix
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == token[:12]))
    revoked = post_form(browser, "/account/tokens", {"revoke": str(row.id)})
    assert revoked.status_code == 302
    assert app.test_client().get("/api/v1/me", headers=api).status_code == 401
    audit = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.in_(("token.issue", "token.revoke")))
    ).all()
    assert sorted(audit) == ["token.issue", "token.revoke"]


def test_a_token_id_that_is_not_ones_own_revokes_nothing(app, make_user, session, runner):
    make_user("cmd1", "command", None)
    make_user("cmd2", "command", None)
    out = runner.invoke(args=["users", "token", "cmd2"]).output.strip().splitlines()[-1]
    other = session.scalar(select(ApiToken).where(ApiToken.prefix == out[:12]))
    browser = signed_in(app, "cmd1")
    post_form(browser, "/account/tokens", {"revoke": str(other.id)})
    huge = post_form(browser, "/account/tokens", {"revoke": "9" * 40})
    assert huge.status_code == 400
    api = {"Authorization": f"Bearer {out}"}
    assert app.test_client().get("/api/v1/me", headers=api).status_code == 200


def test_admin_holds_no_approval_verification_or_stock_power():
    powers = [
        name
        for name, roles in PERMISSIONS.items()
        if "admin" in roles
        and any(
            word in name
            for word in (
                "approve",
                "verify",
                "stock",
                "counts",
                "allocations",
                "cancel",
                "dispatch",
                "receive",
            )
        )
    ]
    assert powers == []


def test_command_staff_see_who_was_given_command_or_admin_powers(make_user, login, session):
    make_user("root", "admin", None)
    make_user("cmd1", "command", None)
    insp = make_user("insp1", "inspector", None)
    admin = login("root")
    post_form(
        admin,
        f"/users/{insp.id}/edit",
        {"name": "", "role": "command", "unit": str(insp.unit_id), "version": str(insp.version)},
    )
    post_form(
        admin,
        "/users/new",
        {"username": "root2", "role": "admin", "unit": "", "password": "second-admin-pw"},
    )
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "user.update").order_by(AuditEntry.id.desc())
    )
    assert (entry.before["role"], entry.after["role"]) == ("inspector", "command")
    board = text_of(login("cmd1").get("/"))
    section = board.split('id="dash-powers"')[1].split("</section>")[0]
    assert "insp1" in section and "root2" in section and "root" in section
    assert "获得角色" in section
    # Clerks and administrators do not get this card.
    assert 'id="dash-powers"' not in text_of(login("root").get("/"))

"""Sign-in throttle (issue 14): by address and by account, shared by all workers, one answer."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness import create_app, services, throttle
from readiness.db import db, utcnow
from readiness.models import AuditEntry, LoginThrottle
from readiness.permissions import SYSTEM
from tests.conftest import CSRF_RE, PASSWORD, IsolatedClient, post_form

REFUSED = "用户名或密码不正确；多次失败后需等待几分钟再试。"


def attempt(client, username: str, password: str, address: str = "10.0.0.1"):
    return post_form(
        client,
        "/login",
        {"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def answer(response, username: str) -> tuple[int, str]:
    """The status and page a refused sign-in shows, minus the CSRF token and the typed name."""
    html = response.get_data(as_text=True)
    html = CSRF_RE.sub('name="csrf_token" value="…"', html)
    return response.status_code, html.replace(f'value="{username}"', 'value="…"')


def audit_entries(session, action: str) -> list[AuditEntry]:
    session.expire_all()
    # in the order they were written (PostgreSQL returns rows in no set order otherwise)
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(session.scalars(stmt))


@pytest.fixture
def clock(monkeypatch):
    """The sign-in service's clock, moved by hand."""
    now = [utcnow()]
    monkeypatch.setattr(services, "utcnow", lambda: now[0])
    return now


def test_unknown_and_existing_accounts_get_the_same_answer_before_and_after_the_limit(
    client, make_user
):
    make_user("cmd1", "command", None)
    existing = [answer(attempt(client, "cmd1", "wrong-1", "10.0.0.1"), "cmd1") for _ in range(7)]
    unknown = [answer(attempt(client, "ghost", "wrong-1", "10.0.0.2"), "ghost") for _ in range(7)]
    assert existing == unknown
    assert all(status == 200 and REFUSED in html for status, html in existing)
    assert all("锁定" not in html for _, html in existing)


def test_a_stranger_failing_from_one_address_does_not_keep_the_administrator_out(client, make_user):
    make_user("admin", "admin", None)
    for _ in range(5):
        attempt(client, "admin", "guess", "203.0.113.9")
    assert attempt(client, "admin", PASSWORD, "198.51.100.7").status_code == 302


def test_an_address_over_its_limit_is_refused_even_with_the_right_password(
    client, make_user, session
):
    make_user("cmd1", "command", None)
    make_user("cmd2", "command", None)
    for _ in range(5):
        attempt(client, "cmd1", "guess", "203.0.113.9")
    shut_out = attempt(client, "cmd1", PASSWORD, "203.0.113.9")
    assert shut_out.status_code == 200 and REFUSED in shut_out.get_data(as_text=True)
    # Twenty failures over many usernames shut the address out of every account.
    for n in range(15):
        attempt(client, f"user{n}", "guess", "192.0.2.1")
    assert attempt(client, "cmd2", PASSWORD, "192.0.2.1").status_code == 302  # 15: still open
    for n in range(5):
        attempt(client, f"other{n}", "guess", "192.0.2.1")
    refused = attempt(client, "cmd2", PASSWORD, "192.0.2.1")
    assert refused.status_code == 200 and REFUSED in refused.get_data(as_text=True)
    assert attempt(client, "cmd2", PASSWORD, "192.0.2.2").status_code == 302


def test_a_deactivated_account_with_the_right_password_gets_the_same_answer(
    client, make_user, session
):
    make_user("active", "command", None)
    gone = make_user("gone", "command", None)
    services.set_user_active(session, gone, False, actor=SYSTEM)
    session.commit()
    right = attempt(client, "gone", PASSWORD, "10.0.0.1")
    wrong = attempt(client, "active", "not-the-password", "10.0.0.2")
    assert answer(right, "gone") == answer(wrong, "active")
    assert REFUSED in right.get_data(as_text=True)


def test_many_addresses_pause_an_account_only_about_a_minute(client, make_user, clock):
    make_user("admin", "admin", None)
    attackers = [f"203.0.113.{n}" for n in range(1, 21)]
    for address in attackers:
        attempt(client, "admin", "guess", address)
    # Twenty failures from twenty addresses: the account pauses, even for its owner.
    assert attempt(client, "admin", PASSWORD, "198.51.100.7").status_code == 200
    clock[0] += timedelta(seconds=30)
    for address in attackers:  # refused while paused, and not counted: no longer pause
        attempt(client, "admin", "guess", address)
    clock[0] += timedelta(seconds=31)
    assert attempt(client, "admin", PASSWORD, "198.51.100.7").status_code == 302


def test_each_lock_and_pause_is_in_the_audit_log(client, make_user, session, clock):
    make_user("cmd1", "command", None)
    for _ in range(5):
        attempt(client, "cmd1", "guess", "203.0.113.9")
    for _ in range(5):
        attempt(client, "ghost", "guess", "203.0.113.9")
    failed = audit_entries(session, "user.login_failed")
    assert len(failed) == 5 and "203.0.113.9" in failed[0].summary
    locks = audit_entries(session, "login.throttle")
    assert [(e.object_id, e.actor_name) for e in locks] == [
        ("cmd1", "anonymous"),
        ("ghost", "anonymous"),
    ]
    assert "pair" in locks[0].summary and "203.0.113.9" in locks[0].summary
    assert "5 failed" in locks[0].summary and "15 min" in locks[0].summary
    clock[0] += timedelta(minutes=16)
    for n in range(20):
        attempt(client, "cmd1", "guess", f"192.0.2.{n + 1}")
    pause = audit_entries(session, "login.throttle")[-1]
    assert pause.object_id == "cmd1" and "account" in pause.summary and "1 min" in pause.summary


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(client, make_user, app_config):
    make_user("cmd1", "command", None)
    for _ in range(5):
        post_form(
            client,
            "/login",
            {"username": "cmd1", "password": "guess"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    ok = post_form(
        client,
        "/login",
        {"username": "cmd1", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert ok.status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(client, make_user):
    make_user("cmd1", "command", None)
    for n in range(5):
        post_form(
            client,
            "/login",
            {"username": "cmd1", "password": "guess"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    refused = post_form(
        client,
        "/login",
        {"username": "cmd1", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert refused.status_code == 200


def test_counts_are_shared_by_every_worker(app, client, make_user, database_url):
    """Two app objects (as two gunicorn workers) on one database count the same failures."""
    make_user("cmd1", "command", None)
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "BASE_URL": "http://localhost",
        }
    )
    other.test_client_class = IsolatedClient
    try:
        second = other.test_client()
        for n in range(5):
            attempt(client if n % 2 else second, "cmd1", "guess", "203.0.113.9")
        assert attempt(second, "cmd1", PASSWORD, "203.0.113.9").status_code == 200
        assert attempt(client, "cmd1", PASSWORD, "203.0.113.9").status_code == 200
    finally:
        with other.app_context():
            db.engine.dispose()


# ---------------------------------------------------------------- the service itself

POLICY = throttle.Policy(
    pair=throttle.Limit(1000, timedelta(minutes=15), timedelta(minutes=15)),
    ip=throttle.Limit(1000, timedelta(minutes=15), timedelta(minutes=15)),
    account=throttle.Limit(1000, timedelta(minutes=15), timedelta(minutes=1)),
)


def test_concurrent_failures_are_all_counted_without_errors(app):
    """Workers racing to insert and bump the same rows lose no count and raise nothing."""
    now = utcnow()
    workers, each = 6, 5
    barrier = threading.Barrier(workers)
    errors = []
    engine = db.engine  # the threads have no app context

    def work():
        try:
            barrier.wait()
            for _ in range(each):
                with Session(engine) as session:
                    throttle.record_failure(session, POLICY, "203.0.113.9", "admin", now)
                    session.commit()
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(db.engine) as session:
        counts = dict(session.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert counts == {
        "ip:203.0.113.9": workers * each,
        "pair:203.0.113.9|admin": workers * each,
        "account:admin": workers * each,
    }


def test_usernames_are_counted_case_blind_and_old_rows_are_removed(session):
    t0 = utcnow()
    throttle.record_failure(session, POLICY, "10.0.0.1", "Admin ", t0)
    throttle.record_failure(session, POLICY, "10.0.0.1", "admin", t0)
    session.commit()
    assert session.get(LoginThrottle, "account:admin").failures == 2
    throttle.record_failure(session, POLICY, "10.0.0.2", "someone", t0 + timedelta(minutes=16))
    session.commit()
    session.expire_all()
    keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {"ip:10.0.0.2", "pair:10.0.0.2|someone", "account:someone"}


def test_a_successful_sign_in_clears_only_its_own_address_and_account_pair(session, make_user):
    make_user("cmd1", "command", None)
    policy = throttle.Policy.from_config(
        {
            "LOGIN_MAX_FAILURES": 5,
            "LOGIN_LOCK_MINUTES": 15,
            "LOGIN_ADDRESS_MAX_FAILURES": 20,
            "LOGIN_ACCOUNT_MAX_FAILURES": 20,
            "LOGIN_ACCOUNT_PAUSE_MINUTES": 1,
        }
    )
    for _ in range(4):
        with pytest.raises(services.LoginRefused):
            services.authenticate(session, "cmd1", "guess", address="10.0.0.1", policy=policy)
        session.commit()
    services.authenticate(session, "cmd1", PASSWORD, address="10.0.0.1", policy=policy)
    session.commit()
    session.expire_all()
    counts = dict(session.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert counts == {"ip:10.0.0.1": 4, "account:cmd1": 4}

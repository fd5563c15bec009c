"""Rules for units, users, sign-in and tokens, checked at the service level."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from werkzeug.security import generate_password_hash

from readiness import services, throttle
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import AuditEntry, Unit, User
from readiness.permissions import SYSTEM, can, require, unit_ids_below


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def audit_actions(session):
    return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# ---------------------------------------------------------------- units


def test_create_unit_records_who_and_what_in_the_audit_log(session, make_user):
    admin = make_user("boss", "admin")
    unit = services.create_unit(
        session,
        code="DF-DAYE",
        name="大冶派出所",
        kind="station",
        parent=None,
        headcount=28,
        actor=admin,
    )
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.create")).one()
    assert entry.actor_name == "boss"
    assert entry.object_id == str(unit.id)
    assert entry.after["code"] == "DF-DAYE"
    assert entry.after["headcount"] == 28
    assert entry.before is None


@pytest.mark.parametrize("code", ["大冶", "has space", "", "-lead", "x" * 33, "a/b", "é"])
def test_unit_codes_must_be_short_ascii(session, code):
    with pytest.raises(DomainError) as err:
        services.create_unit(
            session,
            code=code,
            name="某单位",
            kind="station",
            parent=None,
            headcount=1,
            actor=SYSTEM,
        )
    assert err.value.field == "code"
    session.rollback()
    assert count(session, Unit) == 0


def test_duplicate_code_is_refused_even_in_other_case(session, make_unit):
    make_unit("DF-DAYE", name="大冶派出所", parent=None)
    before = audit_actions(session)
    with pytest.raises(Conflict) as err:
        services.create_unit(
            session,
            code="df-daye",
            name="重复",
            kind="station",
            parent=None,
            headcount=1,
            actor=SYSTEM,
        )
    assert "大冶派出所" in err.value.message
    session.rollback()
    assert count(session, Unit) == 1
    assert audit_actions(session) == before


@pytest.mark.parametrize(
    ("name", "kind", "headcount", "field"),
    [
        ("", "station", 1, "name"),
        ("长" * 101, "station", 1, "name"),
        ("某所", "spaceship", 1, "kind"),
        ("某所", "station", -1, "headcount"),
        ("某所", "station", 2.5, "headcount"),
        ("某所", "station", "12", "headcount"),
        ("某所", "station", True, "headcount"),
        ("某所", "station", 10**9, "headcount"),
    ],
)
def test_bad_unit_values_are_refused_and_nothing_is_written(session, name, kind, headcount, field):
    with pytest.raises(DomainError) as err:
        services.create_unit(
            session,
            code="X1",
            name=name,
            kind=kind,
            parent=None,
            headcount=headcount,
            actor=SYSTEM,
        )
    assert err.value.field == field
    session.rollback()
    assert count(session, Unit) == 0
    assert count(session, AuditEntry) == 0


def test_a_unit_cannot_be_moved_under_itself_or_its_descendants(session, make_unit):
    bureau = make_unit("B", kind="bureau", parent=None)
    brigade = make_unit("BR", kind="brigade", parent=bureau)
    squad = make_unit("SQ", kind="squad", parent=brigade)
    for new_parent in (bureau, squad):
        with pytest.raises(DomainError) as err:
            services.update_unit(
                session,
                bureau,
                name=bureau.name,
                kind="bureau",
                parent=new_parent,
                headcount=1,
                actor=SYSTEM,
            )
        assert err.value.field == "parent"
        session.rollback()
    assert session.get(Unit, bureau.id).parent_id is None


def test_moving_a_unit_changes_its_subtree(session, make_unit):
    bureau = make_unit("B", kind="bureau", parent=None)
    a = make_unit("A", kind="brigade", parent=bureau)
    b = make_unit("BB", kind="brigade", parent=bureau)
    s = make_unit("S", kind="squad", parent=a)
    assert unit_ids_below(session, a.id) == {a.id, s.id}
    services.update_unit(session, s, name=s.name, kind="squad", parent=b, headcount=3, actor=SYSTEM)
    session.commit()
    assert unit_ids_below(session, a.id) == {a.id}
    assert unit_ids_below(session, b.id) == {b.id, s.id}
    assert unit_ids_below(session, bureau.id) == {bureau.id, a.id, b.id, s.id}


def test_a_stale_edit_is_refused(session, make_unit):
    unit = make_unit("A", headcount=10, parent=None)
    seen_version = unit.version
    services.update_unit(
        session,
        unit,
        name="新名",
        kind="station",
        parent=None,
        headcount=11,
        actor=SYSTEM,
        expected_version=seen_version,
    )
    session.commit()
    with pytest.raises(Conflict):
        services.update_unit(
            session,
            unit,
            name="旧表单",
            kind="station",
            parent=None,
            headcount=99,
            actor=SYSTEM,
            expected_version=seen_version,
        )
    session.rollback()
    fresh = session.get(Unit, unit.id)
    assert (fresh.name, fresh.headcount) == ("新名", 11)


def test_deactivating_a_unit_needs_its_children_and_accounts_gone_first(
    session, make_unit, make_user
):
    bureau = make_unit("B", kind="bureau", parent=None)
    station = make_unit("S", parent=bureau)
    clerk = make_user("clerk1", "clerk", station)
    with pytest.raises(Conflict):
        services.set_unit_active(session, bureau, False, actor=SYSTEM)
    session.rollback()
    with pytest.raises(Conflict) as err:
        services.set_unit_active(session, station, False, actor=SYSTEM)
    assert "clerk1" in err.value.message
    session.rollback()
    services.set_user_active(session, clerk, False, actor=SYSTEM)
    services.set_unit_active(session, station, False, actor=SYSTEM)
    services.set_unit_active(session, bureau, False, actor=SYSTEM)
    session.commit()
    assert not session.get(Unit, bureau.id).is_active
    # History stays: the unit row is still there.
    assert count(session, Unit) == 2
    assert "unit.deactivate" in audit_actions(session)


def test_get_unit_unknown_code(session):
    with pytest.raises(NotFound):
        services.get_unit(session, "NOPE")


# ---------------------------------------------------------------- scope and roles


def test_clerk_reaches_own_unit_and_below_only(session, make_unit, make_user):
    bureau = make_unit("B", kind="bureau", parent=None)
    station = make_unit("S", parent=bureau)
    squad = make_unit("SQ", kind="squad", parent=station)
    other = make_unit("O", parent=bureau)
    clerk = make_user("c1", "clerk", station)
    assert can(session, clerk, "units.view", station)
    assert can(session, clerk, "units.view", squad)
    assert not can(session, clerk, "units.view", other)
    assert not can(session, clerk, "units.view", bureau)
    with pytest.raises(PermissionDenied):
        require(session, clerk, "units.view", other)


def test_readers_see_everything_but_change_nothing(session, make_unit, make_user):
    unit = make_unit("S", parent=None)
    inspector = make_user("insp", "inspector", unit)
    command = make_user("cmd", "command", unit)
    for user in (inspector, command):
        assert can(session, user, "units.view", unit)
        assert can(session, user, "audit.view")
        with pytest.raises(PermissionDenied):
            services.create_unit(
                session,
                code="NEW",
                name="新",
                kind="station",
                parent=None,
                headcount=1,
                actor=user,
            )
    session.rollback()
    assert count(session, Unit) == 1


def test_admin_manages_but_is_not_implied_reader_of_unit_scoped_work(session, make_user):
    admin = make_user("root", "admin", None)
    assert can(session, admin, "units.manage")
    assert can(session, admin, "users.manage")


def test_deactivated_user_can_do_nothing(session, make_user):
    admin = make_user("a1", "admin", None)
    services.set_user_active(session, admin, False, actor=SYSTEM)
    assert not can(session, admin, "home.view")


# ---------------------------------------------------------------- users


def test_create_user_rules(session, make_unit):
    station = make_unit("S", parent=None)
    warehouse = make_unit("W", kind="warehouse", parent=None)
    cases = [
        ({"username": "bad name"}, "username"),
        ({"username": "张三"}, "username"),
        ({"role": "superuser"}, "role"),
        ({"role": "clerk", "unit": None}, "unit"),
        ({"role": "keeper", "unit": station}, "unit"),
        ({"password": "short"}, "password"),
        ({"name": "名" * 61}, "name"),
    ]
    for override, field in cases:
        args = {
            "username": "u1",
            "password": "long-enough-1",
            "role": "clerk",
            "unit": station,
            "name": "",
            **override,
        }
        with pytest.raises(DomainError) as err:
            services.create_user(session, actor=SYSTEM, **args)
        assert err.value.field == field, override
        session.rollback()
    services.create_user(
        session,
        username="keeper1",
        password="long-enough-1",
        role="keeper",
        unit=warehouse,
        actor=SYSTEM,
    )
    session.commit()
    with pytest.raises(Conflict):
        services.create_user(
            session,
            username="KEEPER1",
            password="long-enough-1",
            role="command",
            unit=None,
            actor=SYSTEM,
        )
    session.rollback()
    assert count(session, User) == 1


def test_production_passwords_use_scrypt():
    from tests.conftest import ORIGINAL_PASSWORD_METHOD

    assert ORIGINAL_PASSWORD_METHOD == "scrypt"
    assert generate_password_hash("x" * 10, method=ORIGINAL_PASSWORD_METHOD).startswith("scrypt:")


def test_moving_a_user_ends_their_sessions(session, make_unit, make_user):
    a = make_unit("A", parent=None)
    b = make_unit("B", parent=None)
    clerk = make_user("c1", "clerk", a)
    old_id = clerk.get_id()
    services.update_user(session, clerk, name="", role="clerk", unit=b, actor=SYSTEM)
    session.commit()
    assert services.user_for_session_id(session, old_id) is None
    assert services.user_for_session_id(session, clerk.get_id()) == clerk


# ---------------------------------------------------------------- sign-in


POLICY = throttle.Policy(
    pair=throttle.Limit(3, timedelta(minutes=15), timedelta(minutes=15)),
    ip=throttle.Limit(20, timedelta(minutes=15), timedelta(minutes=15)),
    account=throttle.Limit(20, timedelta(minutes=15), timedelta(minutes=1)),
)


def _auth(session, username, password, now=None, address="10.0.0.1"):
    return services.authenticate(
        session, username, password, address=address, policy=POLICY, now=now
    )


def test_repeated_failures_shut_that_address_out_for_a_while(session, make_user):
    make_user("officer", "command", None, password="right-password")
    t0 = utcnow()
    for _ in range(3):
        with pytest.raises(services.LoginRefused):
            _auth(session, "officer", "wrong", now=t0)
        session.commit()
    with pytest.raises(services.LoginRefused):
        _auth(session, "officer", "right-password", now=t0 + timedelta(minutes=1))
    user = _auth(session, "officer", "right-password", now=t0 + timedelta(minutes=16))
    assert user.username == "officer"
    assert "user.login_failed" in audit_actions(session)


def test_unknown_user_and_wrong_password_get_the_same_answer(session, make_user):
    make_user("officer", "command", None)
    with pytest.raises(services.LoginRefused) as a:
        _auth(session, "nobody", "whatever")
    with pytest.raises(services.LoginRefused) as b:
        _auth(session, "officer", "whatever")
    assert a.value.message == b.value.message


def test_deactivated_user_cannot_sign_in_and_tokens_stop(session, make_user, make_token):
    user = make_user("moved", "command", None)
    token = make_token(user)
    assert services.user_for_token(session, token) == user
    services.set_user_active(session, user, False, actor=SYSTEM)
    session.commit()
    with pytest.raises(services.LoginRefused):
        _auth(session, "moved", "secret-pass-1")
    assert services.user_for_token(session, token) is None
    assert services.user_for_session_id(session, user.get_id()) is None


def test_tokens_are_stored_hashed_and_revocable(session, make_user, make_token):
    user = make_user("api", "command", None)
    token = make_token(user)
    stored = session.scalar(text("SELECT token_hash FROM api_tokens"))
    assert token not in stored and len(stored) == 64
    assert services.user_for_token(session, token + "x") is None
    assert services.revoke_tokens(session, user, actor=SYSTEM) == 1
    assert services.user_for_token(session, token) is None


def test_change_own_password(session, make_user):
    user = make_user("u1", "command", None, password="old-password")
    old_session = user.get_id()
    with pytest.raises(DomainError) as err:
        services.change_own_password(session, user, "not-it", "new-password")
    assert err.value.field == "current_password"
    session.rollback()
    services.change_own_password(session, user, "old-password", "new-password")
    session.commit()
    assert services.user_for_session_id(session, old_session) is None
    assert _auth(session, "u1", "new-password") == user


# ---------------------------------------------------------------- audit log


def test_the_audit_log_cannot_be_edited_or_deleted_even_in_sql(session, make_unit):
    make_unit("A", parent=None)
    entry_id = session.scalar(select(AuditEntry.id))
    for statement in (
        "UPDATE audit_log SET actor_name = 'someone-else'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError):
            session.execute(text(statement))
        session.rollback()
    assert session.get(AuditEntry, entry_id).actor_name == "system"


def test_settings_apply_from_the_nearest_unit_up(session, make_unit):
    from readiness.permissions import unit_ids_above

    province = make_unit("P", kind="bureau", parent=None)
    bureau = make_unit("B", kind="bureau", parent=province)
    station = make_unit("S", parent=bureau)
    other = make_unit("O", kind="bureau", parent=None)
    assert unit_ids_above(session, station.id) == [station.id, bureau.id, province.id]
    assert unit_ids_above(session, other.id) == [other.id]

"""Handover (人事调整): custodians, what a person still holds after moving post, passing it all
to a successor in one step, and the units left without a custodian."""

from datetime import date

import pytest
from sqlalchemy import func, select, text

from drills import records
from drills.models import CorrectiveAction
from inventory import allocations as alloc
from inventory import counts
from inventory.models import Allocation, Count
from overview import handover as ho
from readiness import services
from readiness.errors import DomainError, PermissionDenied
from readiness.models import AuditEntry, Unit, User
from readiness.permissions import SYSTEM
from rectification import actions
from tests.conftest import BACKEND, post_form


@pytest.fixture
def world(session, make_unit, make_user, make_item, stock):
    df = make_unit("DF", name="登封市公安局", kind="bureau")
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    ludian = make_unit("LUDIAN", name="卢店派出所", parent=df)
    wh = make_unit("WH", name="防汛物资仓库", kind="warehouse", parent=df)
    jackets = make_item("LJ", name="救生衣")
    stock(wh, jackets, 50)
    return {
        "df": df,
        "daye": daye,
        "ludian": ludian,
        "wh": wh,
        "jackets": jackets,
        "admin": make_user("admin1", "admin", None),
        "cmd": make_user("cmd1", "command", None),
        "insp": make_user("insp1", "inspector", None),
        "wang": make_user("wang", "clerk", daye, name="王所长"),
        "li": make_user("li", "clerk", daye, name="李警官"),
        "zhao": make_user("zhao", "clerk", ludian, name="赵警官"),
        "keeper": make_user("keeper1", "keeper", wh, name="仓库老陈"),
    }


def give_wang_work(session, w):
    """Wang (大冶) is custodian of 大冶, owns an open and a verified action, made an open and a
    rejected allocation request, and started a stocktake."""
    ho.set_custodian(session, w["daye"], w["wang"], actor=w["admin"])
    drill = records.create_drill(
        session,
        title="防汛抢险演练",
        kind="flood_drill",
        held_on=date(2022, 6, 20),
        lead_unit=w["daye"],
        participants=30,
        findings=[
            records.FindingInput("岗位任务不明确", owner=w["wang"], due_on=date(2022, 9, 1)),
            records.FindingInput("照明不足", owner=w["wang"], due_on=date(2022, 9, 1)),
        ],
        actor=w["wang"],
        today=date(2022, 7, 1),
    )
    open_action, closed_action = [a for f in drill.findings for a in f.actions]
    actions.mark_done(session, closed_action, "已补充照明灯 4 具", actor=w["wang"])
    actions.verify_action(session, closed_action, actor=w["cmd"])
    line = [alloc.LineInput("LJ", 10)]
    pending = alloc.create_allocation(
        session,
        from_unit=w["wh"],
        to_unit=w["daye"],
        lines=line,
        reason="汛期前补齐救生衣",
        actor=w["wang"],
    )
    rejected = alloc.create_allocation(
        session,
        from_unit=w["wh"],
        to_unit=w["daye"],
        lines=line,
        reason="重复申请",
        actor=w["wang"],
    )
    alloc.reject_allocation(session, rejected, actor=w["cmd"], note="重复")
    count = counts.start_count(session, w["daye"], actor=w["wang"])
    session.commit()
    return {"action": open_action, "allocation": pending, "count": count}


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


# ---------------------------------------------------------------- service


def test_assignments_list_everything_still_open_and_nothing_closed(session, world):
    work = give_wang_work(session, world)
    held = ho.assignments(session, world["wang"])
    assert [h.obj.code for h in held.custodian_of] == ["DAYE"]
    assert [h.obj.id for h in held.actions] == [work["action"].id]  # not the verified one
    assert [h.obj.id for h in held.allocations] == [work["allocation"].id]  # not the rejected
    assert [h.obj.id for h in held.counts] == [work["count"].id]
    assert held.total == 4
    # still at the same post: nothing is left behind
    assert held.left_behind == []
    assert not ho.assignments(session, world["li"])


def test_a_deactivated_or_moved_holder_leaves_everything_behind(session, world):
    give_wang_work(session, world)
    services.update_user(
        session, world["wang"], name="王所长", role="clerk", unit=world["ludian"], actor=SYSTEM
    )
    session.commit()
    held = ho.assignments(session, world["wang"])
    assert held.moved_at is not None
    assert len(held.left_behind) == 4
    assert [a.user.username for a in ho.awaiting_handover(session)] == ["wang"]


def test_someone_moved_within_reach_is_still_listed_for_work_given_before_the_move(session, world):
    ho.set_custodian(session, world["daye"], world["wang"], actor=world["admin"])
    session.commit()
    # moved up to the bureau: 大冶 is still in reach, but the custodian post was given before
    services.update_user(
        session, world["wang"], name="王所长", role="clerk", unit=world["df"], actor=SYSTEM
    )
    session.commit()
    [h] = ho.assignments(session, world["wang"]).left_behind
    assert h.obj.code == "DAYE" and h.reason == "调整岗位前交办"
    # named again after the move: fits now
    ho.set_custodian(session, world["daye"], None, actor=world["admin"])
    ho.set_custodian(session, world["daye"], world["wang"], actor=world["admin"])
    session.commit()
    assert ho.assignments(session, world["wang"]).left_behind == []
    assert ho.awaiting_handover(session) == []


def test_reassign_moves_everything_in_one_step_and_audits_each(session, world):
    work = give_wang_work(session, world)
    services.set_user_active(session, world["wang"], False, actor=world["admin"])
    session.commit()
    result = ho.reassign(session, world["wang"], world["li"], actor=world["admin"])
    session.commit()
    assert (result.custodian_of, result.actions, result.allocations, result.counts) == (1, 1, 1, 1)
    session.expire_all()
    assert session.get(Unit, world["daye"].id).custodian.username == "li"
    assert session.get(CorrectiveAction, work["action"].id).owner.username == "li"
    assert session.get(Allocation, work["allocation"].id).requested_by.username == "li"
    assert session.get(Count, work["count"].id).started_by.username == "li"
    assert not ho.assignments(session, world["wang"])
    assert ho.assignments(session, world["li"]).total == 4
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action.in_(
                ["unit.set_custodian", "action.reassign", "allocation.reassign", "count.reassign"]
            ),
            AuditEntry.actor_name == "admin1",
            AuditEntry.summary != "",
        )
    ).all()
    assert sorted((e.object_type, e.before, e.after) for e in entries) == sorted(
        [
            ("units", {"custodian": "wang"}, {"custodian": "li"}),
            ("corrective_actions", {"owner": "wang"}, {"owner": "li"}),
            ("allocations", {"requested_by": "wang"}, {"requested_by": "li"}),
            ("counts", {"started_by": "wang"}, {"started_by": "li"}),
        ]
    )
    summary = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.handover"))
    assert summary.object_id == str(world["wang"].id) and summary.after["holder"] == "li"
    assert ho.awaiting_handover(session) == []


@pytest.mark.parametrize(
    ("successor", "message"),
    [
        ("self", "不能是 王所长 本人"),
        ("inactive", "账号已停用"),
        ("zhao", "不能负责大冶派出所的整改事项"),  # a clerk of another station
        ("insp", "保管责任人须是本单位登记员或仓库保管员"),  # inspectors change nothing
        (None, "请选择接替人"),
    ],
)
def test_a_bad_successor_changes_nothing(session, world, successor, message):
    work = give_wang_work(session, world)
    if successor == "inactive":
        services.set_user_active(session, world["li"], False, actor=world["admin"])
        session.commit()
    person = {"self": world["wang"], "inactive": world["li"], None: None}.get(
        successor, world.get(successor)
    )
    before = audit_count(session)
    with pytest.raises(DomainError) as err:
        ho.reassign(session, world["wang"], person, actor=world["admin"])
    assert message in err.value.message
    session.rollback()
    session.expire_all()
    assert audit_count(session) == before
    assert ho.assignments(session, world["wang"]).total == 4
    assert session.get(CorrectiveAction, work["action"].id).owner.username == "wang"


def test_only_admin_and_command_reassign(session, world):
    give_wang_work(session, world)
    for who in ("insp", "li"):
        with pytest.raises(PermissionDenied):
            ho.reassign(session, world["wang"], world["li"], actor=world[who])
    ho.reassign(session, world["wang"], world["li"], actor=world["cmd"])


def test_a_custodian_must_be_an_active_clerk_or_keeper_within_reach(session, world):
    w = world
    with pytest.raises(DomainError, match="不管辖"):
        ho.set_custodian(session, w["daye"], w["zhao"], actor=w["admin"])  # other station
    with pytest.raises(DomainError, match="本单位登记员或仓库保管员"):
        ho.set_custodian(session, w["daye"], w["cmd"], actor=w["admin"])
    services.set_user_active(session, w["li"], False, actor=w["admin"])
    with pytest.raises(DomainError, match="已停用"):
        ho.set_custodian(session, w["daye"], w["li"], actor=w["admin"])
    with pytest.raises(PermissionDenied):
        ho.set_custodian(session, w["wh"], w["keeper"], actor=w["insp"])
    ho.set_custodian(session, w["wh"], w["keeper"], actor=w["cmd"])
    bureau_clerk = services.create_user(
        session, username="bj", password="secret-pass-1", role="clerk", unit=w["df"], actor=SYSTEM
    )
    ho.set_custodian(session, w["ludian"], bureau_clerk, actor=w["admin"])  # from above: fine
    session.commit()
    # li was deactivated above; zhao's station is elsewhere; command staff keep no books
    assert [u.username for u in ho.custodian_candidates(session, w["daye"])] == ["bj", "wang"]


def test_units_without_an_active_custodian_are_exactly_listed(session, world, make_unit):
    w = world
    wh2 = make_unit("WH2", name="二号仓库", kind="warehouse", parent=w["df"])
    closed = make_unit("OLD", name="撤并派出所", parent=w["df"])
    services.set_unit_active(session, closed, False, actor=SYSTEM)
    ho.set_custodian(session, w["daye"], w["wang"], actor=w["admin"])  # fine
    ho.set_custodian(session, w["ludian"], w["zhao"], actor=w["admin"])  # will leave
    ho.set_custodian(session, w["wh"], w["keeper"], actor=w["admin"])  # will move to WH2
    session.commit()
    services.set_user_active(session, w["zhao"], False, actor=w["admin"])
    services.update_user(
        session, w["keeper"], name="仓库老陈", role="keeper", unit=wh2, actor=SYSTEM
    )
    session.commit()
    gaps = {g.unit.code: g for g in ho.units_without_custodian(session)}
    # the city unit the tests' command staff sit at has no custodian either
    assert set(gaps) == {"DF", "LUDIAN", "TOP", "WH", "WH2"}
    assert gaps["DF"].custodian is None
    assert "已停用" in gaps["LUDIAN"].reason
    assert "不管辖" in gaps["WH"].reason
    assert [g.unit.code for g in ho.units_without_custodian(session, kind="warehouse")] == [
        "WH",
        "WH2",
    ]


# ---------------------------------------------------------------- pages


def test_a_clerk_may_not_see_the_handover_page(session, world, login, client):
    login("li")
    assert client.get(f"/users/{world['wang'].id}/handover").status_code == 403
    assert client.get("/handover").status_code == 403
    assert client.get("/reports/custodians").status_code == 403


def test_an_inspector_sees_the_list_but_no_form_and_may_not_reassign(session, world, login, client):
    give_wang_work(session, world)
    login("insp1")
    page = client.get(f"/users/{world['wang'].id}/handover")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "大冶派出所" in body and "岗位任务不明确" in body and "全部移交给接替人" not in body
    refused = post_form(
        client, f"/users/{world['wang'].id}/handover", {"successor": world["li"].id}
    )
    assert refused.status_code == 403


def test_reassigning_from_the_page(session, world, login, client):
    work = give_wang_work(session, world)
    wang_id = world["wang"].id
    login("admin1")
    page = client.get(f"/users/{wang_id}/handover").get_data(as_text=True)
    assert (
        "李警官 (li)" in page
        and "赵警官 (zhao) · 值班民警（本单位登记） · 卢店派出所（不能接手全部事项）" in page
    )
    bad = post_form(
        client, f"/users/{wang_id}/handover", {"successor": world["zhao"].id, "expected": 4}
    )
    assert bad.status_code == 422
    assert "不能移交给 赵警官，未做任何修改" in bad.get_data(as_text=True)
    stale = post_form(
        client, f"/users/{wang_id}/handover", {"successor": world["li"].id, "expected": 3}
    )
    assert stale.status_code == 422 and "刚有变化" in stale.get_data(as_text=True)
    done = post_form(
        client,
        f"/users/{wang_id}/handover",
        {"successor": world["li"].id, "expected": 4},
        follow_redirects=True,
    )
    assert "已将 王所长 名下的 4 项事项移交给 李警官" in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(CorrectiveAction, work["action"].id).owner_id == world["li"].id


def test_deactivating_someone_who_holds_work_warns_with_a_link_to_handover(
    session, world, login, client
):
    give_wang_work(session, world)
    login("admin1")
    wang_id = world["wang"].id
    page = post_form(
        client,
        f"/users/{wang_id}/deactivate",
        {"version": world["wang"].version},
        follow_redirects=True,
    )
    body = page.get_data(as_text=True)
    assert "已停用用户 wang" in body
    flash = body[body.index('class="flash flash-warning"') :].split("</p>")[0]
    assert "名下仍有 4 项工作" in flash
    assert f'<a href="/users/{wang_id}/handover">去办理移交</a>' in flash
    session.expire_all()
    assert session.get(User, wang_id).is_active is False
    # and the index lists them
    assert "王所长" in client.get("/handover").get_data(as_text=True)
    # someone who holds nothing is deactivated without a warning
    li = session.get(User, world["li"].id)
    quiet = post_form(
        client, f"/users/{li.id}/deactivate", {"version": li.version}, follow_redirects=True
    )
    assert "已停用用户 li" in quiet.get_data(as_text=True)
    assert "flash-warning" not in quiet.get_data(as_text=True)
    # the account page links to the handover page for admins, command staff and inspectors
    assert "名下工作与移交（人事调整）" in quiet.get_data(as_text=True)


def test_command_sets_the_custodian_on_the_unit_page(session, world, login, client):
    login("cmd1")
    page = client.get("/units/DAYE").get_data(as_text=True)
    assert "保管责任人" in page and "未指定" in page and 'action="/units/DAYE/custodian"' in page
    ok = post_form(
        client,
        "/units/DAYE/custodian",
        {"custodian": world["wang"].id, "version": world["daye"].version},
        follow_redirects=True,
    )
    assert "已指定 王所长 为大冶派出所的保管责任人" in ok.get_data(as_text=True)
    session.expire_all()
    daye = session.get(Unit, world["daye"].id)
    assert daye.custodian_id == world["wang"].id
    refused = post_form(
        client,
        "/units/DAYE/custodian",
        {"custodian": world["zhao"].id, "version": daye.version},
        follow_redirects=True,
    )
    assert "不管辖大冶派出所" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Unit, world["daye"].id).custodian_id == world["wang"].id


def test_a_clerk_sees_the_custodian_but_no_form(session, world, login, client):
    ho.set_custodian(session, world["daye"], world["wang"], actor=world["admin"])
    session.commit()
    login("li")
    page = client.get("/units/DAYE").get_data(as_text=True)
    assert "王所长" in page and "/units/DAYE/custodian" not in page
    assert post_form(client, "/units/DAYE/custodian", {"custodian": ""}).status_code == 403


def test_the_custodian_report_page_and_csv(session, world, login, client):
    ho.set_custodian(session, world["daye"], world["wang"], actor=world["admin"])
    session.commit()
    login("insp1")
    page = client.get("/reports/custodians").get_data(as_text=True)
    assert "卢店派出所" in page and "大冶派出所" not in page
    csv = client.get("/reports/custodians?format=csv")
    assert csv.mimetype == "text/csv"
    codes = [
        line.split(",")[0] for line in csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    ]
    assert codes[1:] == ["DF", "LUDIAN", "TOP", "WH"]
    for fmt, mimetype in (("xlsx", "spreadsheetml"), ("pdf", "application/pdf")):
        download = client.get(f"/reports/custodians?format={fmt}&kind=station")
        assert download.status_code == 200 and mimetype in download.mimetype


# ---------------------------------------------------------------- migration


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "sqlite", reason="only SQLite rebuilds the units table")
def test_migration_0009_keeps_existing_units_and_users(tmp_path):
    from flask_migrate import downgrade, upgrade

    from readiness import create_app
    from readiness.db import db
    from tests.conftest import _base_config

    app = create_app(_base_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="0008")
        db.session.execute(
            text(
                "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
                " created_at, version) VALUES (1, 'DF', '登封市公安局', 'bureau', NULL, 0, 1,"
                " '2022-01-01 00:00:00', 1), (2, 'DAYE', '大冶派出所', 'station', 1, 28, 1,"
                " '2022-01-01 00:00:00', 1)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
                " is_active, session_version, failed_logins, created_at, version) VALUES"
                " (1, 'wang', '', 'clerk', 2, 'x', 'zh', 1, 1, 0, '2022-01-01 00:00:00', 1)"
            )
        )
        db.session.commit()
        upgrade()
        assert db.session.execute(
            text("SELECT code, custodian_id FROM units ORDER BY id")
        ).all() == [
            ("DF", None),
            ("DAYE", None),
        ]
        assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        downgrade(revision="0008")
        assert db.session.execute(text("SELECT count(*) FROM units")).scalar() == 2
        db.engine.dispose()

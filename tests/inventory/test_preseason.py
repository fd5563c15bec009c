"""Pre-season check (汛前检查, issue 20, item 2): command staff set the flood season and a
checklist; N days before it each unit gets its check — function tests due, a stocktake when
its count is not recent, expired lots, the checklist — and it is complete only when every
item is answered and every failure has become a corrective action."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from inventory import maintenance, preseason
from inventory.counts import approve_count, enter_count, start_count, submit_count
from inventory.models import Asset, Item, Lot, MaintenanceRecord
from inventory.preseason_models import PreseasonCheck, PreseasonItem
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from rectification.models import CorrectiveAction
from tests.conftest import post_form

CHECKLIST = ["防汛物资专人负责", "照明设备电量充足"]
TODAY = date.today()
START = TODAY + timedelta(days=20)


@pytest.fixture
def bureau(session, make_unit, make_item, make_user, stock):
    """A bureau whose season starts in 20 days (checks open 30 days before): a warehouse
    with two pumps due a function test and a lot of life jackets expiring before the season,
    an empty station, a town with nothing; its keeper, clerk and command staff."""
    bu = make_unit("BU", name="登封市公安局", kind="bureau")
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse", parent=bu)
    st = make_unit("ST", name="大冶派出所", kind="station", parent=bu)
    make_unit("TN", name="某镇", kind="town", parent=bu)
    pump = make_item("PUMP", name="排水泵", uom="台", tracking="serial")
    vest = make_item("VEST", name="救生衣", uom="件")
    stock(wh, pump, 2, serials=["PUMP-01", "PUMP-02"])
    stock(wh, vest, 10, lot_code="L2019", expires_on=TODAY + timedelta(days=10))
    maintenance.set_intervals(session, pump, "", "30", actor=SYSTEM)
    for asset in session.scalars(select(Asset)):
        asset.registered_at = datetime.now(UTC) - timedelta(days=20)
    keeper = make_user("keeper1", "keeper", wh)
    clerk = make_user("clerk1", "clerk", st)
    boss = make_user("boss1", "command", bu)
    preseason.set_season(session, bu, START, 30, actor=boss)
    preseason.set_template(session, bu, "\n".join(CHECKLIST), actor=boss)
    session.commit()
    return {"bu": bu, "wh": wh, "st": st, "keeper": keeper, "clerk": clerk, "boss": boss}


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _check(session, unit) -> PreseasonCheck:
    return session.scalar(select(PreseasonCheck).where(PreseasonCheck.unit_id == unit.id))


def _open(session, today=TODAY) -> list[PreseasonCheck]:
    opened = preseason.open_checks(session, None, today=today)
    session.commit()
    return opened


def _by_kind(check, kind) -> list[PreseasonItem]:
    return [i for i in check.items if i.kind == kind]


# ---------------------------------------------------------------- service


def test_checks_open_n_days_before_the_season_once_per_unit(session, bureau):
    assert _open(session, today=START - timedelta(days=31)) == []  # not yet
    opened = _open(session)
    # the warehouse (holds equipment) and the station (always); not the empty town or bureau
    assert {c.unit.code for c in opened} == {"WH", "ST"}
    assert _open(session) == []  # once per unit and season
    session.add(
        PreseasonCheck(
            unit_id=bureau["wh"].id, season_id=opened[0].season_id, year=START.year, opened_on=TODAY
        )
    )
    with pytest.raises(IntegrityError):  # and the database holds to it
        session.flush()
    session.rollback()
    assert "preseason.open" in session.scalars(select(AuditEntry.action)).all()


def test_a_check_asks_the_due_tests_a_stocktake_the_expired_lots_and_the_checklist(session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    assert sorted(i.asset.serial for i in _by_kind(check, "test")) == ["PUMP-01", "PUMP-02"]
    assert len(_by_kind(check, "count")) == 1  # never counted: not recent
    [lot] = _by_kind(check, "lot")
    assert lot.lot.code == "L2019" and "10 件" in lot.item
    assert [i.item for i in _by_kind(check, "checklist")] == CHECKLIST
    station = _check(session, bureau["st"])
    assert [i.kind for i in station.items] == ["checklist", "checklist"]  # holds nothing


def test_the_nearest_season_wins(session, bureau):
    # the same year, opening later
    preseason.set_season(session, bureau["wh"], date(START.year, 12, 31), 1, actor=SYSTEM)
    session.commit()
    _open(session)
    assert _check(session, bureau["wh"]) is None  # its own season opens later
    assert _check(session, bureau["st"]) is not None


def test_a_failure_needs_a_note_every_refusal_at_once_and_nothing_written(session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    [c1, c2] = _by_kind(check, "checklist")
    [lot] = _by_kind(check, "lot")
    with pytest.raises(preseason.PreseasonRefused) as err:
        preseason.answer_items(
            session,
            check,
            [
                preseason.Answer(c1.position, False, ""),
                preseason.Answer(c2.position, True),
                preseason.Answer(lot.position, True, ""),  # handled: say how
            ],
            actor=bureau["keeper"],
        )
    fields = [f for f, _m in err.value.problems]
    assert fields == [f"note-{c1.position}", f"note-{lot.position}"]
    session.rollback()
    check = _check(session, bureau["wh"])
    assert check.answered == 0 and _count(session, CorrectiveAction) == 0


def test_a_failed_item_becomes_a_corrective_action_due_when_the_season_starts(session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    c1 = _by_kind(check, "checklist")[0]
    preseason.answer_items(
        session,
        check,
        [preseason.Answer(c1.position, False, "两人调岗未交接")],
        actor=bureau["keeper"],
    )
    session.commit()
    [action] = session.scalars(select(CorrectiveAction)).all()
    assert action.source == "preseason" and action.unit_id == bureau["wh"].id
    assert "两人调岗未交接" in action.text and action.due_on == START
    assert action.owner_id == bureau["keeper"].id
    assert c1.action_id == action.id and not check.is_complete


def test_a_test_answered_here_is_a_function_test_of_the_piece(session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    t1, t2 = _by_kind(check, "test")
    preseason.answer_items(
        session,
        check,
        [
            preseason.Answer(t1.position, True, "试机 5 分钟正常"),
            preseason.Answer(t2.position, False, "无法启动"),
        ],
        actor=bureau["keeper"],
    )
    session.commit()
    records = session.scalars(select(MaintenanceRecord).order_by(MaintenanceRecord.id)).all()
    assert [(r.kind, r.result) for r in records] == [
        ("function_test", "pass"),
        ("function_test", "fail"),
    ]
    assert t1.record_id == records[0].id and t2.record_id == records[1].id
    assert t2.asset.status == "out_of_service"  # a failed test takes it out of service
    assert t2.action is not None and t2.action.source == "preseason"


def test_work_done_elsewhere_answers_the_check_and_completes_it(session, bureau, stock):
    """A test recorded on the maintenance pages, a full count approved, the expired lot
    written off: the check picks them up; answering the checklist completes it."""
    _open(session)
    keeper, boss = bureau["keeper"], bureau["boss"]
    wh = bureau["wh"]
    for serial in ("PUMP-01", "PUMP-02"):
        piece = session.scalar(select(Asset).where(Asset.serial == serial))
        maintenance.record(
            session, piece, kind="function_test", done_on=TODAY, result="pass", actor=keeper
        )
    vest = session.scalar(select(Item).where(Item.code == "VEST"))
    lot = session.scalar(select(Lot).where(Lot.code == "L2019"))
    stock(wh, vest, 10, kind="write_off", lot_code="L2019", reason="expired")
    count = start_count(session, wh, actor=keeper)
    for line in count.lines:
        enter_count(session, count, line.item, line.lot, line.book, actor=keeper)
    submit_count(session, count, actor=keeper)
    approve_count(session, count, actor=boss)
    session.commit()
    check = _check(session, wh)
    preseason.refresh(session, check)
    session.commit()
    assert {i.kind for i in check.items if i.is_ok is None} == {"checklist"}
    assert all(i.record_id for i in _by_kind(check, "test"))
    assert _by_kind(check, "count")[0].count_id == count.id
    assert _by_kind(check, "lot")[0].lot_id == lot.id and _by_kind(check, "lot")[0].is_ok
    assert not check.is_complete
    preseason.answer_items(
        session,
        check,
        [preseason.Answer(i.position, True) for i in _by_kind(check, "checklist")],
        actor=keeper,
    )
    session.commit()
    assert check.is_complete and check.completed_by_id == keeper.id
    assert _count(session, AuditEntry, AuditEntry.action == "preseason.complete") == 1
    with pytest.raises(Conflict):  # complete: nothing changes any more
        preseason.answer_items(session, check, [preseason.Answer(0, True)], actor=keeper)
    session.rollback()


def test_a_stocktake_item_is_not_answered_by_hand(session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    [count_item] = _by_kind(check, "count")
    with pytest.raises(preseason.PreseasonRefused) as err:
        preseason.answer_items(
            session, check, [preseason.Answer(count_item.position, True)], actor=bureau["keeper"]
        )
    assert "盘库" in err.value.message
    session.rollback()


def test_only_the_units_own_people_answer_and_only_command_staff_set_the_season(
    session, bureau, make_unit, make_user
):
    _open(session)
    check = _check(session, bureau["wh"])
    with pytest.raises(PermissionDenied):
        preseason.answer_items(session, check, [preseason.Answer(0, True)], actor=bureau["clerk"])
    with pytest.raises(PermissionDenied):
        preseason.set_season(session, bureau["bu"], START, 30, actor=bureau["keeper"])
    other = make_unit("OT", kind="bureau")
    stranger = make_user("boss9", "command", other)
    with pytest.raises(PermissionDenied):
        preseason.set_template(session, bureau["bu"], "x", actor=stranger)
    session.rollback()


def test_a_bad_season_is_refused_with_every_reason(session, bureau):
    with pytest.raises(preseason.PreseasonRefused) as err:
        preseason.set_season(session, bureau["bu"], "6月1日", "365", actor=bureau["boss"])
    assert [f for f, _m in err.value.problems] == ["starts_on", "lead_days"]
    with pytest.raises(DomainError):
        preseason.set_season(session, bureau["bu"], "1999-06-01", 30, actor=bureau["boss"])
    session.rollback()


def test_progress_shows_overdue_once_the_season_has_started(session, bureau):
    _open(session)
    rows = preseason.progress_rows(session, None, year=START.year, today=TODAY)
    assert {r.unit.code: r.status for r in rows} == {"WH": "open", "ST": "open"}
    late = preseason.progress_rows(session, None, year=START.year, today=START)
    assert all(r.overdue for r in late) and late[0].check.answered == 0


def test_a_checklist_set_after_opening_is_added_to_open_checks(session, bureau):
    _open(session)
    preseason.set_template(
        session, bureau["bu"], "\n".join([*CHECKLIST, "排水沟畅通"]), actor=SYSTEM
    )
    session.commit()
    preseason.bring_up_to_date(session, None, today=TODAY)
    session.commit()
    station = _check(session, bureau["st"])
    assert [i.item for i in station.items] == [*CHECKLIST, "排水沟畅通"]


# ---------------------------------------------------------------- pages


def test_the_keeper_answers_on_a_page_and_a_refusal_keeps_what_was_typed(login, session, bureau):
    _open(session)
    check = _check(session, bureau["wh"])
    c1, c2 = _by_kind(check, "checklist")
    client = login("keeper1")
    page = client.get(f"/preseason/{check.id}")
    assert page.status_code == 200 and "PUMP-01" in page.get_data(as_text=True)
    refused = post_form(
        client,
        f"/preseason/{check.id}/answers",
        {
            f"ok-{c1.position}": "fail",
            f"note-{c1.position}": "",
            f"ok-{c2.position}": "pass",
            f"note-{c2.position}": "电量 90%",
        },
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "不合格项请写明问题" in body and "电量 90%" in body
    done = post_form(
        client,
        f"/preseason/{check.id}/answers",
        {
            f"ok-{c1.position}": "fail",
            f"note-{c1.position}": "台账未更新",
            f"ok-{c2.position}": "pass",
        },
    )
    assert done.status_code == 302
    session.expire_all()
    assert _check(session, bureau["wh"]).answered == 2
    assert _count(session, CorrectiveAction, CorrectiveAction.source == "preseason") == 1


def test_command_staff_see_progress_and_set_the_season_on_a_page(login, session, bureau):
    client = login("boss1")
    page = client.get("/preseason")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "应急物资中心仓库" in body and "大冶派出所" in body
    refused = post_form(
        client,
        "/preseason/season",
        {"unit": "BU", "what": "season", "starts_on": "x", "lead_days": "7"},
    )
    assert refused.status_code == 200 and "YYYY-MM-DD" in refused.get_data(as_text=True)
    saved = post_form(
        client,
        "/preseason/season",
        {"unit": "BU", "what": "season", "starts_on": START.isoformat(), "lead_days": "7"},
    )
    assert saved.status_code == 302
    assert preseason.season_for(session, bureau["bu"].id, START.year).lead_days == 7
    assert login("keeper1").get("/preseason/season").status_code == 403


def test_the_pages_refuse_another_bureau(login, session, bureau, make_unit, make_user):
    _open(session)
    other = make_unit("OT", kind="bureau")
    make_user("keeper9", "keeper", make_unit("OWH", kind="warehouse", parent=other))
    client = login("keeper9")
    check = _check(session, bureau["wh"])
    assert client.get(f"/preseason/{check.id}").status_code == 403
    assert post_form(client, f"/preseason/{check.id}/answers", {}).status_code == 403
    assert client.get("/preseason?unit=BU").status_code == 403
    assert "应急物资中心仓库" not in client.get("/preseason").get_data(as_text=True)


# ---------------------------------------------------------------- API


def test_the_api_sets_the_season_lists_progress_and_answers(api, make_token, session, bureau):
    boss = api(make_token(bureau["boss"]))
    got = boss.post("/api/v1/preseason/season", json={"unit": "BU", "starts_on": START.isoformat()})
    assert got.status_code == 200, got.json
    assert (
        got.json["lead_days"] == 30
        and got.json["opens_on"] == (START - timedelta(days=30)).isoformat()
    )
    assert (
        boss.post("/api/v1/preseason/season", json={"unit": "BU", "starts_on": "x"}).status_code
        == 422
    )
    assert boss.post("/api/v1/preseason/checklist", json={"unit": "BU", "items": ["a", "b"]}).json[
        "items"
    ] == ["a", "b"]
    listed = boss.get("/api/v1/preseason?unit=BU")
    assert listed.status_code == 200
    rows = {r["unit"]: r for r in listed.json["rows"]}
    assert set(rows) == {"WH", "ST"} and rows["ST"]["total"] == 2
    keeper = api(make_token(bureau["keeper"]))
    check_id = rows["WH"]["id"]
    detail = keeper.get(f"/api/v1/preseason/{check_id}").json
    checklist = [i for i in detail["items"] if i["kind"] == "checklist"]
    answered = keeper.post(
        f"/api/v1/preseason/{check_id}/answers",
        json={"answers": [{"position": checklist[0]["position"], "ok": False, "note": "未落实"}]},
    )
    assert answered.status_code == 200, answered.json
    item = next(i for i in answered.json["items"] if i["position"] == checklist[0]["position"])
    assert item["ok"] is False and item["action"] is not None
    bad = keeper.post(
        f"/api/v1/preseason/{check_id}/answers", json={"answers": [{"position": 999, "ok": True}]}
    )
    assert bad.status_code == 422 and bad.json["error"]
    assert (
        keeper.post(f"/api/v1/preseason/{check_id}/answers", json={"answers": "x"}).status_code
        == 422
    )
    assert (
        keeper.post(
            "/api/v1/preseason/season", json={"unit": "BU", "starts_on": "2027-06-01"}
        ).status_code
        == 403
    )


def test_the_api_refuses_another_bureau(api, make_token, session, bureau, make_unit, make_user):
    _open(session)
    other = make_unit("OT", kind="bureau")
    stranger = api(make_token(make_user("boss9", "command", other)))
    assert stranger.get("/api/v1/preseason?unit=BU").status_code == 403
    assert (
        stranger.post(
            "/api/v1/preseason/season", json={"unit": "BU", "starts_on": START.isoformat()}
        ).status_code
        == 403
    )
    check = _check(session, bureau["wh"])
    assert stranger.get(f"/api/v1/preseason/{check.id}").status_code == 404
    assert stranger.get("/api/v1/preseason").json["rows"] == []


# ---------------------------------------------------------------- demo


@pytest.mark.parametrize("today", [None, date(2031, 1, 3), date(2040, 7, 1)])
def test_the_demo_has_dengfengs_season_from_june_1_and_checks_in_progress(session, today):
    from readiness import demo
    from readiness.services import get_unit

    demo.load(session, today=today)
    session.commit()
    today = today or date.today()
    year = preseason.current_year(session, today)
    season = preseason.season_for(session, get_unit(session, "DF-WH").id, year)
    assert (season.starts_on.month, season.starts_on.day) == (6, 1)
    assert season.opens_on <= today  # the checks are open
    rows = {r.unit.code: r for r in preseason.progress_rows(session, None, year=year, today=today)}
    warehouse = rows["DF-WH"].check
    assert warehouse.failed == 1 and 0 < warehouse.answered < warehouse.total
    [failed] = [i for i in warehouse.items if i.is_ok is False]
    assert failed.action.source == "preseason" and "对讲机" in failed.action.text
    assert rows["DF-DAYE"].check.answered > 0
    assert rows["DF-BAIPING"].check.answered == 0
    assert not any(code.startswith("WL") for code in rows)  # Wenling set no season


def test_a_check_opened_from_an_english_page_is_kept_in_chinese(login, session, bureau):
    """What a check asks is a record: in Chinese whoever's page opened it; the page itself
    is in English."""
    client = login("keeper1")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    page = client.get("/preseason").get_data(as_text=True)
    assert "Progress per unit" in page
    check = _check(session, bureau["wh"])
    assert all("功能测试" in i.item for i in _by_kind(check, "test"))
    assert "从未盘库" in _by_kind(check, "count")[0].item
    body = client.get(f"/preseason/{check.id}").get_data(as_text=True)
    assert "Function test" in body and "Not handled" in body

"""Honest stocktakes (issue 16, item 3): full counts are blind, a count is complete or
visibly partial, a partial count does not reset the clock of what it missed, an approver
returns a count for recount, typed numbers are never lost, and count policies belong to
the unit that sets them (nearest wins). Service rules first, then the pages and the API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from inventory import counts
from inventory.models import Count, CountInterval, CountLine, Position
from readiness.audit import AuditEntry
from readiness.errors import Conflict, DomainError, PermissionDenied
from tests.conftest import database_rows, post_form

TODAY = date.today()


@pytest.fixture
def depot(make_unit, make_user, make_item, stock):
    """A bureau with a warehouse holding life jackets in two lots and a roll of tape."""
    bureau = make_unit("B1", name="登封市公安局", kind="bureau")
    wh = make_unit("WH", name="中心仓库", kind="warehouse", parent=bureau)
    jackets = make_item("LJ", name="救生衣")
    tape = make_item("TAPE", name="警戒带", uom="盘")
    stock(wh, jackets, 10, lot_code="LJ-2026-12", expires_on=TODAY + timedelta(days=400))
    stock(wh, jackets, 5, lot_code="LJ-2027-06", expires_on=TODAY + timedelta(days=600))
    stock(wh, tape, 3)
    return {
        "bureau": bureau,
        "wh": wh,
        "LJ": jackets,
        "TAPE": tape,
        "keeper": make_user("keeper1", "keeper", wh),
        "keeper2": make_user("keeper2", "keeper", wh),
        "clerk": make_user("clerk1", "clerk", wh),
        "cmd": make_user("boss", "command", bureau),
    }


def line_of(count: Count, code: str, lot: str | None = None) -> CountLine:
    return next(
        ln
        for ln in count.lines
        if ln.item.code == code and (ln.lot.code if ln.lot else None) == lot
    )


def enter_all(session, count, actor, *, skip=(), **overrides):
    """Count every line at its book quantity (or the given one), except those skipped."""
    for ln in list(count.lines):
        key = (ln.item.code, ln.lot.code if ln.lot else None)
        if key in skip:
            continue
        value = overrides.get(f"{key[0]}_{key[1]}", ln.book)
        counts.enter_count(session, count, ln.item, ln.lot, value, actor=actor)


def n_audit(session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEntry.action == action))


def set_decided(session, count: Count, on: date) -> None:
    """Date an approval in the past, as if it had been made then."""
    count.decided_at = datetime(on.year, on.month, on.day, 9, tzinfo=UTC)
    session.commit()


# ---------------------------------------------------------------- complete or partial


def test_submitting_needs_every_position_with_stock_counted_or_explained(session, depot):
    keeper = depot["keeper"]
    count = counts.start_count(session, depot["wh"], actor=keeper)
    counts.enter_count(session, count, depot["TAPE"], None, 3, actor=keeper)
    session.commit()
    with pytest.raises(DomainError) as err:
        counts.submit_count(session, count, actor=keeper)
    assert err.value.field == "lines"
    assert err.value.message == (
        "以下库存位置既未清点也未说明原因：救生衣（批次 LJ-2026-12）、救生衣（批次 LJ-2027-06）。"
    )
    session.rollback()
    assert session.get(Count, count.id).status == "open"
    assert n_audit(session, "count.submit") == 0

    lot = line_of(count, "LJ", "LJ-2027-06").lot
    counts.enter_count(session, count, depot["LJ"], line_of(count, "LJ", "LJ-2026-12").lot, 10,
                       actor=keeper)  # fmt: skip
    with pytest.raises(DomainError) as blank:  # a blank reason is no reason
        counts.mark_not_counted(session, count, depot["LJ"], lot, "   ", actor=keeper)
    assert blank.value.field == "not_counted_reason"
    counts.mark_not_counted(session, count, depot["LJ"], lot, "二号库房钥匙不在", actor=keeper)
    counts.submit_count(session, count, actor=keeper)
    session.commit()
    assert count.status == "submitted" and count.is_partial
    assert line_of(count, "LJ", "LJ-2027-06").not_counted_reason == "二号库房钥匙不在"


def test_a_position_is_counted_or_marked_never_both(session, depot):
    keeper = depot["keeper"]
    count = counts.start_count(session, depot["wh"], actor=keeper)
    counts.mark_not_counted(session, count, depot["TAPE"], None, "借出", actor=keeper)
    counts.enter_count(session, count, depot["TAPE"], None, 2, actor=keeper)
    line = line_of(count, "TAPE")
    assert (line.counted, line.not_counted_reason) == (2, None)
    counts.mark_not_counted(session, count, depot["TAPE"], None, "借出", actor=keeper)
    assert (line.counted, line.not_counted_reason) == (None, "借出")
    session.commit()


def test_a_partial_count_does_not_reset_the_clock_of_what_it_missed(session, depot, stock):
    keeper, other = depot["keeper"], depot["keeper2"]
    first = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, first, keeper)
    counts.submit_count(session, first, actor=keeper)
    counts.approve_count(session, first, actor=other)
    set_decided(session, first, TODAY - timedelta(days=25))

    partial = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, partial, keeper, skip={("TAPE", None)})
    counts.mark_not_counted(session, partial, depot["TAPE"], None, "在外执勤", actor=keeper)
    counts.submit_count(session, partial, actor=keeper)
    counts.approve_count(session, partial, actor=other)
    set_decided(session, partial, TODAY - timedelta(days=2))

    [due] = counts.counts_due(session, None, today=TODAY)
    # The tape was last counted 25 days ago: a warehouse (30 days) is due in 5 days, not 28.
    assert due.last_counted_on == TODAY - timedelta(days=25)
    assert due.due_on == TODAY + timedelta(days=5) and not due.overdue
    later = counts.counts_due(session, None, today=TODAY + timedelta(days=6))
    assert later[0].overdue

    # Stock received after a count is due with the rest of the unit, not "never counted".
    stock(depot["wh"], depot["TAPE"], 1, lot_code="T-1")
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on == TODAY - timedelta(days=25) and due.never_counted == 0

    full = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, full, keeper)
    counts.submit_count(session, full, actor=keeper)
    counts.approve_count(session, full, actor=other)
    session.commit()
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on == TODAY and due.due_on == TODAY + timedelta(days=30)


def test_a_spot_count_resets_only_its_own_position(session, depot, make_user):
    from labels.services import spot_count

    keeper, other = depot["keeper"], depot["keeper2"]
    tape = session.scalar(select(Position).where(Position.item_id == depot["TAPE"].id))
    spot = spot_count(session, tape, 3, actor=keeper)
    counts.approve_count(session, spot, actor=other)
    session.commit()
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on is None and due.never_counted == 2 and due.overdue


# ---------------------------------------------------------------- returning for recount


def test_an_approver_returns_a_count_for_recount_keeping_what_was_typed(session, depot):
    keeper = depot["keeper"]
    count = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, count, keeper, TAPE_None=1)
    session.commit()
    with pytest.raises(Conflict):  # only a submitted count goes back
        counts.return_count(session, count, "再点一遍", actor=depot["cmd"])
    session.rollback()
    counts.submit_count(session, count, actor=keeper)
    session.commit()
    with pytest.raises(PermissionDenied):  # the counter cannot return their own count
        counts.return_count(session, count, "再点一遍", actor=keeper)
    session.rollback()
    with pytest.raises(PermissionDenied):  # a clerk may not decide on counts
        counts.return_count(session, count, "再点一遍", actor=depot["clerk"])
    session.rollback()
    with pytest.raises(DomainError) as err:
        counts.return_count(session, count, "  ", actor=depot["cmd"])
    assert err.value.field == "reason"
    session.rollback()
    assert session.get(Count, count.id).status == "submitted"
    assert n_audit(session, "count.return") == 0

    counts.return_count(session, count, "警戒带差 2 盘，请复点", actor=depot["cmd"])
    session.commit()
    assert (count.status, count.return_reason, count.returned_by.username) == (
        "returned",
        "警戒带差 2 盘，请复点",
        "boss",
    )
    assert line_of(count, "TAPE").counted == 1  # the typed numbers stay
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "count.return"))
    assert entry.after == {"status": "returned", "reason": "警戒带差 2 盘，请复点"}
    assert counts.open_count_for(session, depot["wh"]).id == count.id
    assert not counts.shows_book(count)  # blind again while it is recounted

    counts.enter_count(session, count, depot["TAPE"], None, 3, actor=keeper)
    counts.submit_count(session, count, actor=keeper)
    moves = counts.approve_count(session, count, actor=depot["cmd"])
    session.commit()
    assert count.status == "approved" and moves == []


# ---------------------------------------------------------------- the count policy


def test_count_policies_belong_to_the_unit_that_sets_them_nearest_wins(
    session, make_unit, make_user
):
    city = make_unit("CITY", kind="bureau")
    b1 = make_unit("B1", kind="bureau", parent=city)
    b2 = make_unit("B2", kind="bureau", parent=city)
    s1 = make_unit("S1", parent=b1)
    s2 = make_unit("S2", parent=b2)
    city_boss = make_user("cityboss", "command", city)
    b1_boss = make_user("b1boss", "command", b1)
    assert counts.count_policy(session, "station", s1.id) == counts.CountPolicy(
        "station", 90, True, None, is_default=True
    )
    counts.set_count_policy(session, "station", blind=False, days=60, actor=city_boss)
    counts.set_count_policy(session, "station", blind=True, actor=b1_boss)
    session.commit()
    p1 = counts.count_policy(session, "station", s1.id)
    p2 = counts.count_policy(session, "station", s2.id)
    # B1's own row (blind) wins below B1; it started from what was in force there (60 days).
    assert (p1.blind, p1.days, p1.set_at_unit_id) == (True, 60, b1.id)
    assert (p2.blind, p2.days, p2.set_at_unit_id) == (False, 60, city.id)
    rows = session.scalars(select(CountInterval).order_by(CountInterval.id)).all()
    assert [(r.unit_id, r.unit_kind, r.days, r.blind) for r in rows] == [
        (city.id, "station", 60, False),
        (b1.id, "station", 60, True),
    ]
    with pytest.raises(PermissionDenied):
        counts.set_count_policy(
            session, "station", blind=False, actor=make_user("clerk9", "clerk", s1)
        )
    session.rollback()
    with pytest.raises(DomainError):
        counts.set_count_policy(session, "station", blind="no", actor=b1_boss)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CountInterval)) == 2

    clerk1, clerk2 = make_user("c1", "clerk", s1), make_user("c2", "clerk", s2)
    assert counts.start_count(session, s1, actor=clerk1).is_blind
    assert not counts.start_count(session, s2, actor=clerk2).is_blind


def test_the_due_list_uses_each_units_own_interval(session, make_unit, make_user, make_item, stock):
    b1 = make_unit("B1", kind="bureau")
    b2 = make_unit("B2", kind="bureau")
    s1, s2 = make_unit("S1", parent=b1), make_unit("S2", parent=b2)
    item = make_item("LJ")
    stock(s1, item, 1)
    stock(s2, item, 1)
    counts.set_count_interval(session, "station", 15, actor=make_user("b1boss", "command", b1))
    session.commit()
    due = {d.unit.code: d.interval_days for d in counts.counts_due(session, None, today=TODAY)}
    assert due == {"S1": 15, "S2": 90}


# ---------------------------------------------------------------- the API


def test_api_count_refuses_positions_neither_counted_nor_explained(
    api, make_token, depot, session, database_url
):
    keeper = api(make_token(depot["keeper"]))
    before = database_rows(database_url)
    r = keeper.post(
        "/api/v1/counts",
        json={
            "unit": "WH",
            "lines": [
                {"item": "TAPE", "counted": 3},
                {"item": "LJ", "lot": "LJ-2027-06", "not_counted_reason": " "},
            ],
        },
    )
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["field"] == "lines"
    assert error["message"] == (
        "以下库存位置既未清点也未说明原因：救生衣（批次 LJ-2026-12）、救生衣（批次 LJ-2027-06）。"
    )
    after = database_rows(database_url)
    after.pop("login_throttle", None), before.pop("login_throttle", None)
    assert after == before  # nothing recorded, not even the audit of the start

    r = keeper.post(
        "/api/v1/counts",
        json={
            "unit": "WH",
            "lines": [
                {"item": "TAPE", "counted": 3},
                {"item": "LJ", "lot": "LJ-2026-12", "counted": 9},
                {"item": "LJ", "lot": "LJ-2027-06", "not_counted_reason": "二号库房钥匙不在"},
            ],
        },
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["status"] == "submitted" and body["partial"] is True
    assert {(ln["item"], ln["lot"]): (ln["book"], ln["counted"], ln["not_counted_reason"])
            for ln in body["lines"]} == {
        ("TAPE", None): (3, 3, None),
        ("LJ", "LJ-2026-12"): (10, 9, None),
        ("LJ", "LJ-2027-06"): (5, None, "二号库房钥匙不在"),
    }  # fmt: skip


def test_api_return_for_recount_and_blind_answers(api, make_token, depot, session):
    keeper = api(make_token(depot["keeper"]))
    boss = api(make_token(depot["cmd"]))
    lines = [
        {"item": "TAPE", "counted": 2},
        {"item": "LJ", "lot": "LJ-2026-12", "counted": 10},
        {"item": "LJ", "lot": "LJ-2027-06", "counted": 5},
    ]
    count_id = keeper.post("/api/v1/counts", json={"unit": "WH", "lines": lines}).get_json()["id"]
    assert (
        keeper.post(f"/api/v1/counts/{count_id}/return", json={"reason": "复点"}).status_code == 403
    )
    empty = boss.post(f"/api/v1/counts/{count_id}/return", json={"reason": ""})
    assert empty.status_code == 422 and empty.get_json()["error"]["field"] == "reason"
    missing = boss.post(f"/api/v1/counts/{count_id}/return", json={})
    assert missing.status_code == 422
    r = boss.post(f"/api/v1/counts/{count_id}/return", json={"reason": "警戒带请复点"})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["status"], body["return_reason"], body["blind"]) == (
        "returned",
        "警戒带请复点",
        True,
    )
    # While it is recounted, nobody reads the book from the API; the typed numbers are there.
    tape = next(ln for ln in keeper.get(f"/api/v1/counts/{count_id}").get_json()["lines"]
                if ln["item"] == "TAPE")  # fmt: skip
    assert (tape["book"], tape["variance"], tape["counted"]) == (None, None, 2)
    again = boss.post(f"/api/v1/counts/{count_id}/return", json={"reason": "再退"})
    assert again.status_code == 409
    assert n_audit(session, "count.return") == 1


# ---------------------------------------------------------------- the pages


def line_fields(page: str) -> dict[str, str]:
    """The line-<id> input of each row, by "item lot" as the row shows them."""
    out = {}
    for row in re.findall(r'<tr id="line-\d+".*?</tr>', page, re.S):
        code = re.search(r"<code>([^<]+)</code>", row).group(1)
        lot = re.search(r"</code></td><td>([^<]+)</td>", row).group(1)
        out[f"{code} {lot}"] = re.search(r'name="(line-\d+)"', row).group(1)
    return out


def test_the_counter_counts_blind_and_the_approver_sees_the_variance(login, app, depot, session):
    client = login("keeper1")
    r = post_form(client, "/stock/WH/counts")
    page = client.get(r.location).get_data(as_text=True)
    assert "盲盘" in page and ">账面</th>" not in page
    assert 'class="num">10<' not in page and 'class="num">3<' not in page
    fields = line_fields(page)
    count_id = int(r.location.rsplit("/", 1)[1])
    data = {fields["TAPE —"]: "2", fields["LJ LJ-2026-12"]: "10", fields["LJ LJ-2027-06"]: "5"}
    r = post_form(client, f"/counts/{count_id}/submit", data)  # 提交审批 without 保存 first
    assert r.status_code == 302
    assert session.get(Count, count_id).status == "submitted"
    other = app.test_client()
    post_form(other, "/login", {"username": "boss", "password": "secret-pass-1"})
    page = other.get(f"/counts/{count_id}").get_data(as_text=True)
    assert ">账面</th>" in page and "-1</strong>" in page and "退回重盘" in page


def test_a_bad_row_keeps_every_other_value_and_is_marked_by_item_and_lot(login, depot, session):
    client = login("keeper1")
    r = post_form(client, "/stock/WH/counts")
    count_id = int(r.location.rsplit("/", 1)[1])
    fields = line_fields(client.get(r.location).get_data(as_text=True))
    r = post_form(
        client,
        f"/counts/{count_id}/submit",
        {fields["TAPE —"]: "3", fields["LJ LJ-2026-12"]: "10", fields["LJ LJ-2027-06"]: "五"},
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "救生衣（批次 LJ-2027-06）：" in page and 'value="五"' in page
    assert "有 1 行没有保存" in page and "尚未提交审批" in page
    session.expire_all()
    count = session.get(Count, count_id)
    assert count.status == "open"  # nothing submitted
    assert (line_of(count, "TAPE").counted, line_of(count, "LJ", "LJ-2026-12").counted) == (3, 10)
    assert line_of(count, "LJ", "LJ-2027-06").counted is None

    # Submitting with a position left empty: what was typed is saved, the row is marked.
    r = post_form(client, f"/counts/{count_id}/submit", {fields["TAPE —"]: "2"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "救生衣（批次 LJ-2027-06）：请填写清点数量或未清点原因。" in page
    session.expire_all()
    count = session.get(Count, count_id)
    assert count.status == "open" and line_of(count, "TAPE").counted == 2

    r = post_form(
        client,
        f"/counts/{count_id}/submit",
        {fields["LJ LJ-2027-06"]: "", fields["LJ LJ-2027-06"].replace("line", "reason"): "封存"},
    )
    assert r.status_code == 302
    session.expire_all()
    count = session.get(Count, count_id)
    assert count.status == "submitted" and count.is_partial
    listing = client.get("/counts").get_data(as_text=True)
    assert "部分盘点" in listing
    assert "部分盘点" in client.get(f"/counts/{count_id}").get_data(as_text=True)


def test_return_button_sends_the_count_back_with_its_reason(login, app, depot, session):
    keeper = login("keeper1")
    r = post_form(keeper, "/stock/WH/counts")
    count_id = int(r.location.rsplit("/", 1)[1])
    fields = line_fields(keeper.get(r.location).get_data(as_text=True))
    post_form(keeper, f"/counts/{count_id}/submit", {f: "1" for f in fields.values()})
    boss = app.test_client()
    post_form(boss, "/login", {"username": "boss", "password": "secret-pass-1"})
    r = post_form(boss, f"/counts/{count_id}/return", {"reason": ""})
    assert "请填写退回重盘的原因" in boss.get(r.location).get_data(as_text=True)
    assert session.get(Count, count_id).status == "submitted"
    r = post_form(boss, f"/counts/{count_id}/return", {"reason": "数量明显不对，请复点"})
    assert "已退回重盘" in boss.get(r.location).get_data(as_text=True)
    page = keeper.get(f"/counts/{count_id}").get_data(as_text=True)
    assert "数量明显不对，请复点" in page and 'value="1"' in page and ">账面</th>" not in page


def test_command_turns_blindness_off_for_their_own_bureau_only(
    login, make_unit, make_user, make_item, stock, session
):
    b1 = make_unit("B1", kind="bureau")
    b2 = make_unit("B2", kind="bureau")
    s1, s2 = make_unit("S1", parent=b1), make_unit("S2", parent=b2)
    make_user("b1boss", "command", b1)
    make_user("c1", "clerk", s1)
    make_user("c2", "clerk", s2)
    item = make_item("LJ", name="救生衣")
    stock(s1, item, 4)
    stock(s2, item, 4)
    boss = login("b1boss")
    r = post_form(boss, "/counts/intervals", {"unit_kind": "station", "days": "90", "blind": "0"})
    assert r.status_code == 302
    assert "显示账面数" in boss.get("/counts/intervals").get_data(as_text=True)
    row = session.scalar(select(CountInterval))
    assert (row.unit_id, row.blind) == (b1.id, False)
    # Saving the interval alone leaves blindness as it is.
    post_form(boss, "/counts/intervals", {"unit_kind": "station", "days": "60"})
    session.expire_all()
    assert (
        session.scalar(select(CountInterval)).days,
        session.scalar(select(CountInterval)).blind,
    ) == (60, False)

    clerk1 = login("c1")
    page = clerk1.get(post_form(clerk1, "/stock/S1/counts").location).get_data(as_text=True)
    assert ">账面</th>" in page
    clerk1.post("/logout")
    clerk2 = login("c2")
    page = clerk2.get(post_form(clerk2, "/stock/S2/counts").location).get_data(as_text=True)
    assert ">账面</th>" not in page


def test_the_scan_page_hides_the_book_during_a_blind_stocktake(login, depot, session):
    from labels import services as lab

    tape = session.scalar(select(Position).where(Position.item_id == depot["TAPE"].id))
    code = lab.label_for_position(session, tape).code
    session.commit()
    client = login("keeper1")
    assert "scan-qty" in client.get(f"/l/{code}").get_data(as_text=True)  # no count running
    count = counts.start_count(session, depot["wh"], actor=depot["keeper"])
    session.commit()
    page = client.get(f"/l/{code}").get_data(as_text=True)
    assert "scan-qty" not in page and "账面数量" not in page
    r = post_form(client, f"/l/{code}/count", {"counted": "3"})
    assert r.status_code == 302
    box = client.get(f"/scan?count={count.id}").get_data(as_text=True)
    assert "账面" not in box and "<strong>3</strong>" in box


def test_a_spot_count_goes_into_a_count_returned_for_recount(session, depot):
    from labels.services import spot_count

    keeper = depot["keeper"]
    count = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, count, keeper)
    counts.submit_count(session, count, actor=keeper)
    counts.return_count(session, count, "复点警戒带", actor=depot["cmd"])
    tape = session.scalar(select(Position).where(Position.item_id == depot["TAPE"].id))
    assert spot_count(session, tape, 2, actor=keeper).id == count.id
    session.commit()
    assert line_of(count, "TAPE").counted == 2


def test_a_spot_count_after_a_full_count_moves_only_its_own_position(session, depot, stock):
    from labels.services import spot_count

    keeper, other = depot["keeper"], depot["keeper2"]
    full = counts.start_count(session, depot["wh"], actor=keeper)
    enter_all(session, full, keeper)
    counts.submit_count(session, full, actor=keeper)
    counts.approve_count(session, full, actor=other)
    set_decided(session, full, TODAY - timedelta(days=40))
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on == TODAY - timedelta(days=40) and due.overdue
    # Every position but one spot-counted since: the one left decides.
    for pos in session.scalars(select(Position).where(Position.unit_id == depot["wh"].id)):
        if pos.item_id == depot["TAPE"].id:
            continue
        counts.approve_count(session, spot_count(session, pos, pos.qty, actor=keeper), actor=other)
    session.commit()
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on == TODAY - timedelta(days=40) and due.overdue
    tape = session.scalar(select(Position).where(Position.item_id == depot["TAPE"].id))
    counts.approve_count(session, spot_count(session, tape, 3, actor=keeper), actor=other)
    session.commit()
    [due] = counts.counts_due(session, None, today=TODAY)
    assert due.last_counted_on == TODAY and not due.overdue

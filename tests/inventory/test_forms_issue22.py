"""Issue 22, the inventory forms: the movement form adapts to what is chosen, the same
movement twice is asked about, dates are bounded, every error shows at once, 盘库 starts a
count, and the ledger's notes read as words with links."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from inventory import allocations as alloc
from inventory import counts, ledger
from inventory.models import Count, Movement
from readiness.checks import check_expiry, check_past_date, latest_expiry
from readiness.db import utcnow
from readiness.errors import DomainError
from readiness.permissions import SYSTEM
from tests.conftest import post_form


def text(response) -> str:
    return response.get_data(as_text=True)


def errors(response) -> list[str]:
    return re.findall(r'class="error">([^<]*)<', text(response))


def n_movements(session) -> int:
    return session.scalar(select(func.count()).select_from(Movement))


def form_key(client, code="DAYE") -> str:
    page = text(client.get(f"/stock/{code}/record"))
    return re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def daye(make_unit, make_item, make_user):
    station = make_unit("DAYE", name="大冶派出所")
    return {
        "unit": station,
        "jackets": make_item("LJ", name="救生衣", uom="件"),
        "drone": make_item("UAV", name="无人机", uom="架", tracking="serial"),
        "clerk": make_user("clerk1", "clerk", station),
    }


# ---------------------------------------------------------------- 1. the form adapts


def test_the_movement_form_marks_each_field_with_the_choice_it_belongs_to(daye, login):
    page = text(login("clerk1").get("/stock/DAYE/record"))
    item_select = re.search(r'<select[^>]*name="item".*?</select>', page, re.S).group(0)
    assert "data-picker" in item_select
    # nothing preselected: the first choice is the empty one, and no option is selected
    assert re.search(r'<option selected value="">请选择物资</option>', item_select)
    assert '<option data-tracking="serial" value="UAV">' in item_select
    assert '<option data-tracking="bulk" value="LJ">' in item_select

    def wrapper_of(name):
        return re.search(
            r'<div data-show-when="([^"]+)">\s*(?:<div class="row">)?\s*<div class="field[^"]*">\s*'
            rf'<label for="{name}"',
            page,
        ).group(1)

    assert wrapper_of("lot") == "kind=receipt; item.tracking!=serial"  # with 有效期至
    receipt_only = page.split('data-show-when="kind=receipt;')[1].split("data-show-when")[0]
    assert 'for="lot"' in receipt_only and 'for="expires_on"' in receipt_only
    assert wrapper_of("lot_pick") == "kind=issue write_off; item.tracking!=serial"
    assert wrapper_of("reason") == "kind=write_off"
    assert wrapper_of("serials") == "item.tracking=serial"
    # no inline script (the CSP forbids it); the behaviour is static/forms.js
    assert "<script>" not in page


def test_without_javascript_what_does_not_apply_is_ignored(daye, login, session):
    client = login("clerk1")
    r = post_form(
        client,
        "/stock/DAYE/record",
        {
            "kind": "receipt",
            "item": "LJ",
            "qty": "5",
            "reason": "lost",  # only for a write-off
            "serials": "X-1",  # LJ is counted by quantity
            "lot_pick": "NOPE",  # only for an issue or write-off
            "request_key": form_key(client),
        },
    )
    assert r.status_code == 302, errors(r)
    m = session.scalars(select(Movement)).one()
    assert (m.qty, m.reason, m.serials, m.lot_id) == (5, "", "", None)
    # an issue takes the lot picked, not a lot typed in the receipt's box
    r = post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "issue", "item": "LJ", "qty": "2", "lot": "X", "request_key": form_key(client)},
    )
    assert r.status_code == 302, errors(r)
    assert session.scalar(select(Movement).order_by(Movement.id.desc())).lot_id is None


def test_missing_item_and_reason_are_named_with_every_other_error_at_once(daye, login, session):
    client = login("clerk1")
    r = post_form(
        client,
        "/stock/DAYE/record",
        {
            "kind": "write_off",
            "item": "",
            "qty": "abc",
            "note": "仓库漏水",
            "request_key": form_key(client),
        },
    )
    assert r.status_code == 200
    found = errors(r)
    assert "请选择物资。" in found
    assert "报损核销必须选择原因：过期、损坏或丢失。" in found
    assert any("不是有效的整数" in e for e in found)
    assert "仓库漏水</textarea>" in text(r) and 'value="abc"' in text(r)
    assert n_movements(session) == 0


# ---------------------------------------------------------------- 2. the same movement twice


def test_the_same_movement_again_within_two_minutes_is_asked_about(daye, session):
    station, jackets, clerk = daye["unit"], daye["jackets"], daye["clerk"]

    def receive(**kw):
        return ledger.record_movement(
            session, unit=station, item=jackets, kind="receipt", qty=6, actor=clerk, **kw
        )

    receive(lot_code="L1", allow_repeat=False, request_key="a")
    session.commit()
    with pytest.raises(ledger.RepeatedMovement, match="刚刚已登记过相同的一笔"):
        receive(lot_code="L1", allow_repeat=False, request_key="b", note="另一个备注")
    session.rollback()
    assert n_movements(session) == 1
    # something else is not a repeat: another lot, another quantity
    receive(lot_code="L2", allow_repeat=False)
    ledger.record_movement(
        session, unit=station, item=jackets, kind="receipt", qty=7, actor=clerk, lot_code="L1",
        allow_repeat=False,
    )  # fmt: skip
    # confirmed, it records; callers with their own request keys (API, scan) never ask
    receive(lot_code="L1", allow_repeat=True)
    receive(lot_code="L1")
    session.commit()
    assert n_movements(session) == 5
    # two minutes later it is a new movement
    session.execute(update(Movement).values(at=utcnow() - timedelta(minutes=3)))
    receive(lot_code="L1", allow_repeat=False)
    session.commit()
    assert n_movements(session) == 6


def test_back_and_submit_again_asks_and_records_once_confirmed(daye, login, session):
    client = login("clerk1")
    data = {"kind": "receipt", "item": "LJ", "qty": "6", "lot": "L-2026", "note": "首批"}
    r = post_form(client, "/stock/DAYE/record", {**data, "request_key": form_key(client)})
    assert r.status_code == 302
    # Back, the page reloaded with a fresh key, the same receipt sent again
    r = post_form(client, "/stock/DAYE/record", {**data, "request_key": form_key(client)})
    page = text(r)
    assert r.status_code == 200
    assert "刚刚已登记过相同的一笔，确定再登记一次？" in page
    assert 'name="confirm_repeat" value="1"' in page
    assert 'value="L-2026"' in page and "首批</textarea>" in page
    assert n_movements(session) == 1
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    r = post_form(client, "/stock/DAYE/record", {**data, "request_key": key, "confirm_repeat": "1"})
    assert r.status_code == 302
    assert n_movements(session) == 2


def test_the_api_records_the_same_movement_twice_as_before(daye, make_token, api, session):
    token = make_token(daye["clerk"])
    body = {"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 3}
    first = api(token).post("/api/v1/movements", json={**body, "request_key": "k1"})
    second = api(token).post("/api/v1/movements", json={**body, "request_key": "k2"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert n_movements(session) == 2


# ---------------------------------------------------------------- 3. dates


def test_expiry_and_event_dates_are_bounded_with_the_field_named():
    today = date(2026, 12, 4)
    assert latest_expiry(today) == date(2056, 12, 4)
    assert latest_expiry(date(2024, 2, 29)) == date(2054, 2, 28)
    assert check_expiry(date(2056, 12, 4), "expires_on", label="有效期至", today=today)
    assert check_expiry(None, "expires_on", label="有效期至", today=today) is None
    with pytest.raises(DomainError, match="有效期至不能晚于 2056-12-04") as err:
        check_expiry(date(9999, 12, 31), "expires_on", label="有效期至", today=today)
    assert err.value.field == "expires_on"
    with pytest.raises(DomainError, match="有效期至不能早于 2000-01-01"):
        check_expiry(date(1900, 1, 1), "expires_on", label="有效期至", today=today)
    assert check_past_date(today, "held_on", label="演练日期", today=today) == today
    with pytest.raises(DomainError, match="演练日期不能晚于今天"):
        check_past_date(today + timedelta(days=1), "held_on", label="演练日期", today=today)
    with pytest.raises(DomainError, match="演练日期不能早于 2000-01-01"):
        check_past_date(date(1999, 12, 31), "held_on", label="演练日期", today=today)
    with pytest.raises(DomainError, match="请填写演练日期"):
        check_past_date(None, "held_on", label="演练日期", today=today)


@pytest.mark.parametrize("expiry", ["9999-12-31", "1900-01-01"])
def test_an_absurd_expiry_is_refused_by_the_service_and_the_form(daye, login, session, expiry):
    with pytest.raises(DomainError, match="有效期至") as err:
        ledger.record_movement(
            session,
            unit=daye["unit"],
            item=daye["jackets"],
            kind="receipt",
            qty=1,
            expires_on=date.fromisoformat(expiry),
            actor=daye["clerk"],
        )
    assert err.value.field == "expires_on"
    session.rollback()
    client = login("clerk1")
    data = {"kind": "receipt", "item": "LJ", "qty": "1", "expires_on": expiry}
    r = post_form(client, "/stock/DAYE/record", {**data, "request_key": form_key(client)})
    assert r.status_code == 200
    assert any(e.startswith("有效期至不能") for e in errors(r)), errors(r)
    assert f'value="{expiry}"' in text(r)
    assert n_movements(session) == 0


# ---------------------------------------------------------------- 4. the count sheet


def test_the_count_sheet_marks_every_bad_row_and_keeps_what_was_typed(
    make_unit, make_item, make_user, login, session, stock
):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    stock(wh, make_item("LJ", name="救生衣"), 10)
    stock(wh, make_item("RP", name="救生绳"), 4)
    stock(wh, make_item("WT", name="警戒带"), 7)
    keeper = make_user("keeper1", "keeper", wh)
    count = counts.start_count(session, wh, actor=keeper)
    session.commit()
    client = login("keeper1")
    fields = re.findall(r'name="(line-\d+)"', text(client.get(f"/counts/{count.id}")))
    r = post_form(
        client, f"/counts/{count.id}/lines", dict(zip(fields, ["-1", "abc", "6"], strict=True))
    )
    assert r.status_code == 422
    page = text(r)
    assert len(re.findall(r'<tr id="line-\d+" class="has-error">', page)) == 2
    assert 'value="-1"' in page and 'value="abc"' in page and 'value="6"' in page


# ---------------------------------------------------------------- 5. 盘库 starts a count


def test_the_counts_page_starts_a_count_of_a_unit_in_reach(
    make_unit, make_item, make_user, login, session, stock
):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    make_unit("OTHER", name="别的仓库", kind="warehouse")
    stock(wh, make_item("LJ", name="救生衣"), 10)
    make_user("keeper1", "keeper", wh)
    make_user("cmd1", "command", None)
    client = login("keeper1")
    page = text(client.get("/counts"))
    form = re.search(r'<form[^>]*id="start-count".*?</form>', page, re.S).group(0)
    assert 'action="/counts/start"' in form and "data-picker" in form
    assert re.findall(r'<option[^>]*value="([^"]*)"', form) == ["", "WH"]  # only its reach
    r = post_form(client, "/counts/start", {"unit": "", "note": "月度盘点"})
    assert r.status_code == 422
    assert "请选择要盘点的单位。" in errors(r) and 'value="月度盘点"' in text(r)
    r = post_form(client, "/counts/start", {"unit": "OTHER", "note": "月度盘点"})
    assert r.status_code == 422 and session.scalar(select(func.count(Count.id))) == 0
    r = post_form(client, "/counts/start", {"unit": "WH", "note": "月度盘点"})
    count = session.scalar(select(Count))
    assert r.status_code == 302 and r.location == f"/counts/{count.id}"
    assert count.note == "月度盘点"
    # the box on the stock page says what it does (when no count is running)
    counts.cancel_count(session, count, actor=SYSTEM)
    session.commit()
    assert "盘点本单位库存" in text(client.get("/stock/WH"))
    # a user who may not start counts sees no form
    assert 'id="start-count"' not in text(login("cmd1").get("/counts"))


# ---------------------------------------------------------------- 6. ledger notes in words


def test_ledger_notes_read_as_words_in_the_readers_language_with_links(
    make_unit, make_item, make_user, login, session, stock, client
):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    st = make_unit("DAYE", name="大冶派出所")
    jackets = make_item("LJ", name="救生衣")
    stock(wh, jackets, 20)
    clerk = make_user("clerk1", "clerk", st)
    keeper = make_user("keeper1", "keeper", wh)
    keeper2 = make_user("keeper2", "keeper", wh)
    cmd = make_user("cmd1", "command", None)
    a = alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=st,
        lines=[alloc.LineInput("LJ", 4)],
        reason="补齐",
        actor=clerk,
    )
    alloc.approve_allocation(session, a, actor=cmd, threshold=Decimal("50000"))
    alloc.dispatch_allocation(session, a, actor=keeper)
    alloc.receive_allocation(session, a, actor=clerk)
    count = counts.start_count(session, wh, actor=keeper)
    counts.enter_count(session, count, jackets, None, 15, actor=keeper)
    counts.submit_count(session, count, actor=keeper)
    counts.approve_count(session, count, actor=keeper2)
    session.commit()
    client = login("cmd1")
    page = text(client.get("/ledger"))
    assert "allocation:" not in page and "count:" not in page
    assert f'来自 应急物资中心仓库 <a href="/allocations/{a.id}">调拨单 #{a.id}</a>' in page
    assert f'调拨至 大冶派出所 <a href="/allocations/{a.id}">调拨单 #{a.id}</a>' in page
    assert f'盘点第 {count.id} 号调整 <a href="/counts/{count.id}">盘点第 {count.id} 号</a>' in page
    english = text(client.get("/ledger?lang=en"))
    assert f'From 应急物资中心仓库 <a href="/allocations/{a.id}">Allocation #{a.id}</a>' in english
    assert f"Adjustment from stocktake no. {count.id}" in english
    # the download keeps its columns: the stored reference and note
    csv = text(client.get("/ledger?format=csv"))
    assert f"allocation:{a.id}" in csv


# ---------------------------------------------------------------- 7. filters by name


def test_ledger_unit_filter_is_a_picker_and_old_bookmarks_still_work(daye, login, stock):
    stock(daye["unit"], daye["jackets"], 3)
    client = login("clerk1")
    page = text(client.get("/ledger?unit=DAYE"))
    unit_select = re.search(r'<select[^>]*name="unit".*?</select>', page, re.S).group(0)
    assert "data-picker" in unit_select
    assert re.search(r'<option selected value="DAYE">[^<]*大冶派出所</option>', unit_select)
    assert "救生衣" in page


def test_undo_and_split_lines_read_as_words(daye, login, session, stock):
    station, jackets, clerk = daye["unit"], daye["jackets"], daye["clerk"]
    stock(station, jackets, 2, lot_code="A")
    stock(station, jackets, 3, lot_code="B")
    split = ledger.record_movement(
        session, unit=station, item=jackets, kind="issue", qty=4, actor=clerk, request_key="s"
    )
    ledger.record_movement(
        session, unit=station, item=jackets, kind="receipt", qty=1, actor=clerk, request_key="u"
    )
    ledger.undo_movement(session, "u", actor=clerk)
    session.commit()
    first = split.movements[0].id
    page = text(login("clerk1").get("/ledger"))
    assert f"movement:{first}" not in page and "undo:" not in page
    assert f'<span class="muted">与第 {first} 笔同一次登记</span>' in page
    undone = session.scalar(select(Movement).where(Movement.request_key == "u")).id
    assert f"撤销第 {undone} 笔（入库 1）" in page

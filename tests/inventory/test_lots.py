"""Issues and write-offs without a lot take the unit's stock earliest expiry first across its
lots; refusals name the unit's total; messages and the ledger show the unit's total beside
the lot's balance (issue 16, item 4)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from inventory.ledger import InsufficientStock, record_movement
from inventory.models import Asset, Movement, Position
from readiness.errors import Conflict
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from tests.conftest import post_form
from tests.pdfcheck import pdf_text

TODAY = date.today()
SOON = TODAY + timedelta(days=200)
LATER = TODAY + timedelta(days=400)


def n(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def books(session) -> list[tuple]:
    """Every position as (lot code or None, qty, reserved), for 'nothing changed' checks."""
    return sorted(
        (p.lot.code if p.lot else "", p.qty, p.reserved) for p in session.scalars(select(Position))
    )


@pytest.fixture
def jackets(make_unit, make_user, make_item, stock):
    """大冶派出所 holds 3 life jackets without a lot, 10 in LJ-2026-12 and 4 in LJ-2027-06."""
    bureau = make_unit("DF", name="登封市公安局", kind="bureau")
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau)
    make_user("clerk1", "clerk", daye)
    make_user("boss", "command", bureau)
    item = make_item("LJ", name="救生衣", uom="件")
    stock(daye, item, 3)
    stock(daye, item, 4, lot_code="LJ-2027-06", expires_on=LATER)
    stock(daye, item, 10, lot_code="LJ-2026-12", expires_on=SOON)
    return {"unit": daye, "item": item}


# ---------------------------------------------------------------- service


def test_an_issue_without_a_lot_takes_the_earliest_expiry_first_across_lots(
    session, jackets, stock
):
    """The issue's case: 5 without a lot is no longer refused over the 3 kept without one."""
    done = stock(jackets["unit"], jackets["item"], 5, kind="issue")
    assert [(m.lot.code, m.qty, m.balance_after) for m in done.movements] == [("LJ-2026-12", -5, 5)]
    assert done.unit_total == 12
    assert done.summary() == "已出库 5 件救生衣；本单位合计 12 件（批次 LJ-2026-12 余 5 件）。"


def test_one_issue_splits_over_lots_one_ledger_line_each_audited(session, jackets, stock):
    """12 take the 10 of the soonest lot, then 2 of the next; the stock without a lot last."""
    audits = n(session, AuditEntry)
    done = stock(jackets["unit"], jackets["item"], 12, kind="issue", note="汛期出库")
    lines = done.movements
    assert [(m.lot.code, m.qty, m.balance_after) for m in lines] == [
        ("LJ-2026-12", -10, 0),
        ("LJ-2027-06", -2, 2),
    ]
    assert done.movement is lines[0] and done.balance == 0 and done.unit_total == 5
    assert lines[1].document == f"movement:{lines[0].id}"
    assert {m.note for m in lines} == {"汛期出库"}
    assert books(session) == [("", 3, 0), ("LJ-2026-12", 0, 0), ("LJ-2027-06", 2, 0)]
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "movement.issue").order_by(AuditEntry.id)
    ).all()
    assert n(session, AuditEntry) == audits + 2
    assert [(e.after["lot"], e.after["qty"], e.after["unit_total"]) for e in entries] == [
        ("LJ-2026-12", -10, 5),
        ("LJ-2027-06", -2, 5),
    ]
    # Then the stock kept without a lot: it never expires, so it goes last.
    done = stock(jackets["unit"], jackets["item"], 4, kind="issue")
    assert [(m.lot.code if m.lot else None, m.qty) for m in done.movements] == [
        ("LJ-2027-06", -2),
        (None, -2),
    ]
    assert done.summary() == (
        "已出库 4 件救生衣；本单位合计 1 件（批次 LJ-2027-06 余 0 件、无批次 余 1 件）。"
    )


def test_a_short_unit_total_is_refused_saying_the_total_and_nothing_is_written(session, jackets):
    before = (books(session), n(session, Movement), n(session, AuditEntry))
    with pytest.raises(InsufficientStock) as err:
        record_movement(
            session, unit=jackets["unit"], item=jackets["item"], kind="issue", qty=18, actor=SYSTEM
        )
    assert err.value.message == "大冶派出所 的 救生衣 账面合计只有 17 件，不够出库 18 件。"
    assert err.value.field == "qty"
    session.rollback()
    assert (books(session), n(session, Movement), n(session, AuditEntry)) == before


def test_a_named_lot_gives_only_its_own_stock_and_the_refusal_says_both(session, jackets, stock):
    with pytest.raises(InsufficientStock) as err:
        record_movement(
            session,
            unit=jackets["unit"],
            item=jackets["item"],
            kind="issue",
            qty=5,
            lot_code="LJ-2027-06",
            actor=SYSTEM,
        )
    assert err.value.message == (
        "大冶派出所 的 救生衣（批次 LJ-2027-06）账面只有 4 件，不足 5 件；本单位合计 17 件。"
    )
    session.rollback()
    done = stock(jackets["unit"], jackets["item"], 4, kind="issue", lot_code="LJ-2027-06")
    assert [(m.lot.code, m.qty) for m in done.movements] == [("LJ-2027-06", -4)]
    assert done.unit_total == 13


def test_issues_leave_expired_lots_alone_and_write_offs_take_them_first(
    session, make_unit, make_item, stock
):
    bureau = make_unit("DF", kind="bureau")
    station = make_unit("S", name="君召派出所", parent=bureau)
    bags = make_item("SB", name="吸水沙袋", uom="个")
    stock(station, bags, 5, lot_code="OLD", expires_on=TODAY - timedelta(days=3))
    stock(station, bags, 2, lot_code="NEW", expires_on=LATER)
    before = books(session)
    with pytest.raises(InsufficientStock) as err:
        record_movement(session, unit=station, item=bags, kind="issue", qty=3, actor=SYSTEM)
    assert err.value.message == (
        "君召派出所 的 吸水沙袋 账面合计 7 个（已过期 5 个），可出库的只有 2 个，不够出库 3 个。"
    )
    session.rollback()
    assert books(session) == before
    done = stock(station, bags, 6, kind="write_off", reason="expired")
    assert [(m.lot.code, m.qty) for m in done.movements] == [("OLD", -5), ("NEW", -1)]
    assert done.summary().startswith("已报损核销 6 个吸水沙袋；本单位合计 1 个")


def test_stock_reserved_for_an_allocation_stays_for_it(session, jackets):
    pos = session.scalar(select(Position).where(Position.lot_id.is_(None)))
    pos.reserved = 3
    soon = session.scalars(select(Position).where(Position.lot_id.is_not(None))).all()
    for p in soon:
        p.reserved = p.qty
    session.commit()
    with pytest.raises(InsufficientStock) as err:
        record_movement(
            session, unit=jackets["unit"], item=jackets["item"], kind="issue", qty=1, actor=SYSTEM
        )
    assert "账面合计 17 件（已为调拨预留 17 件），可出库的只有 0 件" in err.value.message


def test_serial_items_still_name_their_pieces(session, make_unit, make_item, stock):
    bureau = make_unit("DF", kind="bureau")
    station = make_unit("S", parent=bureau)
    light = make_item("SL", name="探照灯", uom="台", tracking="serial")
    stock(station, light, 2, serials="SL-1,SL-2")
    done = stock(station, light, 1, kind="issue", serials="SL-2")
    assert [(m.lot, m.qty, m.serials) for m in done.movements] == [(None, -1, "SL-2")]
    assert done.unit_total == 1
    assert session.scalar(select(Asset).where(Asset.serial == "SL-2")).unit_id is None


def test_a_retry_with_the_same_key_answers_every_line_and_writes_none(session, jackets, stock):
    first = stock(jackets["unit"], jackets["item"], 12, kind="issue", request_key="k-12")
    count = n(session, Movement)
    again = stock(jackets["unit"], jackets["item"], 12, kind="issue", request_key="k-12")
    assert again.replayed and n(session, Movement) == count
    assert [m.id for m in again.movements] == [m.id for m in first.movements]
    assert again.unit_total == 5
    with pytest.raises(Conflict):
        record_movement(
            session,
            unit=jackets["unit"],
            item=jackets["item"],
            kind="issue",
            qty=10,
            request_key="k-12",
            actor=SYSTEM,
        )


# ---------------------------------------------------------------- pages


def _text(response) -> str:
    return response.get_data(as_text=True)


def _key(page: str) -> str:
    return re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)


def test_the_form_offers_the_units_lots_and_leaves_the_pick_to_fefo(session, jackets, login):
    client = login("clerk1")
    page = _text(client.get("/stock/DAYE/record?kind=issue&item=LJ"))
    select_ = re.search(r'<select[^>]*name="lot_pick".*?</select>', page, re.S).group(0)
    picks = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_)
    assert picks[0] == ("", "不指定批次（先到期先出）")
    assert ("LJ-2026-12", f"救生衣 · 批次 LJ-2026-12 · 余 10 件 · {SOON.isoformat()} 到期") in picks
    assert [v for v, _t in picks[1:]] == ["LJ-2026-12", "LJ-2027-06"]  # soonest first
    r = post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "issue", "item": "LJ", "qty": "5", "lot_pick": "", "request_key": _key(page)},
    )
    assert r.status_code == 302
    assert "已出库 5 件救生衣；本单位合计 12 件（批次 LJ-2026-12 余 5 件）。" in _text(
        client.get(r.location)
    )
    page = _text(client.get("/stock/DAYE/record?kind=issue&item=LJ"))
    r = post_form(
        client,
        "/stock/DAYE/record",
        {
            "kind": "issue",
            "item": "LJ",
            "qty": "1",
            "lot_pick": "LJ-2027-06",
            "request_key": _key(page),
        },
    )
    assert "本单位合计 11 件（批次 LJ-2027-06 余 3 件）" in _text(client.get(r.location))


def test_a_refused_issue_on_the_page_names_the_total_and_changes_nothing(session, jackets, login):
    client = login("clerk1")
    before = books(session)
    page = _text(client.get("/stock/DAYE/record?kind=issue&item=LJ"))
    r = post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "issue", "item": "LJ", "qty": "20", "request_key": _key(page)},
    )
    assert r.status_code == 200
    assert "大冶派出所 的 救生衣 账面合计只有 17 件，不够出库 20 件。" in _text(r)
    session.expire_all()
    assert books(session) == before


def test_the_ledger_shows_the_units_total_beside_the_lot_balance(session, jackets, login, stock):
    stock(jackets["unit"], jackets["item"], 12, kind="issue")
    client = login("boss")
    page = _text(client.get("/ledger"))
    assert "本单位合计" in page
    # newest first: the split issue's second line leaves 5 in all, 2 in its lot
    assert re.search(r'>-2</td><td class="num">2</td><td class="num">5<', page)
    assert re.search(r'>-10</td><td class="num">0</td><td class="num">7<', page)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/ledger?format=csv&sort=time&dir=asc").get_data().decode("utf-8-sig")
            )
        )
    )
    assert rows[0][7:9] == ["结存", "本单位合计"]
    assert [(r[4], r[6], r[7], r[8]) for r in rows[1:]] == [
        ("", "3", "3", "3"),
        ("LJ-2027-06", "4", "4", "7"),
        ("LJ-2026-12", "10", "10", "17"),
        ("LJ-2026-12", "-10", "0", "7"),
        ("LJ-2027-06", "-2", "2", "5"),
    ]
    # A period that starts later still carries the total from before it.
    later = (TODAY + timedelta(days=1)).isoformat()
    assert (
        len(
            list(
                csv.reader(
                    io.StringIO(
                        client.get(f"/ledger?format=csv&date_from={later}")
                        .get_data()
                        .decode("utf-8-sig")
                    )
                )
            )
        )
        == 1
    )
    pdf = client.get("/ledger?format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "本单位合计" in pdf_text(pdf.get_data())
    history = _text(client.get("/stock/DAYE/items/LJ"))
    assert re.search(r'>-2</td><td class="num">2</td><td class="num">5<', history)


def test_a_ledger_too_long_for_a_pdf_is_refused_with_the_filters_kept(jackets, login, monkeypatch):
    from inventory import views

    monkeypatch.setattr(views, "LEDGER_PDF_MAX_ROWS", 2)
    client = login("boss")
    r = client.get("/ledger?format=pdf&unit=DAYE", follow_redirects=True)
    assert r.mimetype == "text/html" and "台账超过 2 行，无法生成 PDF" in _text(r)
    assert r.request.args.get("unit") == "DAYE"


# ---------------------------------------------------------------- API


def test_the_api_answers_every_line_and_the_units_total(session, jackets, api, make_token):
    from readiness.models import User

    clerk = api(make_token(session.scalar(select(User).where(User.username == "clerk1"))))
    body = {"unit": "DAYE", "item": "LJ", "kind": "issue", "qty": 12, "request_key": "api-12"}
    r = clerk.post("/api/v1/movements", json=body)
    assert r.status_code == 201
    answer = r.get_json()
    first, second = answer["movements"]
    assert answer["id"] == first["id"] and answer["balance"] == 0 and answer["warnings"] == []
    assert answer["unit_total"] == 5
    assert (first["lot"], first["qty"], first["balance"]) == ("LJ-2026-12", -10, 0)
    assert (second["lot"], second["qty"], second["balance"]) == ("LJ-2027-06", -2, 2)
    again = clerk.post("/api/v1/movements", json=body)
    assert again.status_code == 200 and again.get_json() == answer
    before = (books(session), n(session, Movement))
    over = clerk.post(
        "/api/v1/movements", json={"unit": "DAYE", "item": "LJ", "kind": "issue", "qty": 6}
    )
    assert over.status_code == 409
    assert over.get_json()["error"] == {
        "code": "conflict",
        "message": "大冶派出所 的 救生衣 账面合计只有 5 件，不够出库 6 件。",
        "field": "qty",
    }
    session.expire_all()
    assert (books(session), n(session, Movement)) == before

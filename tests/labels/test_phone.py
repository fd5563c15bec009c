"""What the phone's scan page talks to: an action sent twice is recorded once, with the
phone's time beside the server's; an issue is undone by a reversing line within the minute;
a resend never overwrites a newer count; serial pieces get their own actions; the unit's
labels go offline without the book during a blind count; a stocktake is counted and
submitted from the phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from inventory import counts
from inventory.models import Asset, Count, Movement, Position
from labels import services as lab
from readiness.models import AuditEntry, User
from tests.conftest import csrf_token, post_form


def key(n: int) -> str:
    return f"phone-key-{n:08d}-abcdef"


@pytest.fixture
def shelf(session, make_unit, make_item, make_user, stock):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    kits = make_item("KIT", name="急救包", uom="个")
    stock(wh, kits, 38)
    pump = make_item("PUMP", name="排水泵", uom="台", tracking="serial")
    stock(wh, pump, 1, serials=["PUMP-2021-01"])
    make_user("keeper1", "keeper", wh)
    make_user("keeper2", "keeper", wh)
    position = session.scalar(select(Position).where(Position.item_id == kits.id))
    asset = session.scalar(select(Asset))
    codes = {
        "kit": lab.label_for_position(session, position).code,
        "pump": lab.label_for_asset(session, asset).code,
    }
    session.commit()
    return {"unit": wh, "codes": codes, "position": position, "asset": asset}


class Phone:
    """The scan page's script: JSON posts with the page's CSRF token in a header."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client, "/scan")

    def post(self, path: str, body: dict):
        return self.client.post(path, json=body, headers={"X-CSRFToken": self.token})

    def act(self, code: str, action: str, qty=1, n: int = 1, **extra):
        body = {"code": code, "action": action, "qty": qty, "request_key": key(n), **extra}
        body.setdefault("device_at", datetime.now(UTC).isoformat())
        return self.post("/scan/act", body)


@pytest.fixture
def phone(login, shelf):
    return Phone(login("keeper1"))


def test_an_issue_sent_twice_is_recorded_once_with_the_phones_time(phone, shelf, session):
    tapped = (datetime.now(UTC) - timedelta(minutes=7)).replace(microsecond=0)
    code = shelf["codes"]["kit"].lower()  # as typed
    first = phone.act(code, "issue", 3, device_at=tapped.isoformat())
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["result"] == "recorded" and answer["unit_total"] == 35
    assert answer["message"] == "出库 3 个急救包，本单位现有 35 个。"
    assert answer["undo_until"] is not None
    again = phone.act(code, "issue", 3, device_at=tapped.isoformat()).get_json()
    assert again["result"] == "already" and again["unit_total"] == 35
    [movement] = session.scalars(select(Movement).where(Movement.request_key == key(1))).all()
    assert movement.device_at == tapped and movement.at > tapped  # both times kept
    assert (
        session.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "issue"))
        == 1
    )
    # the same key for something else is refused, never silently taken as done
    other = phone.act(code, "issue", 5, device_at=tapped.isoformat())
    assert other.status_code == 409 and other.get_json()["error"]["message"]


def test_a_receipt_says_its_direction_and_an_issue_beyond_the_stock_says_why(phone, shelf):
    r = phone.act(shelf["codes"]["kit"], "receipt", 2, n=2).get_json()
    assert r["message"].startswith("入库 2 个急救包") and r["unit_total"] == 40
    refused = phone.act(shelf["codes"]["kit"], "issue", 99, n=3)
    assert 400 <= refused.status_code < 500
    assert "不足" in refused.get_json()["error"]["message"]


def test_an_issue_is_undone_by_a_reversing_line_within_the_minute(phone, shelf, session, login):
    phone.act(shelf["codes"]["kit"], "issue", 3)
    r = phone.post("/scan/undo", {"request_key": key(1)})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["unit_total"] == 38 and "已撤销出库 3 个急救包" in r.get_json()["message"]
    lines = session.scalars(select(Movement).order_by(Movement.id)).all()
    issue, reversal = lines[-2], lines[-1]
    assert (issue.kind, issue.qty) == ("issue", -3)  # kept, never deleted
    assert (reversal.kind, reversal.qty, reversal.reverses_id) == ("reversal", 3, issue.id)
    assert "movement.undo" in session.scalars(select(AuditEntry.action)).all()
    assert phone.post("/scan/undo", {"request_key": key(1)}).status_code == 409  # once
    # another keeper cannot undo someone else's line
    phone.act(shelf["codes"]["kit"], "issue", 1, n=2)
    other = Phone(login("keeper2"))
    assert other.post("/scan/undo", {"request_key": key(2)}).status_code == 403


def test_after_the_minute_undo_is_refused_saying_what_to_do(session, shelf):
    from inventory import ledger

    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    ledger.record_movement(
        session,
        unit=shelf["unit"],
        item=shelf["position"].item,
        kind="issue",
        qty=1,
        request_key=key(9),
        actor=keeper,
    )
    later = datetime.now(UTC) + timedelta(seconds=61)
    with pytest.raises(Exception) as err:
        ledger.undo_movement(session, key(9), actor=keeper, now=later)
    assert "超过 1 分钟" in err.value.message


def test_the_label_page_offers_undo_and_issue_and_receipt_look_different(login, shelf):
    client = login("keeper1")
    code = shelf["codes"]["kit"]
    page = client.get(f"/l/{code}").get_data(as_text=True)
    assert 'class="button move-out"' in page and 'class="button move-in"' in page
    post_form(client, f"/l/{code}/move", {"kind": "issue", "qty": "2", "request_key": key(4)})
    page = client.get(f"/l/{code}").get_data(as_text=True)
    assert "出库 2 个急救包，本单位现有 36 个。" in page and "撤销刚才这一笔" in page
    r = post_form(client, "/scan/undo", {"request_key": key(4), "code": code})
    assert r.location == f"/l/{code}"
    page = client.get(f"/l/{code}").get_data(as_text=True)
    assert "已撤销出库 2 个急救包，本单位现有 38 个。" in page and "撤销刚才这一笔" not in page


def test_a_resent_count_never_overwrites_a_newer_one(phone, shelf, session):
    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    count = counts.start_count(session, shelf["unit"], actor=keeper)
    session.commit()
    code = shelf["codes"]["kit"]
    now = datetime.now(UTC)
    r = phone.act(code, "count", 37, n=1, count=count.id, device_at=now.isoformat())
    assert r.get_json()["result"] == "recorded" and "盘点第" in r.get_json()["message"]
    # an older count from a phone that was offline arrives afterwards: refused, kept visible
    stale = phone.act(
        code, "count", 30, n=2, count=count.id, device_at=(now - timedelta(minutes=20)).isoformat()
    )
    assert (
        stale.status_code == 409 and "较新的数不被旧数覆盖" in stale.get_json()["error"]["message"]
    )
    session.expire_all()
    line = next(ln for ln in session.get(Count, count.id).lines if ln.item.code == "KIT")
    assert line.counted == 37 and line.counted_on_device_at is not None


def test_a_spot_count_resent_is_recorded_once(phone, shelf, session):
    code = shelf["codes"]["kit"]
    assert phone.act(code, "count", 38, n=5).get_json()["result"] == "recorded"
    assert phone.act(code, "count", 38, n=5).get_json()["result"] == "already"
    assert session.scalar(select(func.count()).select_from(Count)) == 1


def test_a_serial_piece_has_its_actions_on_its_own_label(phone, shelf, session, login):
    code = shelf["codes"]["pump"]
    found = phone.client.get(f"/scan/lookup/{code}").get_json()
    assert found["kind"] == "asset" and found["serial"] == "PUMP-2021-01"
    assert found["actions"] == ["test_pass", "test_fail", "issue", "repair", "in_service", "seen"]
    page = phone.client.get(f"/l/{code}").get_data(as_text=True)
    assert "不在您的单位账上" not in page and "确认在位" in page and "送修" in page
    assert (
        phone.act(code, "repair", n=6).get_json()["message"]
        == "排水泵 PUMP-2021-01 已设为“维修中”。"
    )
    assert phone.act(code, "repair", n=7).get_json()["result"] == "already"
    assert phone.act(code, "seen", n=8).get_json()["result"] == "recorded"
    session.expire_all()
    asset = session.get(Asset, shelf["asset"].id)
    assert asset.status == "under_repair" and asset.last_seen_at is not None
    r = post_form(
        phone.client, f"/l/{code}/piece", {"action": "in_service", "request_key": key(10)}
    )
    assert r.location == f"/l/{code}"
    session.expire_all()
    assert session.get(Asset, shelf["asset"].id).status == "in_service"


def test_the_offline_pack_hides_the_book_during_a_blind_count(phone, shelf, session, make_unit):
    pack = phone.client.get("/scan/offline.json").get_json()
    assert pack["unit"]["code"] == "WH" and pack["count"] is None
    assert pack["labels"][shelf["codes"]["kit"]]["book"] == 38
    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    count = counts.start_count(session, shelf["unit"], actor=keeper)
    count.is_blind = True
    session.commit()
    pack = phone.client.get("/scan/offline.json").get_json()
    assert pack["blind"] is True and pack["count"] == count.id
    assert all(entry["book"] is None for entry in pack["labels"].values())
    make_unit("OTHER", parent=None)
    assert phone.client.get("/scan/offline.json?unit=OTHER").status_code == 403


def test_a_stocktake_is_started_counted_and_submitted_from_the_phone(phone, shelf, session):
    r = post_form(phone.client, "/scan/count/start", {})
    count = session.scalar(select(Count))
    assert r.location == f"/scan?count={count.id}"
    progress = phone.client.get(f"/scan/count/{count.id}/progress.json").get_json()
    assert (progress["counted"], progress["total"]) == (0, 2)
    refused = phone.post(progress["submit_url"], {})
    assert refused.status_code == 422 and "急救包" in refused.get_json()["error"]["message"]
    for n, name in enumerate(("kit",), start=20):
        phone.act(shelf["codes"][name], "count", 38, n=n, count=count.id)
    pump_line = next(ln for ln in count.lines if ln.item.code == "PUMP")
    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    counts.enter_count(session, count, pump_line.item, None, 1, actor=keeper)
    session.commit()
    progress = phone.client.get(f"/scan/count/{count.id}/progress.json").get_json()
    assert progress["counted"] == 2
    done = phone.post(progress["submit_url"], {})
    assert done.status_code == 200 and done.get_json()["result"] == "submitted"
    session.expire_all()
    assert session.get(Count, count.id).status == "submitted"


def test_bad_requests_from_the_phone_change_nothing_and_say_why(phone, shelf, session):
    before = session.scalar(select(func.count()).select_from(Movement))
    code = shelf["codes"]["kit"]
    cases = [
        ({"code": code, "action": "issue", "qty": 1, "request_key": "short"}, "request_key"),
        (
            {
                "code": code,
                "action": "issue",
                "qty": 1,
                "request_key": key(30),
                "device_at": "yesterday",
            },
            "device_at",
        ),
        (
            {
                "code": code,
                "action": "issue",
                "qty": 1,
                "request_key": key(31),
                "device_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            },
            "device_at",
        ),
        ({"code": code, "action": "explode", "qty": 1, "request_key": key(32)}, "action"),
        ({"code": code, "action": "issue", "qty": "三", "request_key": key(33)}, "qty"),
    ]
    for body, field in cases:
        r = phone.post("/scan/act", body)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, (
            body,
            r.get_json(),
        )
    assert (
        phone.post(
            "/scan/act", {"code": "ZZZZZZZZZZ", "action": "issue", "qty": 1, "request_key": key(34)}
        ).status_code
        == 404
    )
    no_token = phone.client.post("/scan/act", json={"code": code})
    assert no_token.status_code == 400 and no_token.get_json()["error"]["code"] == "csrf_error"
    assert session.scalar(select(func.count()).select_from(Movement)) == before


def test_the_app_installs_and_its_worker_may_serve_every_page(client):
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.get_json()["start_url"] == "/scan"


def test_the_ledger_shows_the_phones_time_beside_the_time_received(phone, shelf, session):
    import csv
    import io

    tapped = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    phone.act(shelf["codes"]["kit"], "issue", 1, n=40, device_at=tapped.isoformat())
    page = phone.client.get("/stock/WH/items/KIT").get_data(as_text=True)
    assert "手机记录" in page
    # oldest first: the phone's line is the last
    ledger = phone.client.get("/ledger?format=csv&sort=time&dir=asc")
    rows = list(csv.reader(io.StringIO(ledger.data.decode("utf-8-sig"))))
    assert rows[0][-1] == "手机记录时间"
    assert rows[-1][-1] == "2026-12-01 02:30" and rows[-1][1] != rows[-1][-1]


def test_a_scripts_refusals_are_json_even_for_a_lookup_or_when_signed_out(phone, shelf, app):
    wanted = {"Accept": "application/json"}
    r = phone.client.get("/scan/lookup/ZZZZZZZZZZ", headers=wanted)
    assert r.status_code == 404 and "不存在" in r.get_json()["error"]["message"]
    client = app.test_client()  # nobody signed in
    signed_out = client.get(f"/scan/lookup/{shelf['codes']['kit']}", headers=wanted)
    assert signed_out.status_code == 401 and signed_out.get_json()["error"]["code"]
    # a browser that asks for a page still gets the sign-in page
    assert client.get("/scan").status_code == 302


def test_the_same_action_sent_at_the_same_moment_from_two_tabs_is_recorded_once(
    app, shelf, session, login
):
    """Two tabs (or a retry racing the first try) post one key at once: every answer says
    recorded or already, never a refusal, and the ledger holds one line."""
    import threading

    phone = Phone(login("keeper1"))
    cookie = phone.client.get_cookie("session")
    body = {
        "code": shelf["codes"]["kit"],
        "action": "issue",
        "qty": 2,
        "request_key": key(50),
        "device_at": datetime.now(UTC).isoformat(),
    }
    count_body = {**body, "action": "count", "qty": 38, "request_key": key(51)}
    answers = []

    def send(payload):
        client = app.test_client()
        client.set_cookie("session", cookie.value)
        answers.append(client.post("/scan/act", json=payload, headers={"X-CSRFToken": phone.token}))

    threads = [threading.Thread(target=send, args=(b,)) for b in [body] * 4 + [count_body] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted({r.status_code for r in answers}) == [200], [r.get_json() for r in answers]
    results = [r.get_json()["result"] for r in answers]
    assert results.count("recorded") == 2 and results.count("already") == 6
    assert (
        session.scalar(
            select(func.count()).select_from(Movement).where(Movement.request_key == key(50))
        )
        == 1
    )
    assert (
        session.scalar(select(func.count()).select_from(Count).where(Count.request_key == key(51)))
        == 1
    )

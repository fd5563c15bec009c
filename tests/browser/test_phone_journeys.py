"""The phone's scan page with a camera: a keeper counts a stocktake by pointing the camera at
the printed labels and submits it; offline, the phone keeps what was tapped in its outbox and,
back online, sends each action once, showing the one the server refused with its reason."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from playwright.sync_api import expect
from sqlalchemy import func, select

from inventory import ledger
from inventory.models import Count, Movement
from readiness.models import AuditEntry, User
from tests.browser.camera import label_clip, print_labels, read_y4m
from tests.browser.test_drill_journey import sign_in

NAMES = {"LJ": "救生衣", "TAPE": "警戒带", "BAG": "吸水沙袋"}
UOMS = {"LJ": "件", "TAPE": "盘", "BAG": "袋"}
# what the keeper counts: the jackets differ from the book, a variance for the approver
COUNTED = {"LJ": 39, "TAPE": 12, "BAG": 30}


@pytest.fixture
def warehouse(session, make_unit, make_item, make_user, stock):
    """A keeper's warehouse with three positions, and a second keeper at the desk."""
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    items = {code: make_item(code, name=name, uom=UOMS[code]) for code, name in NAMES.items()}
    for code, qty in (("LJ", 40), ("TAPE", 12), ("BAG", 30)):
        stock(wh, items[code], qty)
    make_user("keeper1", "keeper", wh, name="赵磊")
    make_user("keeper2", "keeper", wh, name="钱伟")
    return {"unit": wh, "items": items}


@pytest.fixture
def printed(app, session, warehouse):
    """The warehouse's labels printed on a thermal roll: {label code: item code}, and the PDF."""
    targets, pdf = print_labels(session, warehouse["unit"], app.config["BASE_URL"])
    session.commit()
    return {t.label.code: t.item.code for t in targets}, pdf


@pytest.fixture
def clip(printed, tmp_path):
    """The printed labels filmed one after another, grey between them."""
    return label_clip(tmp_path / "labels.y4m", printed[1])


def count_rows(session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery()))


def test_the_clip_shows_each_printed_label_readably_with_grey_between(printed, clip):
    seen: list[str | None] = []
    for frame in read_y4m(clip):
        found = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.QRCode)
        code = found[0].text.rsplit("/l/", 1)[-1] if found else None
        if not seen or seen[-1] != code:
            seen.append(code)
    assert seen == [shown for code in printed[0] for shown in (code, None)]


def test_a_stocktake_is_counted_by_the_phones_camera_and_submitted(
    camera_phone, live_server, printed, clip, session, screenshot
):
    codes = printed[0]
    phone = camera_phone(clip)
    sign_in(phone, live_server.url, "keeper1")
    phone.goto(live_server.url + "/scan")
    phone.click("#count-start")
    expect(phone.locator(".flash-success")).to_contain_text("进行中")
    count = session.scalar(select(Count).where(Count.is_spot.is_(False)))
    assert phone.url.endswith(f"/scan?count={count.id}") and count.is_blind
    expect(phone.locator("#scan-action input[value=count]")).to_be_checked()
    expect(phone.locator("body")).to_have_attribute("data-scan-ready", "1")

    # the camera reads the labels as they pass; each is counted once, whatever the order
    card, qty, message = (phone.locator(s) for s in ("#scan-card", "#scan-qty", "#scan-message"))
    counted: list[str] = []
    for _shown in range(9):
        if len(counted) == 3:
            break
        expect(card).to_be_visible(timeout=10_000)
        item = phone.locator("#scan-card-item code").inner_text()
        if item in counted:  # the clip came round again
            phone.click("#scan-next")
            continue
        assert codes[phone.locator("#scan-app").get_attribute("data-last-scan")] == item
        expect(qty).to_have_value("")  # blind: nothing to confirm without counting
        expect(card).to_contain_text("盲盘：不显示账面数量")
        qty.fill(str(COUNTED[item]))
        phone.click("#scan-confirm")
        counted.append(item)
        expect(message).to_contain_text(f"已计入盘点第 {count.id} 号：{COUNTED[item]} ")
    assert sorted(counted) == sorted(COUNTED)

    expect(phone.locator("#count-summary")).to_have_text("已点 3 项，共 3 项。")
    expect(phone.locator("#count-unscanned-title")).to_have_text("全部货位已点数，可以提交盘点。")
    expect(phone.locator("#count-unscanned li")).to_have_count(0)
    log = phone.locator("#scan-log li")
    expect(log).to_have_count(3)
    for item, name in NAMES.items():
        row = log.filter(has_text=name)
        expect(row).to_have_attribute("data-state", "recorded")
        expect(row).to_have_attribute("data-action", "count")
        expect(row).to_contain_text(f"{COUNTED[item]} {UOMS[item]}")
    screenshot(phone)

    phone.click("#count-submit")
    expect(phone.locator(".flash-success")).to_contain_text(f"盘点第 {count.id} 号已提交审批。")
    session.expire_all()
    count = session.get(Count, count.id)
    assert count.status == "submitted"
    assert {ln.item.code: ln.counted for ln in count.lines} == COUNTED
    assert all(ln.counted_on_device_at is not None for ln in count.lines)
    entered = session.scalars(
        select(AuditEntry.after).where(
            AuditEntry.action == "count.enter", AuditEntry.object_id == str(count.id)
        )
    ).all()
    assert sorted(e["item"] for e in entered) == sorted(COUNTED)  # each line entered once


def test_offline_actions_wait_in_the_outbox_and_are_sent_once_or_refused_with_the_reason(
    phone_page, live_server, printed, warehouse, session, screenshot
):
    code_of = {item: code for code, item in printed[0].items()}
    phone = phone_page
    card, message = phone.locator("#scan-card"), phone.locator("#scan-message-text")
    outbox = phone.locator("#outbox-list li")
    sign_in(phone, live_server.url, "keeper1")
    phone.goto(live_server.url + "/scan")
    phone.click("#offline-download")
    expect(phone.locator("#offline-status")).to_contain_text("已存 3 个标签")

    def tap(action: str, item: str, qty: int):
        """Choose the session's action, type the label's code, enter the quantity, confirm."""
        phone.check(f"#scan-action input[value={action}]")
        phone.fill("#code", code_of[item].lower())
        phone.press("#code", "Enter")
        expect(card).to_be_visible()
        expect(phone.locator("#scan-card-item code")).to_have_text(item)
        phone.fill("#scan-qty", str(qty))
        phone.click("#scan-confirm")

    phone.context.set_offline(True)
    tap("issue", "LJ", 2)
    expect(message).to_contain_text("未联网，已存入待发送")
    tap("count", "TAPE", 12)
    phone.check("#scan-action input[value=issue]")
    phone.fill("#code", code_of["BAG"])
    phone.press("#code", "Enter")
    expect(phone.locator("#scan-card-note")).to_contain_text("未联网：来自")  # the offline pack
    phone.fill("#scan-qty", "20")
    phone.click("#scan-confirm")
    expect(phone.locator("#outbox")).to_have_attribute("data-waiting", "3")
    # the page opened again without network comes from the phone, its outbox kept
    phone.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    assert phone.reload().from_service_worker
    expect(phone.locator("#outbox")).to_have_attribute("data-waiting", "3")
    expect(phone.locator("#outbox-count")).to_have_text("待发送 3 条")
    expect(phone.locator("#outbox-list li[data-state=queued]")).to_have_count(3)
    jackets = outbox.filter(has_text=NAMES["LJ"])
    expect(jackets).to_have_attribute("data-action", "issue")
    expect(jackets).to_contain_text("2 件")
    keys = {
        item: outbox.filter(has_text=name).get_attribute("data-key") for item, name in NAMES.items()
    }
    assert count_rows(session, select(Movement).where(Movement.request_key.is_not(None))) == 0

    # meanwhile another keeper issues most of the sand bags at the desk
    keeper2 = session.scalar(select(User).where(User.username == "keeper2"))
    bags = warehouse["items"]["BAG"]
    other = ledger.record_movement(
        session, unit=warehouse["unit"], item=bags, kind="issue", qty=25, actor=keeper2
    ).movement
    session.commit()

    phone.context.set_offline(False)  # the page hears "online" and sends what waits
    expect(phone.locator("#outbox")).to_have_attribute("data-waiting", "0")
    expect(outbox.filter(has_text=NAMES["LJ"])).to_have_attribute("data-state", "recorded")
    expect(outbox.filter(has_text=NAMES["TAPE"])).to_have_attribute("data-state", "recorded")
    refused = outbox.filter(has_text=NAMES["BAG"])
    expect(refused).to_have_attribute("data-state", "refused")
    expect(refused).to_contain_text(re.compile("被拒绝：.*账面只有 5 袋，不足 20 袋"))
    screenshot(phone, "back-online")

    def recorded_once() -> Movement:
        session.expire_all()
        [issue] = session.scalars(select(Movement).where(Movement.request_key == keys["LJ"])).all()
        assert (issue.kind, issue.qty) == ("issue", -2)
        [spot] = session.scalars(select(Count).where(Count.request_key == keys["TAPE"])).all()
        assert spot.is_spot and spot.lines[0].counted == 12
        assert count_rows(session, select(Movement).where(Movement.request_key == keys["BAG"])) == 0
        assert count_rows(session, select(Movement).where(Movement.kind == "issue")) == 2
        return issue

    issue = recorded_once()
    # tapped offline before the other keeper's issue, received after it: both times kept
    assert issue.device_at < other.at < issue.at

    # sending again, or opening the page again, doubles nothing
    phone.click("#outbox-send")
    phone.reload()
    expect(phone.locator("#outbox")).to_have_attribute("data-waiting", "0")
    expect(outbox).to_have_count(1)  # the sent ones are done; the refused one stays
    expect(outbox.first).to_contain_text("不足 20 袋")
    recorded_once()

    # an issue made by mistake is undone within the minute, by a reversing line
    tap("issue", "LJ", 1)
    expect(message).to_have_text("出库 1 件救生衣，本单位现有 37 件。")
    phone.click("#undo")
    expect(message).to_have_text("已撤销出库 1 件救生衣，本单位现有 38 件。")
    session.expire_all()
    reversal, mistake = session.scalars(select(Movement).order_by(Movement.id.desc()).limit(2))
    assert (mistake.kind, mistake.qty) == ("issue", -1)  # kept, never deleted
    assert (reversal.kind, reversal.qty, reversal.reverses_id) == ("reversal", 1, mistake.id)
    assert ledger.unit_total(session, warehouse["unit"].id, warehouse["items"]["LJ"].id) == 38

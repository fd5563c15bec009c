"""A keeper prints the labels of the warehouse, and a phone that reads one of the printed QR
codes opens that shelf's page, where one tap issues stock."""

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect
from sqlalchemy import select

from inventory.models import Item, Movement, Position
from labels.models import LabelCode
from tests.browser.test_drill_journey import sign_in
from tests.labels.test_services import decode_pages


def test_keeper_prints_labels_then_scans_one_on_a_phone(
    page, phone_page, live_server, make_unit, make_item, make_user, stock, session, screenshot
):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    jackets = make_item("LJ", name="救生衣", uom="件")
    tape = make_item("TAPE", name="警戒带", uom="盘")
    stock(wh, jackets, 40)
    stock(wh, tape, 12)
    make_user("keeper1", "keeper", wh, name="赵磊")
    from labels.services import save_profile
    from readiness.permissions import SYSTEM

    save_profile(
        session,
        wh,
        {"name": "库区热敏机", "layout": "thermal-50x30", "output": "tspl"},
        actor=SYSTEM,
    )
    session.commit()
    sign_in(page, live_server.url, "keeper1")
    page.goto(live_server.url + "/labels")
    # the skip box follows the layout: 0 to 23 on a 3×8 sheet, none on a thermal roll
    expect(page.locator("#skip")).to_have_attribute("max", "23")
    page.select_option("#layout", "a4-3x7")
    expect(page.locator("#skip")).to_have_attribute("max", "20")
    # choosing the thermal printer brings its stock and its language
    page.select_option("#profile", label="库区热敏机 · 应急物资中心仓库")
    expect(page.locator("#layout")).to_have_value("thermal-50x30")
    expect(page.locator("#output")).to_have_value("tspl")
    expect(page.locator("#skip")).to_be_disabled()
    # back to no printer, A4 3×8 as PDF
    page.select_option("#profile", "")
    page.select_option("#layout", "a4-3x8")
    page.select_option("#output", "pdf")
    with page.expect_download() as download:
        page.click("button:has-text('生成')")
    pdf = Path(download.value.path()).read_bytes()
    [codes] = decode_pages(pdf)
    urls = sorted(text for text, _x, _y in codes)
    assert len(urls) == 2 and all("/l/" in u for u in urls)

    # the phone's camera reads one label and opens its page
    phone = phone_page
    sign_in(phone, live_server.url, "keeper1")
    for url in urls:
        phone.goto(live_server.url + urlsplit(url).path)
        if "警戒带" in phone.locator(".scan-item").inner_text():
            break
    expect(phone.locator(".scan-qty")).to_have_text("12 盘")
    phone.fill("#qty", "3")
    phone.click("button[name=kind][value=issue]")
    # the message says which way stock moved and the unit's total, with an undo for a minute
    expect(phone.locator(".flash-success")).to_have_text("出库 3 盘警戒带，本单位现有 9 盘。")
    expect(phone.locator(".scan-qty")).to_have_text("9 盘")
    screenshot(phone)
    # made for a thumb on a 360 px screen: nothing scrolls sideways, buttons are 56 px high
    # and 8 px apart, the header is one row
    phone.set_viewport_size({"width": 360, "height": 740})
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    boxes = [phone.locator(sel).bounding_box() for sel in (".move-out", ".move-in", "#undo")]
    assert all(box["height"] >= 56 for box in boxes), boxes
    out, into = boxes[0], boxes[1]
    apart = max(into["x"] - (out["x"] + out["width"]), into["y"] - (out["y"] + out["height"]))
    assert apart >= 8, (out, into)
    assert phone.locator(".topbar").bounding_box()["height"] <= 64
    phone.click("#undo")
    expect(phone.locator(".flash-success")).to_contain_text("已撤销出库 3 盘警戒带")
    expect(phone.locator(".scan-qty")).to_have_text("12 盘")
    # the scan page too: no sideways scrolling, every visible button a thumb's size
    phone.goto(live_server.url + "/scan")
    expect(phone.locator("#offline-download")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    for button in phone.locator("main button:visible").all():
        assert button.bounding_box()["height"] >= 48, button.inner_text()
    kinds = session.scalars(select(Movement.kind).order_by(Movement.id)).all()
    assert kinds[-2:] == ["issue", "reversal"] and kinds.count("issue") == 1


def test_keeper_ticks_rows_of_the_stock_page_and_prints_exactly_those(
    page, live_server, make_unit, make_item, make_user, stock, session
):
    """全选 ticks every row, one click takes one off, and the sheet holds the labels of the
    rows left ticked."""
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    stock(wh, make_item("LJ", name="救生衣", uom="件"), 40)
    stock(wh, make_item("TAPE", name="警戒带", uom="盘"), 12)
    stock(wh, make_item("SB", name="吸水沙袋", uom="个"), 100, lot_code="SB-2024-A")
    make_user("keeper1", "keeper", wh, name="赵磊")
    session.commit()
    sign_in(page, live_server.url, "keeper1")
    page.goto(live_server.url + "/stock/WH")
    everything = page.locator("input[data-select-all]")
    rows = page.locator("input[name=position]")
    expect(rows).to_have_count(3)
    everything.check()
    for i in range(3):
        expect(rows.nth(i)).to_be_checked()
    page.locator("tr", has_text="警戒带").locator("input[name=position]").uncheck()
    # no longer all ticked: the box says so (neither ticked nor clear)
    assert everything.evaluate("box => box.indeterminate && !box.checked")
    page.click("button:has-text('打印所选标签')")
    expect(page.locator("#selection h2")).to_have_text("已选 2 个标签")
    expect(page.locator("#selection")).to_contain_text("救生衣")
    expect(page.locator("#selection")).not_to_contain_text("警戒带")
    page.select_option("#layout", "a4-3x8")
    page.select_option("#output", "pdf")
    with page.expect_download() as download:
        page.click("button:has-text('生成')")
    [codes] = decode_pages(Path(download.value.path()).read_bytes())
    printed = {urlsplit(url).path.rsplit("/", 1)[-1] for url, _x, _y in codes}
    session.expire_all()
    items = session.scalars(
        select(Item.code)
        .join(Position, Position.item_id == Item.id)
        .join(LabelCode, LabelCode.position_id == Position.id)
        .where(LabelCode.code.in_(printed))
    ).all()
    assert sorted(items) == ["LJ", "SB"]

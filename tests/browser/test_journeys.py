"""Journeys in a real browser: sign in, switch language, record stock on a phone."""

from playwright.sync_api import expect
from sqlalchemy import select

from inventory.models import Position
from tests.conftest import PASSWORD


def sign_in(page, username):
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")


def test_sign_in_lands_on_home_in_chinese(page, live_server, make_unit, make_user, screenshot):
    station = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", station, name="陈刚")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/login?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("登录")
    sign_in(page, "clerk1")
    expect(page.locator("h1")).to_contain_text("您好，陈刚")
    expect(page.locator(".userbox")).to_contain_text("大冶派出所")
    screenshot(page)


def test_wrong_password_is_explained(page, live_server, make_user):
    make_user("cmd1", "command", None)
    page.goto(live_server.url + "/login")
    page.fill("#username", "cmd1")
    page.fill("#password", "not-the-password")
    page.click("main button[type=submit]")
    expect(page.locator(".error")).to_have_text("用户名或密码不正确；多次失败后需等待几分钟再试。")
    expect(page).to_have_url(live_server.url + "/login")


def test_switching_to_english(page, live_server, make_user, screenshot):
    make_user("cmd1", "command", None)
    page.goto(live_server.url + "/login")
    page.click("button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Sign in")
    sign_in(page, "cmd1")
    expect(page.locator("h1")).to_contain_text("Hello")
    screenshot(page)


def test_clerk_records_a_receipt_and_an_issue_on_a_phone(
    phone_page, live_server, make_unit, make_item, make_user, session, screenshot
):
    page = phone_page
    station = make_unit("DAYE", name="大冶派出所")
    make_item("LJ", name="救生衣", uom="件")
    make_user("clerk1", "clerk", station)
    page.goto(live_server.url + "/stock/DAYE/record")
    sign_in(page, "clerk1")
    expect(page).to_have_url(live_server.url + "/stock/DAYE/record")
    # Nothing spills sideways on a phone.
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.select_option("#kind", "receipt")
    page.select_option("#item", "LJ")
    page.fill("#qty", "6")
    page.click("main button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已入库 6 件救生衣；本单位合计 6 件")
    page.goto(live_server.url + "/stock/DAYE/record")
    page.select_option("#kind", "issue")
    page.select_option("#item", "LJ")
    page.fill("#qty", "9")
    page.click("main button[type=submit]")
    expect(page.locator(".error")).to_contain_text("账面合计只有 6 件，不够出库 9 件")
    page.fill("#qty", "2")
    page.click("main button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已出库 2 件救生衣；本单位合计 4 件")
    screenshot(page)
    session.expire_all()
    assert session.scalars(select(Position.qty)).one() == 4


def test_keeper_scans_a_label_on_a_phone_and_counts_it(
    phone_page, live_server, make_unit, make_item, make_user, session, stock, screenshot
):
    from inventory import counts
    from labels import services as lab

    page = phone_page
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    item = make_item("LJ", name="救生衣", uom="件")
    keeper = make_user("keeper1", "keeper", wh)
    stock(wh, item, 12)
    count = counts.start_count(session, wh, actor=keeper)
    code = lab.label_for_position(session, session.scalar(select(Position))).code
    session.commit()
    # The phone's camera opens the URL in the QR code.
    page.goto(f"{live_server.url}/l/{code}")
    sign_in(page, "keeper1")
    expect(page).to_have_url(f"{live_server.url}/l/{code}")
    expect(page.locator(".scan-item")).to_contain_text("救生衣")
    # A blind stocktake is running: the counter does not see the book (12).
    expect(page.locator(".scan-qty")).to_have_count(0)
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.fill("#counted", "11")  # tap one: the number
    page.click("text=确认点数")  # tap two: confirm
    expect(page.locator(".flash-success")).to_contain_text(f"已计入盘点第 {count.id} 号")
    screenshot(page, "scan")
    page.goto(f"{live_server.url}/counts/{count.id}")
    expect(page.locator("input[name^=line-]")).to_have_value("11")
    expect(page.locator("strong.bad")).to_have_count(0)  # the variance shows once submitted
    screenshot(page, "count")

"""A station records a drill with its findings in the browser; the fix is closed only with
evidence and by someone else."""

from playwright.sync_api import expect
from sqlalchemy import select

from drills.models import CorrectiveAction
from tests.conftest import PASSWORD


def sign_in(page, url, username):
    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")


def test_record_a_drill_then_done_with_evidence_then_verified_by_another(
    browser, live_server, make_unit, make_user, session, screenshot
):
    station = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", station, name="陈刚")
    make_user("owner1", "clerk", station, name="张队长")
    make_user("insp1", "inspector", None, name="督察刘")
    url = live_server.url

    clerk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(clerk, url, "clerk1")
    clerk.goto(url + "/drills/new")
    clerk.fill("#title", "颍河防汛实战演练")
    clerk.select_option("#kind", "field_exercise")
    clerk.fill("#held_on", "2022-07-15")
    clerk.fill("#start_time", "08:30")
    clerk.fill("#end_time", "11:00")
    clerk.fill("#participants", "40")
    clerk.fill("input[name=objective-0]", "30 分钟内完成转移")
    clerk.select_option("select[name=rating-0]", "S")
    clerk.fill("input[name=finding-0]", "对讲机频道未统一")
    clerk.select_option("select[name=owner-0]", "owner1")
    clerk.fill("input[name=due-0]", "2022-09-30")
    clerk.click("main button[type=submit]")
    expect(clerk.locator("h1")).to_have_text("颍河防汛实战演练")
    expect(clerk.locator("main")).to_contain_text("08:30–11:00")
    expect(clerk.locator("main")).to_contain_text("150 分钟")
    expect(clerk.locator("main")).to_contain_text("对讲机频道未统一")
    clerk.context.close()

    action = session.scalar(select(CorrectiveAction))
    owner = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    sign_in(owner, url, "owner1")
    owner.goto(f"{url}/actions/{action.id}")
    owner.click("text=报告完成")  # without evidence: refused
    expect(owner.locator(".flash-error")).to_contain_text("请填写整改证据")
    owner.fill("#evidence", "统一使用 3 号频道，已印发通信保障方案")
    owner.click("text=报告完成")
    expect(owner.locator("main")).to_contain_text("已完成待验证")
    expect(owner.locator("text=核验属实，销号")).to_have_count(0)  # not for the owner
    owner.context.close()

    insp = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(insp, url, "insp1")
    insp.goto(f"{url}/actions/{action.id}")
    insp.click("text=核验属实，销号")
    expect(insp.locator("main")).to_contain_text("已验证销号")
    expect(insp.locator("main")).to_contain_text("督察刘")
    screenshot(insp)
    insp.context.close()

"""From the gap to equipment on the shelf, in Chromium: command staff draft a purchase request
from the shortfall report, add a line and submit it; the leadership's decision is recorded;
another command user approves it against the decision from the reserve fund; the station
posts its delivery and the shortfall shows the gap closed."""

from playwright.sync_api import expect
from sqlalchemy import select

from funding.models import PurchaseRequest
from tests.browser.test_drill_journey import sign_in
from tests.funding.conftest import decide, office  # noqa: F401  (fixtures)


def _as(browser, live_server, username):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(page, live_server.url, username)
    return page


def test_from_the_shortfall_to_a_decided_funded_purchase_that_closes_the_gap(
    browser, live_server, session, screenshot, request
):
    request.getfixturevalue("office")  # tests/funding/conftest.py: a bureau with money
    drafter = _as(browser, live_server, "drafter")
    drafter.goto(live_server.url + "/reports/shortfall")
    drafter.click("button:has-text('按缺口生成购置申请')")
    expect(drafter.locator(".flash-success")).to_contain_text("已生成购置申请草稿")
    # one more line: three pumps for the warehouse (the request now needs a decision)
    rows = drafter.locator("form[action$='/edit'] tbody tr")
    blank = rows.count() - 3
    drafter.fill(f"input[name='unit-{blank}']", "WH")
    drafter.fill(f"input[name='item-{blank}']", "PUMP")
    drafter.fill(f"input[name='qty-{blank}']", "3")
    drafter.fill(f"input[name='unit_price-{blank}']", "8500")
    drafter.click("button:has-text('保存草稿')")
    expect(drafter.locator(".flash-success")).to_contain_text("63,100.00")
    expect(drafter.locator("main")).to_contain_text("陆万叁仟壹佰元整")
    drafter.click("button:has-text('报送审批')")
    expect(drafter.locator("main")).to_contain_text("须由另一位指挥部人员审批")
    request_id = session.scalar(select(PurchaseRequest.id))
    # the secretary records the leadership's meeting: everyone, the head last
    drafter.goto(live_server.url + "/decisions")
    drafter.fill("#subject", "购置防汛装备")
    drafter.fill("#amount", "63100")
    drafter.fill("#decision", "同意购置，从储备金列支")
    drafter.click("button:has-text('保存决策')")
    expect(drafter.locator("main")).to_contain_text("末位表态")
    drafter.context.close()

    approver = _as(browser, live_server, "approver")
    approver.goto(f"{live_server.url}/purchases/{request_id}")
    approver.fill("#approved_amount", "63100")
    approver.click("form[action$='/approve'] button:has-text('批准')")
    expect(approver.locator(".flash-error")).to_contain_text("三重一大")
    expect(approver.locator("#approved_amount")).to_have_value("63100")
    approver.select_option("#decision", index=1)
    approver.click("form[action$='/approve'] button:has-text('批准')")
    expect(approver.locator(".flash-success")).to_contain_text("已批准")
    approver.goto(live_server.url + "/funds")
    expect(approver.locator("main")).to_contain_text("236,900.00")
    screenshot(approver)
    approver.context.close()

    clerk = _as(browser, live_server, "clerk")
    clerk.goto(live_server.url + "/purchases/deliveries")
    row = clerk.locator("tr", has_text="救生衣")
    row.locator("button:has-text('入库')").click()
    expect(clerk.locator(".flash-success")).to_contain_text("已入库 24")
    clerk.goto(live_server.url + "/reports/shortfall?unit=DAYE&item=LJ")
    expect(clerk.locator("table.shortfall tbody tr").first).to_contain_text("100%")
    clerk.context.close()

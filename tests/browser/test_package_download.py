"""The inspection package's downloads are for the dates shown in the fields, even when 预览
was not pressed after changing them (issue 22: the links kept the previous period)."""

from playwright.sync_api import expect

from tests.browser.test_drill_journey import sign_in


def test_download_uses_the_dates_in_the_fields_without_a_new_preview(
    page, browser, live_server, make_unit, make_user
):
    station = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", station, name="陈刚")
    sign_in(page, live_server.url, "clerk1")
    page.goto(live_server.url + "/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31")
    expect(page.locator("main h2")).to_contain_text("2022")
    page.fill("#from", "2021-03-01")
    page.fill("#to", "2021-09-30")
    with page.expect_download() as download:
        page.click("button:has-text('下载 PDF')")
    assert download.value.suggested_filename == "drill-package-DAYE-2021-03-01-2021-09-30.pdf"
    with page.expect_download() as download:
        page.click("button:has-text('下载 ZIP')")
    assert download.value.suggested_filename == "drill-package-DAYE-2021-03-01-2021-09-30.zip"

    # the same without JavaScript: plain form buttons
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    plain = context.new_page()
    try:
        sign_in(plain, live_server.url, "clerk1")
        plain.goto(live_server.url + "/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31")
        plain.fill("#from", "2020-01-01")
        plain.fill("#to", "2020-06-30")
        with plain.expect_download() as download:
            plain.click("button:has-text('下载 PDF')")
        assert download.value.suggested_filename == "drill-package-DAYE-2020-01-01-2020-06-30.pdf"
    finally:
        context.close()

"""Searchable pickers on a phone and radios beside their words (issue 22): a keeper on a
390×844 phone finds an item by typing part of its name, picks it with a tap, and prints the
labels of that item only."""

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_drill_journey import sign_in
from tests.labels.test_services import decode_pages
from tests.shelters.conftest import county, make_site  # noqa: F401  (fixtures)


def _radios_beside_their_words(page):
    """Every radio of 打印内容 is a small box at the left of its own words, on their line."""
    for label in page.locator("fieldset.choices label").all():
        radio = label.locator("input[type=radio]").bounding_box()
        box = label.bounding_box()
        assert radio["width"] <= 24 and radio["height"] <= 24, radio
        # at the label's left edge, and vertically within the label's line
        assert radio["x"] - box["x"] <= 8, (radio, box)
        middle = radio["y"] + radio["height"] / 2
        assert box["y"] <= middle <= box["y"] + box["height"], (radio, box)
        assert box["height"] <= 60, box  # one line, not a box above a centred text


def test_keeper_searches_and_picks_items_on_a_phone(
    phone_page, live_server, make_unit, make_item, make_user, stock, screenshot
):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    jackets = make_item("LJ", name="救生衣", uom="件")
    for n, name in enumerate(["警戒带", "救生圈", "手电筒", "口哨", "破窗器", "雨衣"]):
        stock(wh, make_item(f"I{n}", name=name, uom="件"), 5)
    stock(wh, jackets, 40)
    make_user("keeper1", "keeper", wh, name="赵磊")
    page = phone_page
    sign_in(page, live_server.url, "keeper1")
    page.goto(live_server.url + "/labels")

    _radios_beside_their_words(page)
    # tapping the words chooses the radio
    page.get_by_text("选定的物资", exact=True).tap()
    expect(page.locator("input[name=what][value=items]")).to_be_checked()

    # the Ctrl-click list became a searchable picker; the select stays in the form
    picker = page.locator("#items + .ts-wrapper")
    expect(picker).to_be_visible()
    assert page.locator("#items").bounding_box()["width"] <= 1  # hidden, still in the form
    picker.locator(".ts-control").tap()
    page.keyboard.type("救生")
    options = page.locator(".ts-dropdown .option")
    expect(options).to_have_text(["救生圈 (I1)", "救生衣 (LJ)"])
    options.filter(has_text="救生衣").tap()
    expect(picker.locator(".item")).to_have_text(["救生衣 (LJ)×"])
    assert page.eval_on_selector("#items", "s => [...s.selectedOptions].map(o => o.value)") == [
        "LJ"
    ]
    page.keyboard.press("Escape")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page)

    with page.expect_download() as download:
        page.locator("button:has-text('生成')").tap()
    [codes] = decode_pages(Path(download.value.path()).read_bytes())
    assert len(codes) == 1  # the one position of 救生衣, not the warehouse's seven


def test_the_plain_select_still_works_without_javascript(
    browser, live_server, make_unit, make_item, make_user, stock
):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    stock(wh, make_item("LJ", name="救生衣", uom="件"), 40)
    stock(wh, make_item("TAPE", name="警戒带", uom="盘"), 12)
    make_user("keeper1", "keeper", wh, name="赵磊")
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "keeper1")
        page.goto(live_server.url + "/labels")
        expect(page.locator("#items")).to_be_visible()
        assert page.locator(".ts-wrapper").count() == 0
        page.check("input[name=what][value=items]")
        page.select_option("#items", ["TAPE"])
        with page.expect_download() as download:
            page.click("button:has-text('生成')")
        [codes] = decode_pages(Path(download.value.path()).read_bytes())
        assert len(codes) == 1
    finally:
        context.close()


def test_the_picker_speaks_the_page_language(page, live_server, make_unit, make_item, make_user):
    """Its words come from templates/_picker_strings.html, which base.html includes."""
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    make_item("LJ", name="救生衣", uom="件")
    make_user("keeper1", "keeper", wh, name="赵磊")
    sign_in(page, live_server.url, "keeper1")
    for lang, empty, prompt in (
        ("zh", "没有匹配的选项", "输入文字搜索"),
        ("en", "No match", "Type to search"),
    ):
        page.goto(live_server.url + "/labels")
        page.locator(f"button[name=lang][value={lang}]").click()
        control = page.locator("#items + .ts-wrapper .ts-control")
        expect(control.locator("input")).to_have_attribute("placeholder", prompt)
        control.click()
        page.keyboard.type("无人机")
        expect(page.locator(".ts-dropdown .no-results")).to_have_text(empty)


def test_the_shelter_inspection_radios_sit_beside_their_words(phone_page, live_server, request):
    """The same on the shelter inspection form: 合格 / 不合格 / 不适用 small, left, on a line."""
    towns = request.getfixturevalue("county")
    site = request.getfixturevalue("make_site")(towns["cb"], "礼堂")
    page = phone_page
    sign_in(page, live_server.url, "cbclerk")
    page.goto(live_server.url + f"/shelters/sites/{site.id}/inspections/new")
    labels = page.locator(".shelters-radios label").all()
    assert len(labels) == 15
    for label in labels:
        radio = label.locator("input[type=radio]").bounding_box()
        box = label.bounding_box()
        assert radio["width"] <= 24 and radio["x"] - box["x"] <= 8, (radio, box)
        assert box["height"] <= 60, box
    # tapping the words chooses the radio
    page.locator(".shelters-radios label", has_text="不适用").first.tap()
    expect(page.locator("input[name=check-siting][value=na]")).to_be_checked()

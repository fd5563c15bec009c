"""Signing in on a phone: the login form fits the screen and works.

Signing in on a desktop, the wrong-password message and switching to English
are in test_journeys.py.
"""

from playwright.sync_api import expect

from tests.conftest import PASSWORD

NO_SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"


def test_sign_in_on_a_phone(phone_page, live_server, make_unit, make_user, screenshot):
    page = phone_page
    station = make_unit("BAIPING", name="白坪派出所")
    make_user("clerk1", "clerk", station, name="李明")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/login?next=/")
    expect(page.locator("h1")).to_have_text("登录")
    width = page.evaluate("window.innerWidth")
    for selector in ("#username", "#password", "main button[type=submit]"):
        field = page.locator(selector)
        expect(field).to_be_visible()
        box = field.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box, width)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "login")

    page.locator("#username").tap()
    page.fill("#username", "clerk1")
    page.fill("#password", PASSWORD)
    page.locator("main button[type=submit]").tap()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator(".userbox")).to_contain_text("李明 · 白坪派出所")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "home")

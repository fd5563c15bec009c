"""The movement form adapts to the kind and item chosen (issue 22), through static/forms.js
and data-show-when, with no inline script: a receipt asks for 批次号 and 有效期至, an issue
for 出库批次, a write-off for 报损原因 too, and 序列号 only for an item tracked by piece."""

from playwright.sync_api import expect
from sqlalchemy import select

from inventory.models import Movement
from tests.browser.test_drill_journey import sign_in


def choose_item(page, code: str, name: str) -> None:
    """Choose an item as a user does: through the searchable picker when the page has made
    one of the select (static/picker.js), else in the select itself."""
    page.wait_for_load_state("networkidle")
    picker = page.locator("#item + .ts-wrapper")
    if picker.count():
        picker.locator(".ts-control").click()
        page.keyboard.type(name)
        page.locator(".ts-dropdown .option").filter(has_text=name).click()
    else:
        page.select_option("#item", code)
    expect(page.locator("#item")).to_have_value(code)


def test_the_movement_form_shows_only_what_the_choice_uses(
    page, live_server, make_unit, make_item, make_user, session, screenshot
):
    station = make_unit("DAYE", name="大冶派出所")
    make_item("LJ", name="救生衣", uom="件")
    make_item("UAV", name="无人机", uom="架", tracking="serial")
    make_user("clerk1", "clerk", station)
    sign_in(page, live_server.url, "clerk1")
    page.goto(live_server.url + "/stock/DAYE/record")
    lot, expiry, pick = page.locator("#lot"), page.locator("#expires_on"), page.locator("#lot_pick")
    reason, serials = page.locator("#reason"), page.locator("#serials")

    # a receipt, no item chosen yet
    expect(page.locator("#item")).to_have_value("")
    expect(lot).to_be_visible()
    expect(expiry).to_be_visible()
    for hidden in (pick, reason, serials):
        expect(hidden).to_be_hidden()

    page.select_option("#kind", "write_off")
    expect(pick).to_be_visible()
    expect(reason).to_be_visible()
    expect(lot).to_be_hidden()
    expect(expiry).to_be_hidden()

    page.select_option("#kind", "issue")
    expect(reason).to_be_hidden()
    expect(pick).to_be_visible()

    # an item tracked by piece: serial numbers, no lots
    choose_item(page, "UAV", "无人机")
    expect(serials).to_be_visible()
    expect(pick).to_be_hidden()
    page.select_option("#kind", "receipt")
    expect(lot).to_be_hidden()
    screenshot(page, "serial-receipt")

    # a receipt of a bulk item, recorded through the page
    choose_item(page, "LJ", "救生衣")
    expect(serials).to_be_hidden()
    expect(lot).to_be_visible()
    page.fill("#qty", "3")
    page.fill("#lot", "LJ-2026")
    page.click("main button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已入库 3 件救生衣")
    session.expire_all()
    assert session.scalars(select(Movement.qty)).one() == 3


def test_the_lot_picker_offers_the_chosen_items_lots(
    page, live_server, make_unit, make_item, make_user, stock
):
    station = make_unit("DAYE", name="大冶派出所")
    jackets = make_item("LJ", name="救生衣", uom="件")
    ropes = make_item("RP", name="救生绳", uom="根")
    stock(station, jackets, 5, lot_code="LJ-1")
    stock(station, ropes, 2, lot_code="RP-1")
    make_user("clerk1", "clerk", station)
    sign_in(page, live_server.url, "clerk1")
    page.goto(live_server.url + "/stock/DAYE/record?kind=issue")
    offered = "Array.from(document.querySelectorAll('#lot_pick option'))"
    visible = f"{offered}.filter(o => !o.hidden).map(o => o.value)"
    assert page.evaluate(visible) == ["", "LJ-1", "RP-1"]  # no item yet: every lot
    page.select_option("#lot_pick", "RP-1")
    choose_item(page, "LJ", "救生衣")
    assert page.evaluate(visible) == ["", "LJ-1"]
    expect(page.locator("#lot_pick")).to_have_value("")  # the rope's lot no longer fits

"""Command staff approve an allocation over the collective-decision threshold (two people must);
an inspector downloads the shortfall PDF and the drill inspection package."""

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect

from inventory import allocations as alloc
from inventory import standard
from inventory.models import Allocation
from readiness.permissions import SYSTEM
from tests.browser.test_drill_journey import sign_in
from tests.inventory.test_api import pdf_text


def test_two_command_staff_approve_an_allocation_over_the_threshold(
    browser, live_server, make_unit, make_item, make_user, stock, session, screenshot
):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    st = make_unit("DAYE", name="大冶派出所")
    boats = make_item("BOAT", name="冲锋舟", unit_cost="25000.00", uom="艘")
    stock(wh, boats, 3)
    clerk = make_user("clerk1", "clerk", st, name="陈刚")
    make_user("cmd1", "command", None, name="王敏")
    make_user("cmd2", "command", None, name="赵局长")
    request = alloc.create_allocation(
        session,
        from_unit=wh,
        to_unit=st,
        lines=[alloc.LineInput("BOAT", 3)],  # 75,000 yuan ≥ 50,000: 三重一大
        reason="汛期水域救援",
        actor=clerk,
    )
    session.commit()
    url = f"{live_server.url}/allocations/{request.id}"

    first = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(first, live_server.url, "cmd1")
    first.goto(url)
    expect(first.locator("main")).to_contain_text("已 0 / 需 2")
    first.click("button:has-text('批准')")
    expect(first.locator("main")).to_contain_text("已 1 / 需 2")
    # the same person cannot count twice
    expect(first.locator("button:has-text('批准')")).to_have_count(1)
    first.click("button:has-text('批准')")
    expect(first.locator(".flash-error")).to_be_visible()
    expect(first.locator("main")).to_contain_text("已 1 / 需 2")
    first.context.close()

    second = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(second, live_server.url, "cmd2")
    second.goto(url)
    second.click("button:has-text('批准')")
    expect(second.locator("main")).to_contain_text("已 2 / 需 2")
    screenshot(second)
    session.expire_all()
    a = session.get(Allocation, request.id)
    assert a.status == "approved" and len(a.approvals) == 2
    second.context.close()


def test_inspector_downloads_the_shortfall_pdf_and_the_inspection_package(
    page, live_server, make_unit, make_item, make_user, stock, session, screenshot
):
    from drills import records

    bureau = make_unit("DF", name="登封市公安局", kind="bureau")
    st = make_unit("JUNZHAO", name="君召派出所", parent=bureau, headcount=14)
    whistle = make_item("WHISTLE", name="口哨", uom="个")
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[standard.StandardLineInput("station", "WHISTLE", "0", "1")],
        actor=SYSTEM,
    )
    stock(st, whistle, 2)
    owner = make_user("owner1", "clerk", st, name="张队长")
    make_user("insp1", "inspector", None, name="督察刘")
    records.create_drill(
        session,
        title="颍河防汛实战演练",
        kind="field_exercise",
        held_on=date.today() - timedelta(days=1),
        lead_unit=st,
        participants=30,
        findings=[records.FindingInput("口哨数量不足", owner=owner, due_on=date.today())],
        actor=SYSTEM,
    )
    session.commit()
    sign_in(page, live_server.url, "insp1")

    page.goto(live_server.url + "/reports/shortfall")
    with page.expect_download() as download:
        page.click("a.button:has-text('PDF')")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "君召派出所" in text and "口哨" in text

    page.goto(live_server.url + "/drills/package")
    page.select_option("#unit", "DF")
    page.click("text=预览")
    expect(page.locator("main")).to_contain_text("颍河防汛实战演练")
    screenshot(page)
    with page.expect_download() as download:
        page.click("text=下载 PDF")
    text = pdf_text(Path(download.value.path()).read_bytes())
    assert "颍河防汛实战演练" in text and "口哨数量不足" in text
    with page.expect_download() as download:
        page.click("text=下载 ZIP")
    names = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())).namelist()
    assert "manifest.csv" in names and any(n.endswith(".pdf") for n in names)

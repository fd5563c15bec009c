"""A bureau imports its villages, registers a site and accepts it as standardized, records an
inspection with a defect, and reads its coverage against the 60% target — in the browser."""

from playwright.sync_api import expect
from sqlalchemy import select

from shelters.models import Shelter
from tests.browser.test_drill_journey import sign_in

VILLAGES_CSV = (
    "\ufeff镇街代码,镇街名称,村社名称,类型,人口,需转移人口\n"
    "ST,石塘镇,海山村,村,1200,80\n"
    "ST,石塘镇,桂岙村,村,900,60\n"
    "ST,石塘镇,箬山社区,社区,3000,40\n"
    "ST,石塘镇,里箬村,村,700,50\n"
    "ST,石塘镇,东山村,村,-5,0\n"
)


def test_import_register_inspect_and_read_coverage(
    page, live_server, make_unit, make_user, session, screenshot
):
    bureau = make_unit("WL", name="温岭市应急管理局", kind="bureau")
    make_user("cmd1", "command", bureau, name="周敏")
    url = live_server.url
    sign_in(page, url, "cmd1")

    # A file with one bad row is refused with the row named, and nothing is imported.
    page.goto(url + "/shelters/import")
    page.set_input_files(
        "#file", {"name": "石塘.csv", "mimeType": "text/csv", "buffer": VILLAGES_CSV.encode()}
    )
    page.click("text=上传并预览")
    expect(page.locator("main")).to_contain_text("第 6 行")
    expect(page.locator("text=确认导入")).to_have_count(0)

    fixed = VILLAGES_CSV.replace("东山村,村,-5,0", "东山村,村,500,30")
    page.set_input_files(
        "#file", {"name": "石塘.csv", "mimeType": "text/csv", "buffer": fixed.encode()}
    )
    page.click("text=上传并预览")
    page.click("text=确认导入")
    expect(page.locator("main")).to_contain_text("石塘镇")

    # Register a standardized site serving three of the five villages.
    page.goto(url + "/shelters/sites/new")
    page.fill("#name", "石塘镇中心小学")
    page.select_option("#town", "ST")
    page.select_option("#level", "town")
    # static/app.js: the level's capacity floor is the capacity field's placeholder
    expect(page.locator("#capacity")).to_have_attribute("placeholder", "≥ 100")
    page.fill("#capacity", "150")
    page.fill("#area_m2", "300")
    for name in ("海山村", "桂岙村", "箬山社区"):
        page.check(f"label:has-text('{name}') input")
    expect(page.locator("label:has-text('别的村') input")).to_have_count(0)
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("石塘镇中心小学")
    expect(page.locator("main")).to_contain_text("180 / 150")  # 80 + 60 + 40 to move
    expect(page.locator("main")).to_contain_text("容量不足")
    # Standardized only once command staff accept it, with the test report attached.
    expect(page.locator("main")).to_contain_text("未验收")
    page.fill("#note", "房屋安全检测合格")
    page.set_input_files(
        "#files",
        {"name": "检测报告.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"},
    )
    page.click("text=验收通过")
    expect(page.locator("#acceptance")).to_contain_text("已验收")
    expect(page.locator("#acceptance-documents")).to_contain_text("检测报告.pdf")

    # An inspection finds missing signage: the site needs attention. Nothing is answered for
    # the inspector: with only signage chosen the form comes back naming the other items,
    # everything typed still there; once every item is answered it is recorded.
    page.click("text=登记检查")
    expect(page.locator("input[type=radio]:checked")).to_have_count(0)
    page.check("input[name=check-signage][value=fail]")
    page.fill("input[name=defect-0]", "疏散指示牌缺失")
    page.fill("#subsidy", "25800")
    page.click("main button[type=submit]")
    expect(page.locator("main")).to_contain_text("尚未选择：选址安全")
    expect(page.locator("input[name=check-signage][value=fail]")).to_be_checked()
    expect(page.locator("input[name=defect-0]")).to_have_value("疏散指示牌缺失")
    expect(page.locator("#subsidy")).to_have_value("25800")
    for item in ("siting", "building", "facilities"):
        page.check(f"input[name=check-{item}][value=pass]")
    page.check("input[name=check-supplies][value=na]")
    page.click("main button[type=submit]")
    expect(page.locator("main")).to_contain_text("疏散指示牌缺失")
    expect(page.locator("main")).to_contain_text("需关注")
    site = session.scalar(select(Shelter))
    assert site.unit is not None and site.unit.headcount == 150

    # Coverage: 3 of 5 villages covered = 60%, on target; none with capacity.
    page.click("nav >> text=避灾安置")
    main = page.locator("main")
    expect(main).to_contain_text("3/5")
    expect(main).to_contain_text("60.0%")
    expect(main).to_contain_text("里箬村")
    page.fill("#target", "80")
    page.click("main form.filters button")
    expect(main).to_contain_text("目标 80%")
    screenshot(page)

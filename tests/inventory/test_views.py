"""Inventory journeys through the pages: record, refuse, count, report."""

import re
from datetime import date

from sqlalchemy import func, select

from inventory import standard
from inventory.models import Count, Movement, Position
from readiness.permissions import SYSTEM
from tests.conftest import post_form


def text(response) -> str:
    return response.get_data(as_text=True)


def errors(response) -> list[str]:
    return re.findall(r'class="error">([^<]*)<', text(response))


def n_movements(session):
    return session.scalar(select(func.count()).select_from(Movement))


def record_form(client, code):
    page = client.get(f"/stock/{code}/record")
    assert page.status_code == 200
    return re.search(r'name="request_key" type="hidden" value="([^"]+)"', text(page)).group(1)


def test_clerk_records_a_receipt_and_an_issue(make_unit, make_item, make_user, login, session):
    station = make_unit("DAYE", name="大冶派出所")
    make_item("LJ", name="救生衣", uom="件")
    make_user("clerk1", "clerk", station)
    client = login("clerk1")
    key = record_form(client, "DAYE")
    r = post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "receipt", "item": "LJ", "qty": "6", "request_key": key},
    )
    assert r.status_code == 302 and r.location == "/stock/DAYE"
    page = text(client.get(r.location))
    assert "已入库 6 件救生衣；本单位合计 6 件（无批次 余 6 件）。" in page
    # The same form sent twice (double click) records once.
    r = post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "receipt", "item": "LJ", "qty": "6", "request_key": key},
    )
    assert "这张表单已经登记过" in text(client.get(r.location))
    key = record_form(client, "DAYE")
    post_form(
        client,
        "/stock/DAYE/record",
        {"kind": "issue", "item": "LJ", "qty": "2", "request_key": key},
    )
    history = text(client.get("/stock/DAYE/items/LJ"))
    assert re.search(r">-2</td><td class=\"num\">4<", history)
    assert session.scalars(select(Position.qty)).one() == 4


def test_bad_movements_show_a_chinese_error_and_change_nothing(
    make_unit, make_item, make_user, login, session, stock
):
    station = make_unit("DAYE", name="大冶派出所")
    item = make_item("LJ", name="救生衣", uom="件")
    make_user("clerk1", "clerk", station)
    stock(station, item, 6)
    client = login("clerk1")
    before = n_movements(session)
    cases = [
        ({"kind": "issue", "qty": "7"}, "大冶派出所 的 救生衣 账面合计只有 6 件，不够出库 7 件。"),
        ({"kind": "issue", "qty": "-3"}, "数值大小必须介于"),
        ({"kind": "issue", "qty": "abc"}, "不是有效的整数"),
        ({"kind": "issue", "qty": "0"}, "数值大小必须介于"),
        ({"kind": "write_off", "qty": "1"}, "报损核销必须选择原因"),
        ({"kind": "receipt", "qty": "1", "item": "NOPE"}, "物资代码 NOPE 不存在"),
        ({"kind": "receipt", "qty": "1", "note": "长" * 600}, "字段长度不能超过 500"),
    ]
    for data, expected in cases:
        payload = {"item": "LJ", "request_key": record_form(client, "DAYE"), **data}
        page = post_form(client, "/stock/DAYE/record", payload)
        assert page.status_code == 200, data
        assert any(expected in e for e in errors(page)), (expected, errors(page))
    assert n_movements(session) == before
    assert session.scalars(select(Position.qty)).one() == 6


def test_clerk_cannot_record_for_another_station(make_unit, make_item, make_user, login, session):
    mine = make_unit("MINE")
    make_unit("OTHER")
    make_item("LJ")
    make_user("clerk1", "clerk", mine)
    client = login("clerk1")
    assert client.get("/stock/OTHER").status_code == 403
    r = post_form(client, "/stock/OTHER/record", {"kind": "receipt", "item": "LJ", "qty": "1"})
    assert r.status_code == 403
    assert n_movements(session) == 0


def test_count_journey_through_the_pages(
    make_unit, make_item, make_user, login, app, session, stock
):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    jackets = make_item("LJ", name="救生衣")
    make_user("keeper1", "keeper", wh)
    make_user("keeper2", "keeper", wh)
    stock(wh, jackets, 40)
    client = login("keeper1")
    r = post_form(client, "/stock/WH/counts", {"note": "月度盘点"})
    count = session.scalar(select(Count))
    assert r.location == f"/counts/{count.id}"
    page = text(client.get(r.location))
    line_field = re.search(r'name="(line-\d+)"', page).group(1)
    r = post_form(client, f"/counts/{count.id}/lines", {line_field: "37"})
    assert "已保存 1 行清点数量" in text(client.get(r.location))
    r = post_form(client, f"/counts/{count.id}/lines", {line_field: "-3"})
    assert r.status_code == 422  # marked in place, what was typed is still in the box
    assert "救生衣：数量不能为负数" in text(r) and 'value="-3"' in text(r)
    post_form(client, f"/counts/{count.id}/submit")
    r = post_form(client, f"/counts/{count.id}/approve")
    assert "清点人不能审批自己的盘点" in text(client.get(r.location))
    other = app.test_client()
    post_form(other, "/login", {"username": "keeper2", "password": "secret-pass-1"})
    page = text(other.get(f"/counts/{count.id}"))
    assert "-3</strong>" in page
    r = post_form(other, f"/counts/{count.id}/approve")
    assert "差异已调整入账" in text(other.get(r.location))
    session.expire_all()
    assert session.scalars(select(Position.qty)).one() == 37
    assert "已审批" in text(other.get("/counts"))


def test_shortfall_page_at_a_glance(make_unit, make_item, make_user, login, session, stock):
    daye = make_unit("DAYE", name="大冶派出所", headcount=28)
    make_unit("JUNZHAO", name="君召派出所", headcount=14)
    jackets = make_item("LJ", name="救生衣", unit_cost="120")
    make_user("cmd", "command", None)
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        actor=SYSTEM,
        lines=[standard.StandardLineInput("station", "LJ", "2", "1")],
    )
    session.commit()
    stock(daye, jackets, 6)
    client = login("cmd")
    whole = text(client.get("/reports/shortfall"))
    assert "¥4,800.00" in whole  # (16 + 30 − 6) × 120
    rows = whole[whole.index("各单位缺口") :]
    assert rows.index("君召派出所") < rows.index("大冶派出所")  # 0 % before 20 %
    assert re.search(r'class="fill red" style="width: 20(\.0)?%"', rows)
    for fmt, mimetype in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("pdf", "application/pdf"),
    ):
        download = client.get(f"/reports/shortfall?format={fmt}")
        assert download.status_code == 200 and download.mimetype == mimetype


def test_command_publishes_a_standard_through_the_form(make_item, make_user, login, session):
    make_item("LJ", name="救生衣")
    make_user("cmd", "command", None)
    client = login("cmd")
    page = text(client.get("/standard/new"))
    assert 'name="lines-0-unit_kind"' in page
    r = post_form(
        client,
        "/standard/new",
        {
            "effective_from": "2024-01-01",
            "note": "汛前修订",
            "lines-0-unit_kind": "station",
            "lines-0-item": "LJ",
            "lines-0-base_qty": "2",
            "lines-0-per_officer": "0.5",
            "lines-1-unit_kind": "",
            "lines-1-item": "",
        },
    )
    assert r.status_code == 302
    shown = text(client.get(r.location))
    assert "2024-01-01" in shown and "0.5" in shown
    bad = post_form(
        client,
        "/standard/new",
        {
            "effective_from": "2024-02-01",
            "lines-0-unit_kind": "station",
            "lines-0-item": "LJ",
            "lines-0-base_qty": "-1",
            "lines-0-per_officer": "0",
        },
    )
    assert "不能为负数" in text(bad)


def test_a_piece_goes_for_repair_and_stops_counting(
    make_unit, make_item, make_user, login, session, stock
):
    from inventory.models import Asset

    station = make_unit("S", headcount=1)
    drone = make_item("UAV", name="无人机", tracking="serial")
    make_user("clerk1", "clerk", station)
    stock(station, drone, 1, serials=["U-1"])
    asset = session.scalar(select(Asset))
    client = login("clerk1")
    r = post_form(client, f"/assets/{asset.id}/status", {"status": "under_repair"})
    assert "已设为维修中" in text(client.get(r.location))
    r = post_form(client, f"/assets/{asset.id}/status", {"status": "retired"})
    assert "报废请走报损核销" in text(client.get(r.location))
    session.refresh(asset)
    assert asset.status == "under_repair"


def test_the_shortfall_page_shows_a_hundred_rows_a_page(
    session, make_unit, make_item, make_user, login
):
    from datetime import date

    from inventory import standard
    from readiness.permissions import SYSTEM

    make_unit("DAYE", name="大冶派出所")
    for n in range(105):
        make_item(f"P{n:03d}")
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[standard.StandardLineInput("station", f"P{n:03d}", "1", "0") for n in range(105)],
        actor=SYSTEM,
    )
    session.commit()
    make_user("cmd1", "command", None)
    client = login("cmd1")
    first = client.get("/reports/shortfall").get_data(as_text=True)
    assert first.count('<tr class="band-') == 100 and "第 1 / 2 页" in first
    assert "共 105 行" in first
    second = client.get("/reports/shortfall?page=2").get_data(as_text=True)
    assert second.count('<tr class="band-') == 5
    # the download still holds every row
    csv_rows = (
        client.get("/reports/shortfall?format=csv").get_data(as_text=True).strip().splitlines()
    )
    assert len([r for r in csv_rows if "大冶派出所" in r]) == 105

"""Scanning and printing through the pages and the API."""

import re

import pytest
from sqlalchemy import func, select

from inventory.models import Count, Movement, Position
from labels import services as lab
from tests.conftest import PASSWORD, post_form
from tests.labels.test_services import decode_pages


def text(r) -> str:
    return r.get_data(as_text=True)


@pytest.fixture
def shelf(session, make_unit, make_item, make_user, stock):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    item = make_item("LJ", name="救生衣", uom="件")
    stock(wh, item, 12)
    make_user("keeper1", "keeper", wh)
    pos = session.scalar(select(Position))
    code = lab.label_for_position(session, pos).code
    session.commit()
    return {"unit": wh, "code": code, "position": pos}


def test_scanning_while_signed_out_lands_on_the_item_after_login(client, shelf):
    first = client.get(f"/l/{shelf['code']}")
    assert first.status_code == 302 and "/login?next=" in first.location
    response = post_form(client, first.location, {"username": "keeper1", "password": PASSWORD})
    assert response.location == f"/l/{shelf['code']}"
    page = text(client.get(response.location))
    assert "救生衣" in page and "应急物资中心仓库" in page and "12 件" in page


def test_count_in_two_taps_from_the_scan_page(login, shelf, session):
    client = login("keeper1")
    page = text(client.get(f"/l/{shelf['code']}"))
    # the box starts empty: nothing to confirm without counting (the books say 12)
    assert re.search(r'name="counted"[^>]*value=""', page) and 'value="12"' not in page
    r = post_form(client, f"/l/{shelf['code']}/count", {"counted": "11"})
    assert "已记录点数，待审批" in text(client.get(r.location))
    count = session.scalar(select(Count))
    assert count.is_spot and count.status == "submitted" and count.lines[0].variance == -1
    page = text(client.get(f"/l/{shelf['code']}"))
    assert "上次点数" in page and ">11 ·" in page and "keeper1" in page


@pytest.mark.parametrize("counted", ["-3", "abc", ""])
def test_bad_counts_from_the_phone_change_nothing(login, shelf, session, counted):
    client = login("keeper1")
    r = post_form(client, f"/l/{shelf['code']}/count", {"counted": counted})
    page = text(client.get(r.location))
    assert "数量" in page and "flash-error" in page
    # what was typed is still in the box
    assert re.search(rf'name="counted"[^>]*value="{re.escape(counted)}"', page)
    assert session.scalar(select(func.count()).select_from(Count)) == 0


def test_issue_and_receive_from_the_scan_page(login, shelf, session):
    client = login("keeper1")
    r = post_form(client, f"/l/{shelf['code']}/move", {"kind": "issue", "qty": "20"})
    assert "账面只有 12 件，不足 20 件" in text(client.get(r.location))
    r = post_form(client, f"/l/{shelf['code']}/move", {"kind": "issue", "qty": "2"})
    assert "现有 10 件" in text(client.get(r.location))
    post_form(client, f"/l/{shelf['code']}/move", {"kind": "receipt", "qty": "5"})
    session.expire_all()
    assert session.scalar(select(Position.qty)) == 15
    assert session.scalar(select(func.count()).select_from(Movement)) == 3


def test_another_units_code_is_read_only(login, shelf, make_unit, make_user, session):
    make_user("clerk1", "clerk", make_unit("ST"))
    client = login("clerk1")
    page = text(client.get(f"/l/{shelf['code']}"))
    assert "只读" in page and 'name="counted"' not in page
    r = post_form(client, f"/l/{shelf['code']}/count", {"counted": "1"})
    assert r.status_code == 403 or "flash-error" in text(client.get(r.location))
    assert session.scalar(select(func.count()).select_from(Count)) == 0


def test_unknown_code_gets_a_clear_page(login, shelf):
    client = login("keeper1")
    r = client.get("/l/ZZZZZZZZZZ")
    assert r.status_code == 404 and "标签码 ZZZZZZZZZZ 不存在" in text(r)


def test_scan_box_accepts_a_url_or_a_bare_code(login, shelf):
    client = login("keeper1")
    code = shelf["code"]
    for raw in (f"http://localhost/l/{code}", code.lower()):
        r = client.get("/scan", query_string={"code": raw})
        assert r.status_code == 302 and r.location.startswith(f"/l/{code}")
    r = client.get("/scan", query_string={"code": "nonsense"})
    assert "不存在" in text(r)


def test_scan_box_keeps_a_running_list_during_a_stocktake(login, shelf, session):
    client = login("keeper1")
    post_form(client, "/stock/WH/counts", {"note": ""})
    count = session.scalar(select(Count))
    r = client.get("/scan", query_string={"code": shelf["code"], "count": count.id})
    back = f"/scan?count={count.id}"
    assert r.location == f"/l/{shelf['code']}?back=/scan?count%3D{count.id}"
    r = post_form(client, f"/l/{shelf['code']}/count", {"counted": "12", "back": back})
    assert r.location == back
    page = text(client.get(back))
    assert "已点 1 项" in page and "救生衣" in page


def test_print_a_sheet_from_the_page(login, shelf):
    client = login("keeper1")
    assert "打印标签" in text(client.get("/labels"))
    r = post_form(
        client, "/labels", {"unit": "WH", "what": "positions", "layout": "a4-3x8", "skip": "3"}
    )
    assert r.mimetype == "application/pdf"
    [page] = decode_pages(r.data)
    assert [t for t, _x, _y in page] == [f"http://localhost/l/{shelf['code']}"]
    r = post_form(client, "/labels", {"unit": "WH", "what": "items", "layout": "a4-3x8"})
    assert "请至少选择一种物资" in text(r)
    r = post_form(
        client,
        "/labels",
        {"unit": "WH", "what": "category", "category": "防汛", "layout": "a4-3x8"},
    )
    assert r.mimetype == "application/pdf" and len(decode_pages(r.data)[0]) == 1
    r = post_form(
        client,
        "/labels",
        {"unit": "WH", "what": "category", "category": "无此类", "layout": "a4-3x8"},
    )
    assert "该类别下没有物资" in text(r)
    r = post_form(
        client,
        "/labels/printers",
        {"unit": "WH", "name": "", "layout": "a4-3x8", "offset_x_mm": "99", "scale_pct": "200"},
    )
    page = text(r)  # every refusal at once, and what was typed stays
    assert "请填写打印机名称" in page and "偏移量应在" in page and "缩放应在" in page
    assert 'value="99"' in r.get_data(as_text=True)


def test_label_api(api, make_token, shelf, session):
    from readiness.models import User

    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    client = api(make_token(keeper))
    r = client.post(
        "/api/v1/labels",
        json={
            "targets": [{"unit": "WH", "item": "LJ", "lot": None}],
            "layout": "thermal-50x30",
            "skip": 0,
        },
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert [[t for t, _x, _y in p] for p in decode_pages(r.data, scale=8)] == [
        [f"http://localhost/l/{shelf['code']}"]
    ]
    info = client.get(f"/api/v1/labels/{shelf['code']}").get_json()
    assert info["unit"] == "WH" and info["item"] == "LJ" and info["qty"] == 12
    assert client.get("/api/v1/labels/ZZZZZZZZZZ").status_code == 404
    too_many = client.post(
        "/api/v1/labels", json={"targets": [{"unit": "WH", "item": "LJ"}] * 50_000}
    )
    assert too_many.status_code == 422
    assert "5000" in too_many.get_json()["error"]["message"]
    bad = client.post(
        "/api/v1/labels", json={"targets": [{"unit": "WH", "item": "LJ"}], "layout": "a0-1x1"}
    )
    assert bad.status_code == 422
    assert re.search(r"版式", bad.get_json()["error"]["message"])

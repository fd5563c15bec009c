"""Printing from the pages and the API: printer profiles chosen when printing, their test
pages and measured corrections, the label data for label programs, and no label printed
with an address the users' phones cannot open."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from labels import services as lab
from labels.models import LabelCode, PrinterProfile
from readiness.models import AuditEntry, User
from tests.conftest import CSRF_RE, PASSWORD, post_form
from tests.labels.test_services import decode_pages

# Requests that reach the server as http://192.168.1.20:5106 from another machine.
FOREIGN = {"base_url": "http://192.168.1.20:5106", "environ_base": {"REMOTE_ADDR": "192.168.1.33"}}


def foreign_form(client, path: str, data: dict):
    page = client.get(path, **FOREIGN).get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    return client.post(path, data={"csrf_token": token, **data}, **FOREIGN)


def text(r) -> str:
    return r.get_data(as_text=True)


@pytest.fixture
def shelf(session, make_unit, make_item, make_user, stock):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    stock(wh, make_item("LJ", name="救生衣", uom="件"), 12)
    stock(wh, make_item("XF", name='=HYPERLINK("http://x")'), 2)
    make_user("keeper1", "keeper", wh)
    session.commit()
    return wh


def _print(client, **fields):
    data = {"unit": "WH", "what": "positions", "layout": "a4-3x8", **fields}
    return post_form(client, "/labels", data)


def test_the_page_shows_the_address_the_labels_will_carry(login, shelf):
    client = login("keeper1")
    page = text(client.get("/labels"))
    assert "http://localhost/l/XXXXXXXXXX" in page and "address-refusal" not in page
    assert "100%" in page  # print at full size


def test_a_loopback_base_url_reached_from_another_host_refuses_to_print(app, login, shelf, session):
    client = login("keeper1")
    elsewhere = app.test_client()
    foreign_form(elsewhere, "/login", {"username": "keeper1", "password": PASSWORD})
    app_config = client.application.config
    before = session.scalar(select(func.count()).select_from(LabelCode))
    old = app_config["BASE_URL"]
    app_config["BASE_URL"] = "http://127.0.0.1:5000"
    try:
        page = text(elsewhere.get("/labels", **FOREIGN))
        assert "READINESS_BASE_URL" in page and "http://127.0.0.1:5000" in page
        r = foreign_form(
            elsewhere, "/labels", {"unit": "WH", "what": "positions", "layout": "a4-3x8"}
        )
        assert r.mimetype == "text/html" and "READINESS_BASE_URL" in text(r)
        keeper = session.scalar(select(User).where(User.username == "keeper1"))
        token = lab_token(session, keeper)
        r = client.post(
            "/api/v1/labels",
            json={"targets": [{"unit": "WH", "item": "LJ"}]},
            headers={"Authorization": f"Bearer {token}"},
            **FOREIGN,
        )
        assert r.status_code == 409
        error = r.get_json()["error"]
        assert error["code"] == "conflict" and "READINESS_BASE_URL" in error["message"]
        # nothing was issued: no code points anywhere yet
        assert session.scalar(select(func.count()).select_from(LabelCode)) == before
        # at the server itself the single-machine install still prints
        r = _print(client)
        assert r.mimetype == "application/pdf"
        assert next(t for t, _x, _y in decode_pages(r.data)[0]).startswith(
            "http://127.0.0.1:5000/l/"
        )
    finally:
        app_config["BASE_URL"] = old


def lab_token(session, user) -> str:
    from readiness import services
    from readiness.permissions import SYSTEM

    token = services.issue_token(session, user, actor=SYSTEM)
    session.commit()
    return token


def test_a_keeper_sets_up_a_printer_measures_its_test_page_and_prints_with_it(
    login, shelf, session
):
    client = login("keeper1")
    r = post_form(
        client,
        "/labels/printers",
        {
            "unit": "WH",
            "name": "仓库激光打印机",
            "layout": "a4-2x5",
            "output": "pdf",
            "dpi": "203",
            "offset_x_mm": "0",
            "offset_y_mm": "0",
            "scale_pct": "100",
        },
    )
    profile = session.scalar(select(PrinterProfile))
    assert r.status_code == 302 and r.location == f"/labels/printers/{profile.id}"
    page = text(client.get(r.location))
    assert "下载测试页" in page and "100 mm" in page
    test_page = client.get(f"/labels/test-page.pdf?profile={profile.id}")
    assert test_page.mimetype == "application/pdf" and b"/PrintScaling /None" in test_page.data
    # the ruler printed 96 mm long and the crosshair 2 mm right and 1 mm low of 15 mm, 15 mm
    r = post_form(
        client,
        f"/labels/printers/{profile.id}",
        {"measure": "1", "ruler_mm": "96", "cross_x_mm": "16.4", "cross_y_mm": "15.4"},
    )
    assert r.status_code == 302
    session.refresh(profile)
    assert float(profile.scale_pct) == pytest.approx(104.2, abs=0.05)
    assert float(profile.offset_x_mm) == pytest.approx(15 - 16.4 / 0.96, abs=0.05)
    # a bad measurement says which box, keeps the others, and changes nothing
    r = post_form(
        client,
        f"/labels/printers/{profile.id}",
        {"measure": "1", "ruler_mm": "abc", "cross_x_mm": "", "cross_y_mm": "15"},
    )
    page = text(r)
    assert "标尺实际长度" in page and "十字中心到纸左边" in page and 'value="15"' in page
    # printing with the profile: its stock, corrected
    plain = decode_pages(_print(client, layout="a4-2x5").data)[0]
    fixed = _print(client, profile=str(profile.id), layout="")
    assert fixed.mimetype == "application/pdf"
    moved = decode_pages(fixed.data)[0]
    assert len(moved) == len(plain) == 2
    assert moved[0][1] != pytest.approx(plain[0][1], abs=2)
    # a layout other than the printer's stock is refused, saying both
    r = _print(client, profile=str(profile.id), layout="a4-3x8")
    assert "a4-2x5" in text(r) and "a4-3x8" in text(r)


def test_a_skip_outside_the_sheet_is_refused_naming_the_layout(login, shelf):
    client = login("keeper1")
    assert "0 到 20 之间" in text(_print(client, layout="a4-3x7", skip="21"))
    assert "跳过的标签数必须是整数" in text(_print(client, skip="三"))
    assert "热敏标签一张一枚" in text(_print(client, layout="thermal-70x50", skip="1"))
    assert _print(client, layout="a4-3x7", skip="20").mimetype == "application/pdf"


def test_another_bureaus_printer_is_not_named_to_a_keeper(login, shelf, session, make_unit):
    from readiness.permissions import SYSTEM

    other = make_unit("WL", kind="bureau", parent=None)
    foreign = lab.save_profile(
        session, other, {"name": "温岭打印机", "layout": "a4-3x8"}, actor=SYSTEM
    )
    session.commit()
    client = login("keeper1")
    assert "温岭打印机" not in text(client.get("/labels")) + text(client.get("/labels/printers"))
    assert client.get(f"/labels/test-page.pdf?profile={foreign.id}").status_code == 404
    assert client.get(f"/labels/printers/{foreign.id}").status_code == 403
    r = _print(client, profile=str(foreign.id))
    assert r.mimetype == "text/html" and "打印机配置" in text(r)


def test_every_printer_field_is_checked_at_once_and_kept(login, shelf, session):
    client = login("keeper1")
    r = post_form(
        client,
        "/labels/printers",
        {
            "unit": "WH",
            "name": "",
            "layout": "a4-3x8",
            "output": "zpl",
            "offset_x_mm": "99",
            "offset_y_mm": "x",
            "scale_pct": "50",
        },
    )
    page = text(r)
    for message in (
        "请填写打印机名称",
        "ZPL 和 TSPL 只用于热敏",
        "偏移量应在",
        "Y 偏移必须是数字",
        "缩放应在",
    ):
        assert message in page, message
    assert 'value="99"' in page and 'value="50"' in page
    assert session.scalar(select(func.count()).select_from(PrinterProfile)) == 0


def test_a_retired_printer_leaves_the_choice_but_stays_in_the_trail(login, shelf, session):
    client = login("keeper1")
    profile = lab.save_profile(
        session, shelf, {"name": "旧打印机", "layout": "a4-3x8"}, actor=session.scalar(select(User))
    )
    session.commit()
    assert "旧打印机 ·" in text(client.get("/labels"))
    r = post_form(client, f"/labels/printers/{profile.id}/retire")
    assert r.location == "/labels/printers"
    assert "旧打印机 ·" not in text(client.get("/labels"))
    assert client.get(f"/labels/printers/{profile.id}").status_code == 404
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "labels.profile_retire" in actions


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_label_data_for_bartender_never_runs_a_formula(login, shelf, session, fmt):
    client = login("keeper1")
    r = _print(client, output=fmt)
    codes = dict(session.execute(select(LabelCode.position_id, LabelCode.code)).all())
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(r.data)).active
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    header, *body = rows
    assert header[:3] == ["标签码", "打印码", "网址"] and len(body) == 2
    assert {row[0] for row in body} == set(codes.values())
    assert all(row[2] == f"http://localhost/l/{row[0]}" for row in body)
    names = [row[6] for row in body]
    assert any(str(n).startswith(("'=", "=")) for n in names)
    if fmt == "csv":
        assert '\'=HYPERLINK("http://x")' in names


@pytest.mark.parametrize("fmt", ["zpl", "tspl"])
def test_thermal_printers_get_their_own_language(login, shelf, session, fmt):
    client = login("keeper1")
    r = _print(client, layout="thermal-50x30", output=fmt)
    assert r.mimetype == "application/octet-stream"
    assert r.headers["Content-Disposition"].endswith(".zpl" if fmt == "zpl" else ".prn")
    codes = session.scalars(select(LabelCode.code)).all()
    for code in codes:
        assert f"http://localhost/l/{code}".encode() in r.data
    r = _print(client, layout="a4-3x8", output=fmt)
    assert "ZPL 和 TSPL 只用于热敏" in text(r)


def test_the_api_prints_with_a_profile_in_any_format(api, make_token, shelf, session):
    keeper = session.scalar(select(User).where(User.username == "keeper1"))
    client = api(make_token(keeper))
    r = client.post(
        "/api/v1/printer-profiles",
        json={
            "unit": "WH",
            "name": "热敏机",
            "layout": "thermal-40x30",
            "format": "zpl",
            "dpi": 300,
        },
    )
    assert r.status_code == 201, r.get_json()
    profile = r.get_json()
    assert (profile["layout"], profile["format"], profile["dpi"]) == ("thermal-40x30", "zpl", 300)
    listed = client.get("/api/v1/printer-profiles").get_json()["profiles"]
    assert [p["name"] for p in listed] == ["热敏机"]
    target = {"targets": [{"unit": "WH", "item": "LJ"}]}
    r = client.post("/api/v1/labels", json={**target, "profile": profile["id"]})
    assert r.status_code == 200 and r.data.startswith(b"^XA") and b"^CI28" in r.data
    r = client.post("/api/v1/labels", json={**target, "profile": profile["id"], "format": "pdf"})
    assert r.mimetype == "application/pdf"
    assert len(decode_pages(r.data, scale=300 / 72)[0]) == 1
    r = client.post("/api/v1/labels", json={**target, "format": "xlsx"})
    assert r.status_code == 200 and r.data[:2] == b"PK"
    r = client.post("/api/v1/labels", json={**target, "layout": "a4-3x7", "skip": 21})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "skip"
    assert "0 到 20" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/labels", json={**target, "profile": 99999})
    assert r.status_code == 404
    r = client.post("/api/v1/labels", json={**target, "layout": "a4-3x8", "format": "tspl"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "format"


def test_the_scan_box_and_the_label_url_take_the_code_as_printed(login, shelf, session):
    client = login("keeper1")
    _print(client)
    from inventory.models import Item, Position

    code = session.scalar(
        select(LabelCode.code)
        .join(Position, Position.id == LabelCode.position_id)
        .join(Item, Item.id == Position.item_id)
        .where(Item.code == "LJ")
    )
    typed = f"{code[:5]} {code[5:]}".lower()
    r = client.get("/scan", query_string={"code": typed})
    assert r.status_code == 302 and r.location.startswith(f"/l/{code}")
    r = client.get(f"/l/{code[:5]}-{code[5:]}")
    assert r.status_code == 200 and "救生衣" in text(r)


def test_the_printing_pages_are_complete_in_english(
    login, session, make_unit, make_user, make_item, stock
):
    import re

    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    wh = make_unit("WH", name="Warehouse", kind="warehouse")
    stock(wh, make_item("LJ", name="Jacket", category="Flood", uom="pc"), 3)
    keeper = make_user("keeper2", "keeper", wh, name="K")
    profile = lab.save_profile(
        session, wh, {"name": "Laser", "layout": "thermal-40x30", "output": "zpl"}, actor=keeper
    )
    session.commit()
    client = login("keeper2")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    refused = {"unit": "WH", "name": "", "layout": "a4-3x8", "scale_pct": "5", "offset_x_mm": "x"}
    pages = [
        client.get(url) for url in ("/labels", "/labels/printers", f"/labels/printers/{profile.id}")
    ]
    pages.append(post_form(client, "/labels/printers", refused))
    pages.append(_print(client, layout="a4-3x7", skip="30"))
    for r in pages:
        html = text(r).replace('lang="zh-CN">中文<', "")
        assert r.status_code == 200 and not cjk.findall(html), "".join(cjk.findall(html))[:80]
    assert "Printers and calibration" in text(pages[0])

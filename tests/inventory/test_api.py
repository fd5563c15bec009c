"""Inventory through the JSON API: the names and shapes the acceptance checks rely on."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from inventory.models import Item, Movement, Position, StandardVersion
from readiness.models import AuditEntry
from tests.pdfcheck import pdf_text

TODAY = date.today()


def n(session, model):
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def town(make_unit, make_user, make_token):
    bureau = make_unit("DF", kind="bureau", headcount=500)
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau, headcount=28)
    baiping = make_unit("BAIPING", name="白坪派出所", parent=bureau, headcount=16)
    wh = make_unit("WH", name="中心仓库", kind="warehouse", parent=bureau, headcount=6)
    tokens = {
        "admin": make_token(make_user("root", "admin", None)),
        "command": make_token(make_user("cmd", "command", None)),
        "command2": make_token(make_user("cmd2", "command", None)),
        "inspector": make_token(make_user("insp", "inspector", None)),
        "clerk": make_token(make_user("clerk1", "clerk", daye)),
        "keeper": make_token(make_user("keeper1", "keeper", wh)),
    }
    return {"units": {"DAYE": daye, "BAIPING": baiping, "WH": wh}, "tokens": tokens}


def seed_catalog(api, town):
    admin = api(town["tokens"]["admin"])
    for body in (
        {
            "code": "LJ",
            "name": "救生衣",
            "category": "防汛",
            "uom": "件",
            "unit_cost": "120.00",
            "shelf_life_days": None,
            "tracking": "bulk",
        },
        {
            "code": "SB",
            "name": "吸水沙袋",
            "category": "防汛",
            "uom": "个",
            "unit_cost": 8,
            "shelf_life_days": 730,
            "tracking": "bulk",
        },
        {
            "code": "UAV",
            "name": "无人机",
            "category": "侦察",
            "uom": "架",
            "unit_cost": "26000",
            "shelf_life_days": None,
            "tracking": "serial",
        },
    ):
        response = admin.post("/api/v1/items", json=body)
        assert response.status_code == 201, response.get_json()


def test_items(api, town, session):
    seed_catalog(api, town)
    items = api(town["tokens"]["clerk"]).get("/api/v1/items").get_json()["items"]
    by_code = {i["code"]: i for i in items}
    assert set(by_code) == {"LJ", "SB", "UAV"}
    assert by_code["LJ"]["unit_cost"] == "120.00"
    assert by_code["UAV"]["tracking"] == "serial"
    admin = api(town["tokens"]["admin"])
    dup = admin.post(
        "/api/v1/items",
        json={
            "code": "lj",
            "name": "x",
            "category": "c",
            "uom": "件",
            "unit_cost": 1,
            "tracking": "bulk",
        },
    )
    assert dup.status_code == 409
    bad = admin.post(
        "/api/v1/items",
        json={
            "code": "X",
            "name": "x",
            "category": "c",
            "uom": "件",
            "unit_cost": -5,
            "tracking": "bulk",
        },
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "unit_cost"
    forbidden = api(town["tokens"]["command"]).post("/api/v1/items", json={"code": "Y"})
    assert forbidden.status_code == 403
    assert n(session, Item) == 3


def test_standard_put_and_get(api, town, session):
    seed_catalog(api, town)
    command = api(town["tokens"]["command"])
    body = {
        "effective_from": "2022-07-01",
        "lines": [
            {"unit_kind": "station", "item": "LJ", "base_qty": 2, "per_officer": 1},
            {"unit_kind": "station", "item": "SB", "base_qty": 50, "per_officer": 0.5},
        ],
    }
    response = command.put("/api/v1/standard", json=body)
    assert response.status_code == 201
    got = api(town["tokens"]["inspector"]).get("/api/v1/standard").get_json()
    assert got["effective_from"] == "2022-07-01"
    assert got["lines"][1] == {
        "unit_kind": "station",
        "item": "SB",
        "base_qty": 50.0,
        "per_officer": 0.5,
    }
    assert (
        api(town["tokens"]["inspector"])
        .get("/api/v1/standard?as_of=2022-06-30")
        .get_json()["lines"]
        == []
    )
    bad = command.put(
        "/api/v1/standard",
        json={
            "effective_from": "2023-01-01",
            "lines": [{"unit_kind": "station", "item": "NOPE", "base_qty": 1, "per_officer": 0}],
        },
    )
    assert bad.status_code == 422
    assert api(town["tokens"]["clerk"]).put("/api/v1/standard", json=body).status_code == 403
    assert n(session, StandardVersion) == 1


def test_movements_balance_and_refusals(api, town, session):
    seed_catalog(api, town)
    clerk = api(town["tokens"]["clerk"])
    r = clerk.post(
        "/api/v1/movements",
        json={"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 6, "note": "首批"},
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["balance"] == 6 and isinstance(body["id"], int)
    movements, audits = n(session, Movement), n(session, AuditEntry)
    over = clerk.post(
        "/api/v1/movements", json={"unit": "DAYE", "item": "LJ", "kind": "issue", "qty": 7}
    )
    assert over.status_code == 409
    assert (
        over.get_json()["error"]["message"]
        == "大冶派出所 的 救生衣 账面合计只有 6 件，不够出库 7 件。"
    )
    for bad in (
        {"qty": 0},
        {"qty": -3},
        {"qty": 2.5},
        {"qty": "abc"},
        {"qty": 10**9},
        {"qty": True},
        {"unit": "NOPE"},
        {"item": "NOPE"},
        {"kind": "adjustment"},
        {"lot": "NO-SUCH-LOT"},
        {"expires_on": "31/12/2025"},
        {"note": "长" * 501},
    ):
        payload = {"unit": "DAYE", "item": "LJ", "kind": "issue", "qty": 1, **bad}
        response = clerk.post("/api/v1/movements", json=payload)
        assert response.status_code == 422, (bad, response.get_json())
    other = clerk.post(
        "/api/v1/movements", json={"unit": "BAIPING", "item": "LJ", "kind": "receipt", "qty": 1}
    )
    assert other.status_code == 403
    command = api(town["tokens"]["command"]).post(
        "/api/v1/movements", json={"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 1}
    )
    assert command.status_code == 403
    assert (n(session, Movement), n(session, AuditEntry)) == (movements, audits)
    stock = api(town["tokens"]["inspector"]).get("/api/v1/stock?unit=DAYE").get_json()
    assert stock == {
        "rows": [{"unit": "DAYE", "item": "LJ", "lot": None, "expires_on": None, "qty": 6}],
        "next_cursor": None,
    }


def test_expired_receipt_is_allowed_with_a_warning_and_lots(api, town):
    seed_catalog(api, town)
    keeper = api(town["tokens"]["keeper"])
    past = (TODAY - timedelta(days=2)).isoformat()
    r = keeper.post(
        "/api/v1/movements",
        json={
            "unit": "WH",
            "item": "SB",
            "kind": "receipt",
            "qty": 100,
            "lot": "2019-A",
            "expires_on": past,
        },
    )
    assert r.status_code == 201 and r.get_json()["warnings"]
    r = keeper.post(
        "/api/v1/movements",
        json={
            "unit": "WH",
            "item": "SB",
            "kind": "write_off",
            "qty": 100,
            "lot": "2019-A",
            "reason": "expired",
        },
    )
    assert r.status_code == 201 and r.get_json()["balance"] == 0


def test_the_same_request_key_writes_once(api, town, session):
    seed_catalog(api, town)
    clerk = api(town["tokens"]["clerk"])
    body = {"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 5, "request_key": "k-1"}
    first = clerk.post("/api/v1/movements", json=body)
    again = clerk.post("/api/v1/movements", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert session.scalars(select(Position.qty)).one() == 5


def test_serial_item_needs_serials(api, town):
    seed_catalog(api, town)
    keeper = api(town["tokens"]["keeper"])
    r = keeper.post(
        "/api/v1/movements", json={"unit": "WH", "item": "UAV", "kind": "receipt", "qty": 2}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "serials"
    r = keeper.post(
        "/api/v1/movements",
        json={
            "unit": "WH",
            "item": "UAV",
            "kind": "receipt",
            "qty": 2,
            "serials": ["DJI-001", "DJI-002"],
        },
    )
    assert r.status_code == 201 and r.get_json()["balance"] == 2


def test_count_then_approve_by_someone_else(api, town, session):
    seed_catalog(api, town)
    keeper = api(town["tokens"]["keeper"])
    keeper.post(
        "/api/v1/movements", json={"unit": "WH", "item": "LJ", "kind": "receipt", "qty": 40}
    )
    r = keeper.post(
        "/api/v1/counts", json={"unit": "WH", "lines": [{"item": "LJ", "lot": None, "counted": 37}]}
    )
    assert r.status_code == 201
    count = r.get_json()
    assert count["lines"] == [
        {
            "item": "LJ",
            "lot": None,
            "book": 40,
            "counted": 37,
            "variance": -3,
            "not_counted_reason": None,
        }
    ]
    assert (count["partial"], count["blind"], count["return_reason"]) == (False, True, None)
    own = keeper.post(f"/api/v1/counts/{count['id']}/approve")
    assert own.status_code == 403
    clerk = api(town["tokens"]["clerk"]).post(f"/api/v1/counts/{count['id']}/approve")
    assert clerk.status_code == 403
    ok = api(town["tokens"]["command"]).post(f"/api/v1/counts/{count['id']}/approve")
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    again = api(town["tokens"]["command2"]).post(f"/api/v1/counts/{count['id']}/approve")
    assert again.status_code == 409
    rows = api(town["tokens"]["command"]).get("/api/v1/stock?unit=WH").get_json()["rows"]
    assert rows[0]["qty"] == 37
    bad = keeper.post(
        "/api/v1/counts", json={"unit": "WH", "lines": [{"item": "LJ", "counted": -1}]}
    )
    assert bad.status_code == 422


def test_shortfall_report_json_and_files(api, town):
    seed_catalog(api, town)
    api(town["tokens"]["command"]).put(
        "/api/v1/standard",
        json={
            "effective_from": "2022-07-01",
            "lines": [{"unit_kind": "station", "item": "LJ", "base_qty": 2, "per_officer": 1}],
        },
    )
    api(town["tokens"]["clerk"]).post(
        "/api/v1/movements", json={"unit": "DAYE", "item": "LJ", "kind": "receipt", "qty": 6}
    )
    api(town["tokens"]["keeper"]).post(
        "/api/v1/movements", json={"unit": "WH", "item": "LJ", "kind": "receipt", "qty": 10}
    )
    reader = api(town["tokens"]["inspector"])
    body = reader.get("/api/v1/reports/shortfall").get_json()
    assert [(r["unit"], r["required"], r["on_hand"], r["gap"]) for r in body["rows"]] == [
        ("BAIPING", 18, 0, 18),
        ("DAYE", 30, 6, 24),
    ]
    assert body["items"][0] == {
        "item": "LJ",
        "gap": 42,
        "uncovered": 42,
        "unit_cost": "120.00",
        "cost": "5040.00",
        "transferable": 10,
        "to_buy": 32,
        "to_buy_cost": "3840.00",
    }
    assert body["budget_total"] == "5040.00"
    assert body["transfers"] == [{"from": "WH", "to": "BAIPING", "item": "LJ", "qty": 10}]
    scoped = reader.get("/api/v1/reports/shortfall?unit=DAYE").get_json()
    assert [r["unit"] for r in scoped["rows"]] == ["DAYE"]
    assert reader.get("/api/v1/reports/shortfall?as_of=2022-06-30").get_json()["rows"] == []
    assert reader.get("/api/v1/reports/shortfall?as_of=yesterday").status_code == 422
    assert reader.get("/api/v1/reports/shortfall?format=doc").status_code == 400
    clerk = api(town["tokens"]["clerk"])
    assert clerk.get("/api/v1/reports/shortfall?unit=BAIPING").status_code == 403
    assert [r["unit"] for r in clerk.get("/api/v1/reports/shortfall").get_json()["rows"]] == [
        "DAYE"
    ]

    csv = reader.get("/api/v1/reports/shortfall?format=csv")
    assert csv.mimetype == "text/csv"
    assert "白坪派出所,救生衣,18,0" in csv.get_data(as_text=True)
    xlsx = reader.get("/api/v1/reports/shortfall?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[2]][:4] == ["白坪派出所", "救生衣", 18, 0]
    pdf = reader.get("/api/v1/reports/shortfall?format=pdf")
    assert pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "应急装备缺口及采购预算表" in text
    assert "白坪派出所" in text and "5,040.00" in text
    assert "第 1 版" in text

"""Allocations through the API and the pages: the names and journeys users rely on."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from inventory import standard
from inventory.models import Allocation, Position
from readiness.permissions import SYSTEM
from tests.conftest import post_form
from tests.inventory.test_api import pdf_text


@pytest.fixture
def town(session, make_unit, make_item, make_user, make_token, stock):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    st = make_unit("DAYE", name="大冶派出所", headcount=28)
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    make_item("BOAT", name="冲锋舟", unit_cost="25000.00")
    stock(wh, jackets, 100)
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        actor=SYSTEM,
        lines=[standard.StandardLineInput("station", "LJ", "2", "1")],
    )
    session.commit()
    users = {
        "clerk": make_user("clerk1", "clerk", st),
        "keeper": make_user("keeper1", "keeper", wh),
        "cmd": make_user("cmd1", "command", None),
        "cmd2": make_user("cmd2", "command", None),
    }
    return {"wh": wh, "st": st, "tokens": {k: make_token(u) for k, u in users.items()}}


def on_hand(session, unit):
    session.expire_all()
    return sum(session.scalars(select(Position.qty).where(Position.unit_id == unit.id)))


def test_api_life_cycle(api, town, session):
    t = town["tokens"]
    r = api(t["clerk"]).post(
        "/api/v1/allocations",
        json={
            "from": "WH",
            "to": "DAYE",
            "lines": [{"item": "LJ", "qty": 24}],
            "reason": "大冶所救生衣不足",
            "emergency": False,
            "draft": False,
        },
    )
    assert r.status_code == 201 and r.get_json()["status"] == "submitted"
    aid = r.get_json()["id"]
    assert api(t["clerk"]).post(f"/api/v1/allocations/{aid}/approve").status_code == 403
    assert api(t["keeper"]).post(f"/api/v1/allocations/{aid}/dispatch").status_code == 409
    r = api(t["cmd"]).post(
        f"/api/v1/allocations/{aid}/approve",
        json={"lines": [{"item": "LJ", "qty": 20}], "reason": "先配 20 件"},
    )
    assert r.status_code == 200
    body = api(t["clerk"]).get(f"/api/v1/allocations/{aid}").get_json()
    assert body["status"] == "approved" and body["approvals"] == ["cmd1"]
    assert body["lines"] == [
        {"item": "LJ", "requested": 24, "approved": 20, "dispatched": None, "received": None}
    ]
    assert body["value"] == "2400.00" and body["emergency"] is False
    shortfall = api(t["cmd"]).get("/api/v1/reports/shortfall?unit=DAYE").get_json()
    assert shortfall["rows"][0]["inbound"] == 20
    assert api(t["clerk"]).post(f"/api/v1/allocations/{aid}/dispatch").status_code == 403
    assert api(t["keeper"]).post(f"/api/v1/allocations/{aid}/dispatch").status_code == 200
    r = api(t["clerk"]).post(
        f"/api/v1/allocations/{aid}/receive", json={"lines": [{"item": "LJ", "qty": 19}]}
    )
    assert r.status_code == 422  # short receipt without a reason
    r = api(t["clerk"]).post(
        f"/api/v1/allocations/{aid}/receive",
        json={"lines": [{"item": "LJ", "qty": 19}], "reason": "破损 1 件"},
    )
    assert r.status_code == 200 and r.get_json()["lines"][0]["received"] == 19
    assert (on_hand(session, town["wh"]), on_hand(session, town["st"])) == (80, 19)
    again = api(t["cmd"]).post(f"/api/v1/allocations/{aid}/cancel")
    assert again.status_code == 409
    assert "不能执行此操作" in again.get_json()["error"]["message"]


def test_api_threshold_and_bad_input(api, town, session):
    t = town["tokens"]
    r = api(t["cmd"]).post(
        "/api/v1/allocations",
        json={
            "from": "WH",
            "to": "DAYE",
            "lines": [{"item": "BOAT", "qty": 2}],
            "reason": "冲锋舟",
            "draft": True,
        },
    )
    aid = r.get_json()["id"]
    assert r.get_json()["status"] == "draft"
    assert api(t["cmd"]).post(f"/api/v1/allocations/{aid}/submit").status_code == 200
    # The requester (cmd1) may not approve; cmd2 gives the first of two approvals.
    assert api(t["cmd"]).post(f"/api/v1/allocations/{aid}/approve").status_code == 403
    body = api(t["cmd2"]).post(f"/api/v1/allocations/{aid}/approve").get_json()
    assert body["status"] == "submitted" and body["approvals_needed"] == 2
    for bad in (
        {"lines": []},
        {"lines": [{"item": "LJ", "qty": 0}]},
        {"lines": [{"item": "NOPE", "qty": 1}]},
        {"from": "DAYE"},
        {"from": "NOPE"},
        {"reason": ""},
        {"lines": [{"item": "LJ", "qty": "5"}]},
    ):
        payload = {
            "from": "WH",
            "to": "DAYE",
            "lines": [{"item": "LJ", "qty": 1}],
            "reason": "x",
            **bad,
        }
        response = api(t["clerk"]).post("/api/v1/allocations", json=payload)
        assert response.status_code == 422, (bad, response.get_json())
    assert (
        api(t["clerk"])
        .post(
            "/api/v1/allocations",
            json={"from": "DAYE", "to": "WH", "lines": [{"item": "LJ", "qty": 1}], "reason": "x"},
        )
        .status_code
        == 403
    )
    assert session.scalars(select(Allocation)).all().__len__() == 1


def test_pages_journey_with_slip(login, app, town, session):
    clerk = login("clerk1")
    page = clerk.get("/allocations/new").get_data(as_text=True)
    assert "申请调拨" in page
    r = post_form(
        clerk,
        "/allocations/new",
        {"from": "WH", "to": "DAYE", "item-0": "LJ", "qty-0": "10", "reason": "补齐救生衣"},
    )
    assert r.status_code == 302
    aid = int(re.search(r"/allocations/(\d+)", r.location).group(1))
    bad = post_form(
        clerk,
        "/allocations/new",
        {"from": "WH", "to": "DAYE", "item-0": "LJ", "qty-0": "-1", "reason": "x"},
    )
    assert "数量" in bad.get_data(as_text=True)
    cmd = app.test_client()
    post_form(cmd, "/login", {"username": "cmd1", "password": "secret-pass-1"})
    queue = cmd.get("/allocations").get_data(as_text=True)
    assert "待审批" in queue and "缺 30" in queue  # shortfall context in the queue
    r = post_form(cmd, f"/allocations/{aid}/approve", {})
    assert "已批准调拨单" in cmd.get(r.location).get_data(as_text=True)
    keeper = app.test_client()
    post_form(keeper, "/login", {"username": "keeper1", "password": "secret-pass-1"})
    post_form(keeper, f"/allocations/{aid}/dispatch", {})
    post_form(clerk, f"/allocations/{aid}/receive", {})
    detail = clerk.get(f"/allocations/{aid}").get_data(as_text=True)
    assert "已接收" in detail
    assert detail.index("allocation.approve") < detail.index("allocation.dispatch")
    slip = clerk.get(f"/allocations/{aid}/slip.pdf")
    assert slip.mimetype == "application/pdf"
    text = pdf_text(slip.data)
    assert "应急物资调拨单" in text and "中心仓库" in text and "大冶派出所" in text
    assert "cmd1" in text or "审批人" in text
    assert on_hand(session, town["st"]) == 10


def test_one_click_from_a_suggested_transfer(login, town, session):
    cmd = login("cmd1")
    page = cmd.get("/reports/shortfall").get_data(as_text=True)
    assert "生成调拨草稿" in page
    r = post_form(
        cmd, "/allocations/from-suggestion", {"from": "WH", "to": "DAYE", "item": "LJ", "qty": "30"}
    )
    a = session.scalar(select(Allocation))
    assert r.location == f"/allocations/{a.id}"
    assert (a.status, a.lines[0].requested) == ("draft", 30)

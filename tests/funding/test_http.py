"""The money journeys over HTTP: the API's contract (purchase requests, decisions, funds) and
the pages command staff, approvers and receiving units use, each bureau in its own reach."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from funding import fund
from funding.models import Decision, FundEntry, PurchaseRequest
from tests.conftest import post_form
from tests.pdfcheck import assert_fonts_embedded, pdf_text

PUMPS = [{"unit": "WH", "item": "PUMP", "qty": 7, "unit_price": "8500"}]  # 59,500.00


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_the_api_goes_from_a_draft_to_a_decided_funded_purchase_that_is_delivered(
    api, make_token, session, office
):
    drafter = api(make_token(office["drafter"]))
    approver = api(make_token(office["approver"]))
    r = drafter.post(
        "/api/v1/purchase-requests",
        json={"unit": "DF", "title": "关于申请购置排水泵的请示", "lines": PUMPS},
    )
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["status"] == "draft" and made["total"] == "59500.00"
    assert (
        made["lines"][0]["unit_price"] == "8500.00" and made["total_in_words"] == "伍万玖仟伍佰元整"
    )
    pdf = drafter.get(f"/api/v1/purchase-requests/{made['id']}?format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert_fonts_embedded(pdf.data, "purchase request")
    text = pdf_text(pdf.data)
    for words in (
        "关于申请购置排水泵的请示",
        "伍万玖仟伍佰元整",
        "59,500.00",
        "市局党委、市财政局",
        "盖章",
    ):
        assert words in text, words
    assert drafter.post(f"/api/v1/purchase-requests/{made['id']}/submit").status_code == 200
    approval = {"approved_amount": "59500", "funding_source": "reserve_fund"}
    own = drafter.post(f"/api/v1/purchase-requests/{made['id']}/approve", json=approval)
    assert own.status_code == 403
    r = approver.post(f"/api/v1/purchase-requests/{made['id']}/approve", json=approval)
    assert r.status_code == 409 and "集体决策" in r.get_json()["error"]["message"]
    assert session.get(PurchaseRequest, made["id"]).status == "submitted"
    d = drafter.post(
        "/api/v1/decisions",
        json={
            "unit": "DF",
            "met_on": date.today().isoformat(),
            "attendees": ["deputy1", "deputy2", "chief"],
            "subject": "购置排水泵 7 台",
            "decision": "同意，从储备金列支",
            "amount": 59500,
        },
    )
    assert d.status_code == 201, d.get_json()
    decision = d.get_json()
    assert decision["attendees"][-1]["username"] == "chief" and decision["members_total"] == 4
    r = approver.post(
        f"/api/v1/purchase-requests/{made['id']}/approve",
        json={**approval, "decision": decision["id"]},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "approved" and r.get_json()["decision"] == decision["id"]
    money = approver.get("/api/v1/funds/DF").get_json()
    assert money["balance"] == "240500.00"
    assert (
        money["entries"][0]["kind"] == "purchase" and money["entries"][0]["amount"] == "-59500.00"
    )
    shortfall = approver.get("/api/v1/reports/shortfall?unit=WH").get_json()
    # the warehouse has no standard for pumps: the on-order line shows in the purchase only
    assert all(row["on_order"] >= 0 for row in shortfall["rows"])
    keeper = api(make_token(office["keeper"]))
    line = made["lines"][0]["id"]
    r = keeper.post(
        f"/api/v1/purchase-requests/{made['id']}/deliveries",
        json={"line": line, "qty": 2},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["purchase"]["lines"][0]["expected"] == 5
    again = keeper.post(
        f"/api/v1/purchase-requests/{made['id']}/deliveries",
        json={"line": line, "qty": 1, "request_key": "k-1"},
    )
    twice = keeper.post(
        f"/api/v1/purchase-requests/{made['id']}/deliveries",
        json={"line": line, "qty": 1, "request_key": "k-1"},
    )
    assert again.status_code == twice.status_code == 201
    assert again.get_json()["id"] == twice.get_json()["id"]
    assert twice.get_json()["purchase"]["lines"][0]["expected"] == 4  # recorded once
    too_many = keeper.post(
        f"/api/v1/purchase-requests/{made['id']}/deliveries",
        json={"line": line, "qty": 6},
    )
    assert too_many.status_code == 409 and "尚待到货 4" in too_many.get_json()["error"]["message"]


def test_from_shortfall_over_the_api_and_on_order_in_the_shortfall(api, make_token, office):
    drafter = api(make_token(office["drafter"]))
    approver = api(make_token(office["approver"]))
    r = drafter.post(
        "/api/v1/purchase-requests",
        json={"unit": "DF", "title": "按缺口购置", "from_shortfall": True},
    )
    assert r.status_code == 201
    made = r.get_json()
    lines = {(ln["unit"], ln["item"]): ln["qty"] for ln in made["lines"]}
    assert lines[("DAYE", "LJ")] == 24 and lines[("JUNZHAO", "LJ")] == 6
    drafter.post(f"/api/v1/purchase-requests/{made['id']}/submit")
    r = approver.post(
        f"/api/v1/purchase-requests/{made['id']}/approve",
        json={"approved_amount": made["total"], "funding_source": "finance"},
    )
    assert r.status_code == 200
    rows = approver.get("/api/v1/reports/shortfall?unit=DF").get_json()["rows"]
    daye = next(x for x in rows if (x["unit"], x["item"]) == ("DAYE", "LJ"))
    assert (daye["gap"], daye["on_order"], daye["uncovered"]) == (24, 24, 0)


def test_another_bureau_sees_none_of_it(
    api, make_token, session, office, decide, make_unit, make_user
):
    other = make_unit("WL", kind="bureau", parent=None)
    stranger = api(make_token(make_user("wl-boss", "command", other)))
    decision = decide("1000")
    r = api(make_token(office["drafter"])).post(
        "/api/v1/purchase-requests", json={"unit": "DF", "title": "x", "lines": PUMPS}
    )
    request_id = r.get_json()["id"]
    assert stranger.get(f"/api/v1/purchase-requests/{request_id}").status_code == 404
    assert stranger.get(f"/api/v1/purchase-requests/{request_id}?format=pdf").status_code == 404
    assert stranger.get(f"/api/v1/decisions/{decision.id}").status_code == 404
    assert stranger.get("/api/v1/funds/DF").status_code == 404
    assert stranger.get("/api/v1/purchase-requests").get_json()["rows"] == []
    assert stranger.get("/api/v1/decisions").get_json()["rows"] == []
    refused = stranger.post(
        "/api/v1/decisions",
        json={
            "unit": "DF",
            "met_on": date.today().isoformat(),
            "attendees": ["chief"],
            "subject": "x",
            "decision": "x",
            "amount": 1,
        },
    )
    assert refused.status_code == 404
    assert stranger.post(f"/api/v1/purchase-requests/{request_id}/submit").status_code == 404
    assert _count(session, Decision) == 1
    clerk = api(make_token(office["clerk"]))
    assert clerk.get("/api/v1/funds/DF").status_code == 403


def test_bad_money_and_dates_are_refused_by_name_and_change_nothing(
    api, make_token, session, office
):
    drafter = api(make_token(office["drafter"]))
    r = drafter.post(
        "/api/v1/funds/DF/appropriations",
        json={"amount": "12.345", "reference": "x", "booked_on": "2026-13-01"},
    )
    assert r.status_code == 422
    message = r.get_json()["error"]["message"]
    assert "最多 2 位小数" in message and "记账日期" in message
    assert (
        drafter.post(
            "/api/v1/funds/DAYE/appropriations", json={"amount": 1, "reference": "x"}
        ).status_code
        == 422
    )  # a station has no fund of its own
    r = drafter.post(
        "/api/v1/purchase-requests",
        json={
            "unit": "DF",
            "title": "x",
            "lines": [{"unit": "DAYE", "item": "LJ", "qty": "ten", "unit_price": "-1"}],
        },
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "qty-0"
    assert _count(session, PurchaseRequest) == 0 and _count(session, FundEntry) == 1


def test_the_pages_from_the_shortfall_to_an_approved_purchase(login, session, office, decide):
    client = login("drafter")
    page = client.get("/purchases").get_data(as_text=True)
    assert "新建购置申请" in page
    r = post_form(
        client, "/purchases/new", {"title": "关于申请购置应急装备物资的请示", "from_shortfall": "1"}
    )
    assert r.status_code == 302
    request = session.scalars(select(PurchaseRequest)).one()
    detail = client.get(r.location).get_data(as_text=True)
    assert "草稿" in detail and "编辑草稿" in detail and "人民币" in detail
    # a bad line keeps what was typed and names every problem
    form = {"title": request.title, "addressee": request.addressee, "basis": request.basis}
    for n, line in enumerate(request.lines):
        form.update(
            {
                f"unit-{n}": line.unit.code,
                f"item-{n}": line.item.code,
                f"qty-{n}": str(line.qty),
                f"unit_price-{n}": str(line.unit_price),
            }
        )
    n = len(request.lines)
    bad = post_form(
        client,
        f"/purchases/{request.id}/edit",
        {
            **form,
            f"unit-{n}": "WH",
            f"item-{n}": "PUMP",
            f"qty-{n}": "三",
            f"unit_price-{n}": "8500",
        },
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "数量必须是整数" in text and 'value="三"' in text
    ok = post_form(
        client,
        f"/purchases/{request.id}/edit",
        {
            **form,
            f"unit-{n}": "WH",
            f"item-{n}": "PUMP",
            f"qty-{n}": "3",
            f"unit_price-{n}": "8500",
        },
    )
    assert ok.status_code == 302
    session.expire_all()
    assert session.get(PurchaseRequest, request.id).total == Decimal("63100.00")
    assert post_form(client, f"/purchases/{request.id}/submit").status_code == 302
    pdf = client.get(f"/purchases/{request.id}/document.pdf")
    assert pdf.status_code == 200 and "陆万叁仟壹佰元整" in pdf_text(pdf.data)
    # the drafter is told someone else approves; the approver needs a decision
    assert "须由另一位指挥部人员审批" in client.get(f"/purchases/{request.id}").get_data(
        as_text=True
    )
    approver = login("approver")
    refused = post_form(
        approver,
        f"/purchases/{request.id}/approve",
        {
            "approved_amount": "63100",
            "funding_source": "reserve_fund",
            "decision": "",
            "booked_on": "",
        },
    )
    assert refused.status_code == 409
    assert "三重一大" in refused.get_data(as_text=True)
    entry = decide("63100")
    done = post_form(
        approver,
        f"/purchases/{request.id}/approve",
        {
            "approved_amount": "63100",
            "funding_source": "reserve_fund",
            "decision": str(entry.id),
            "booked_on": date.today().isoformat(),
        },
    )
    assert done.status_code == 302
    session.expire_all()
    assert session.get(PurchaseRequest, request.id).status == "approved"
    assert fund.balance(session, office["bureau"].id) == Decimal("236900.00")
    funds = approver.get("/funds").get_data(as_text=True)
    assert "236,900.00" in funds and "采购支出" in funds
    for fmt in ("csv", "xlsx", "pdf"):
        assert approver.get(f"/funds?bureau=DF&format={fmt}").status_code == 200
    # the receiving station posts its life jackets
    clerk = login("clerk")
    listing = clerk.get("/purchases/deliveries").get_data(as_text=True)
    assert "救生衣" in listing and "应急物资中心仓库" not in listing  # not the warehouse's lines
    line = next(
        ln
        for ln in session.get(PurchaseRequest, request.id).lines
        if ln.unit.code == "DAYE" and ln.item.code == "LJ"
    )
    r = post_form(clerk, "/purchases/deliveries/receive", {"line": str(line.id), "qty": "24"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(type(line), line.id).expected == 0


def test_decisions_and_the_leadership_group_on_their_pages(login, session, office):
    client = login("drafter")
    page = client.get("/decisions").get_data(as_text=True)
    assert "张局长" in page and "至少 3 人到会" in page
    form = {
        "met_on": date.today().isoformat(),
        "subject": "2026 年汛前应急装备购置",
        "decision": "同意",
        "amount": "80000",
        "outcome": "approved",
    }
    # members in the group's order: deputy1, deputy2, deputy3, chief (head last)
    bad = post_form(
        client,
        "/decisions",
        {**form, "subject": "", "present-0": "1", "order-0": "1", "present-3": "1", "order-3": "2"},
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请填写决策事项" in text and "不足法定人数" in text and "80000" in text
    good = post_form(
        client,
        "/decisions",
        {
            **form,
            **{f"present-{n}": "1" for n in range(4)},
            **{f"order-{n}": str(n + 1) for n in range(4)},
            "position-2": "reserve",
            "remark-2": "建议分批",
        },
    )
    assert good.status_code == 302
    # the same form sent again (a double click, a retry) records it once
    again = post_form(
        client,
        "/decisions",
        {
            **form,
            **{f"present-{n}": "1" for n in range(4)},
            **{f"order-{n}": str(n + 1) for n in range(4)},
            "request_key": "form-1",
        },
    )
    twice = post_form(
        client,
        "/decisions",
        {
            **form,
            **{f"present-{n}": "1" for n in range(4)},
            **{f"order-{n}": str(n + 1) for n in range(4)},
            "request_key": "form-1",
        },
    )
    assert again.location == twice.location
    assert session.scalar(select(func.count()).select_from(Decision)) == 2
    detail = client.get(good.location).get_data(as_text=True)
    assert "末位表态" in detail and "建议分批" in detail and "未上传" in detail
    entry = session.scalars(select(Decision).order_by(Decision.id)).first()
    pdf = b"%PDF-1.4\n% minutes\n"
    up = client.post(
        f"/decisions/{entry.id}",
        data={
            "csrf_token": _token(client, f"/decisions/{entry.id}"),
            "minutes": (__import__("io").BytesIO(pdf), "纪要.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert up.status_code == 302, up.get_data(as_text=True)
    got = client.get(f"/decisions/{entry.id}/minutes")
    assert got.status_code == 200 and got.data == pdf
    lead = client.get("/decisions/leadership").get_data(as_text=True)
    assert "deputy3" in lead
    two_heads = post_form(
        client,
        "/decisions/leadership",
        {"username-0": "deputy1", "title-0": "副局长", "username-1": "keeper", "head": ""},
    )
    assert two_heads.status_code == 422
    assert "主要负责人" in two_heads.get_data(as_text=True)
    assert login("keeper").get("/decisions").status_code == 403


def _token(client, path: str) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, path)

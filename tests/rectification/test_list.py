"""The rectification list (整改清单, issue 17 item 3): every problem of a unit subtree with its
measures, responsible unit and person, due date, state (evidence, verifier) and closing day,
and the totals the reports quote — closed means verified or cancelled, "done, awaiting
verification" is still open — as a page, CSV, XLSX, PDF and the API, never beyond the
reader's reach."""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from readiness.errors import DomainError
from rectification import actions
from rectification.models import CorrectiveAction
from rectification.reports import RectificationList, rectification_list, totals_sentence
from rectification.visits import VisitFinding, record_visit
from tests.pdfcheck import assert_fonts_embedded, pdf_text

TODAY = date.today()
LATER = TODAY + timedelta(days=30)
PAST = TODAY - timedelta(days=5)
LOCAL = ZoneInfo("Asia/Shanghai")
FORMULA = '=HYPERLINK("http://example.invalid","台账缺失")'
HEADER = ["序号", "问题", "整改措施", "责任单位", "责任人", "完成时限", "完成情况", "销号日期"]


@pytest.fixture
def world(session, make_unit, make_user):
    """Dengfeng's bureau: a visit to Daye with five findings (verified, cancelled, done but
    not verified and overdue, open and overdue, open), a visit to Ludian 40 days ago with one,
    a self-inspection; and Wenling's bureau with a visit of its own."""
    df = make_unit("DF", name="登封市公安局", kind="bureau", parent=None)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    ludian = make_unit("LUDIAN", name="卢店派出所", parent=df)
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    wl_town = make_unit("WLCB", name="城北街道", parent=wl)
    w = {
        "df": df,
        "daye": daye,
        "ludian": ludian,
        "wl": wl,
        "insp": make_user("insp1", "inspector", df, name="王督察"),
        "cmd": make_user("cmd1", "command", df),
        "chen": make_user("chen", "clerk", daye, name="陈刚"),
        "lu": make_user("lu", "clerk", ludian, name="卢明"),
        "wl_insp": make_user("wl-insp", "inspector", wl),
        "wl_clerk": make_user("wl-clerk", "clerk", wl_town),
    }

    def found(text, unit, owner, **kw):
        return VisitFinding(text=text, unit=unit, owner=owner, due_on=LATER, **kw)

    v1 = record_visit(
        session,
        kind="supervision",
        unit=df,
        visited_on=TODAY - timedelta(days=10),
        team="王督察",
        summary="汛前督察",
        findings=[
            found("应急物资台账缺失", daye, w["chen"], measures="建立台账", leader="张副局长"),
            found("值班表未上墙", daye, w["chen"]),
            found("救生衣过期未更换", daye, w["chen"]),
            found("仓库无温湿度记录", daye, w["chen"]),
            found(FORMULA, daye, w["chen"], measures="@SUM(1)补录"),
        ],
        actor=w["insp"],
    )
    v2 = record_visit(
        session,
        kind="follow_up",
        unit=df,
        visited_on=TODAY - timedelta(days=40),
        team="",
        summary="",
        findings=[found("卢店冲锋舟未检修", ludian, w["lu"])],
        actor=w["cmd"],
    )
    wl_visit = record_visit(
        session,
        kind="check",
        unit=wl,
        visited_on=TODAY,
        team="",
        summary="",
        findings=[found("城北街道物资不足", wl_town, w["wl_clerk"])],
        actor=w["wl_insp"],
    )
    self_check = CorrectiveAction(
        source="self",
        text="自查：应急灯不亮",
        owner=w["chen"],
        unit_id=daye.id,
        due_on=LATER,
        created_at=datetime.combine(TODAY - timedelta(days=3), time(12), UTC),
    )
    session.add(self_check)
    session.flush()
    verified, cancelled, awaiting, late, _formula = v1.actions
    actions.mark_done(session, verified, "台账已建立，见照片", actor=w["chen"])
    actions.verify_action(session, verified, actor=w["insp"])
    actions.cancel_action(session, cancelled, "与另一问题重复", actor=w["cmd"])
    actions.mark_done(session, awaiting, "已更换 20 件", actor=w["chen"])
    awaiting.due_on = PAST
    late.due_on = PAST
    session.commit()
    w.update(v1=v1, v2=v2, wl_visit=wl_visit, self_check=self_check)
    w.update(verified=verified, cancelled=cancelled, awaiting=awaiting, late=late)
    return w


def scope(session, unit) -> set[int]:
    from readiness.permissions import unit_ids_below

    return unit_ids_below(session, unit.id)


def test_totals_closed_is_verified_or_cancelled_and_awaiting_verification_stays_open(
    session, world
):
    data = rectification_list(session, unit_ids=scope(session, world["df"]), today=TODAY)
    assert [r.action.text for r in data.rows] == [
        "应急物资台账缺失",
        "值班表未上墙",
        "救生衣过期未更换",
        "仓库无温湿度记录",
        FORMULA,
        "卢店冲锋舟未检修",
        "自查：应急灯不亮",
    ]
    assert [r.no for r in data.rows] == [1, 2, 3, 4, 5, 6, 7]
    # 7 problems: 2 closed (verified, cancelled); done-awaiting and late are overdue
    assert (data.total, data.closed, data.open, data.overdue, data.rate) == (7, 2, 5, 2, 0.286)
    by_text = {r.action.text: r for r in data.rows}
    assert by_text["救生衣过期未更换"].overdue and not by_text["救生衣过期未更换"].closed
    assert by_text["仓库无温湿度记录"].overdue
    assert not by_text["值班表未上墙"].overdue  # cancelled: closed, never overdue


def test_the_rate_is_closed_over_total_to_three_places_and_the_sentence_as_reports_say_it():
    wenling = RectificationList(rows=[], total=33, closed=26, open=7, overdue=3)
    assert wenling.rate == 0.788
    assert totals_sentence(wenling) == (
        "共 33 个问题，已完成整改 26 个，未完成 7 个，其中逾期 3 个，整改完成率 78.8%"
    )
    assert RectificationList(rows=[], total=0, closed=0, open=0, overdue=0).rate == 0


def test_closing_day_is_the_verification_day_or_the_day_it_was_cancelled(session, world):
    data = rectification_list(
        session, unit_ids=scope(session, world["daye"]), today=TODAY, tz=LOCAL
    )
    by_id = {r.action.id: r for r in data.rows}
    verified = world["verified"]
    assert by_id[verified.id].closed_on == verified.verified_at.astimezone(LOCAL).date()
    # the cancellation day comes from the audit log (written today)
    assert by_id[world["cancelled"].id].closed_on == datetime.now(LOCAL).date()
    assert by_id[world["awaiting"].id].closed_on is None


def test_another_bureaus_actions_never_appear(session, world):
    df = rectification_list(session, unit_ids=scope(session, world["df"]), today=TODAY)
    wl = rectification_list(session, unit_ids=scope(session, world["wl"]), today=TODAY)
    assert "城北街道物资不足" not in [r.action.text for r in df.rows]
    assert [r.action.text for r in wl.rows] == ["城北街道物资不足"]


def test_filters_by_source_visit_unit_and_period(session, world):
    df = scope(session, world["df"])

    def texts(**kw):
        return [r.action.text for r in rectification_list(session, today=TODAY, **kw).rows]

    assert texts(unit_ids=df, source="self") == ["自查：应急灯不亮"]
    assert texts(unit_ids=df, visit_id=world["v2"].id) == ["卢店冲锋舟未检修"]
    assert texts(unit_ids=scope(session, world["ludian"])) == ["卢店冲锋舟未检修"]
    # a visit's problems belong to the visit date; a self-inspection to the day it was entered
    assert texts(unit_ids=df, start=TODAY - timedelta(days=50), end=TODAY - timedelta(days=30)) == [
        "卢店冲锋舟未检修"
    ]
    assert texts(unit_ids=df, start=TODAY - timedelta(days=4)) == ["自查：应急灯不亮"]
    assert len(texts(unit_ids=df, end=TODAY - timedelta(days=10))) == 6
    # a visit of another bureau asked for by id still shows nothing outside the reach
    assert texts(unit_ids=df, visit_id=world["wl_visit"].id) == []


def test_an_unknown_source_and_a_period_ending_before_it_starts_are_refused(session, world):
    with pytest.raises(DomainError) as err:
        rectification_list(session, unit_ids=None, source="rumour", today=TODAY)
    assert err.value.field == "source"
    with pytest.raises(DomainError) as err:
        rectification_list(session, unit_ids=None, start=TODAY, end=PAST, today=TODAY)
    assert err.value.field == "to"


# ---------------------------------------------------------------- HTTP: page, files, API


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_page_shows_the_totals_in_words_and_the_table(world, client, login):
    login("insp1")
    page = client.get("/rectification").get_data(as_text=True)
    assert "共 7 个问题，已完成整改 2 个，未完成 5 个，其中逾期 2 个，整改完成率 28.6%" in page
    assert "应急物资台账缺失" in page and "台账已建立，见照片" in page and "王督察" in page
    assert "与另一问题重复" in page and "城北街道物资不足" not in page
    # the download buttons carry the filters
    page = client.get(f"/rectification?visit={world['v2'].id}&source=inspection")
    html = page.get_data(as_text=True)
    assert "共 1 个问题" in html
    assert f"visit={world['v2'].id}" in html and "format=pdf" in html


def test_page_refuses_bad_filters_naming_them(world, client, login):
    login("chen")
    r = client.get("/rectification?source=rumour")
    assert r.status_code == 422 and "rumour" in r.get_data(as_text=True)
    r = client.get("/rectification?from=2026-13-01")
    assert r.status_code == 422 and "from" in r.get_data(as_text=True)
    # a clerk of Daye does not see Ludian's visit
    assert client.get(f"/rectification?visit={world['v2'].id}").status_code == 404


def test_the_four_formats_carry_the_same_rows_and_totals(world, api, make_token, client, login):
    token = make_token(world["insp"])
    body = api(token).get("/api/v1/reports/rectification?unit=DAYE").get_json()
    assert {k: body[k] for k in ("total", "closed", "open", "overdue", "rate")} == {
        "total": 6,
        "closed": 2,
        "open": 4,
        "overdue": 2,
        "rate": 0.333,
    }
    first = body["rows"][0]
    assert first == {
        "no": 1,
        "action_id": world["verified"].id,
        "problem": "应急物资台账缺失",
        "measures": "建立台账",
        "unit": "DAYE",
        "owner": "chen",
        "leader": "张副局长",
        "due_on": LATER.isoformat(),
        "status": "verified",
        "evidence": "台账已建立，见照片",
        "verified_by": "insp1",
        "closed_on": first["closed_on"],
        "overdue": False,
        "source": "inspection",
        "visit_id": world["v1"].id,
    }
    assert first["closed_on"] and body["rows"][2]["overdue"] is True
    problems = [r["problem"] for r in body["rows"]]
    totals = "共 6 个问题，已完成整改 2 个，未完成 4 个，其中逾期 2 个，整改完成率 33.3%"

    rows = _csv(api(token).get("/api/v1/reports/rectification?unit=DAYE&format=csv").data)
    assert rows[0] == HEADER
    assert [r[1].removeprefix("'") for r in rows[1:-1]] == problems
    assert rows[-1][:2] == ["合计", totals]
    assert rows[1][4] == "陈刚（责任领导：张副局长）"
    assert (
        "已验证销号" in rows[1][6] and "台账已建立，见照片" in rows[1][6] and "王督察" in rows[1][6]
    )
    assert rows[1][7] == first["closed_on"]
    assert rows[3][6].startswith("已完成待验证（已逾期）")
    assert rows[2][6] == "已取消；取消原因：与另一问题重复"

    r = api(token).get("/api/v1/reports/rectification?unit=DAYE&format=xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    assert cells[0] == HEADER
    assert [row[1] for row in cells[1:-1]] == problems
    assert cells[-1][:2] == ["合计", totals]

    r = api(token).get("/api/v1/reports/rectification?unit=DAYE&format=pdf")
    assert r.mimetype == "application/pdf"
    assert_fonts_embedded(r.data)
    text = "".join(pdf_text(r.data).split())
    for needle in ("整改清单", "大冶派出所及其下级单位", "生成人", totals, "单位负责人（签字）"):
        assert "".join(needle.split()) in text
    for problem in ("应急物资台账缺失", "救生衣过期未更换", "卢店冲锋舟未检修"):
        assert (problem in text) == (problem in problems)

    # the page's downloads are the same files
    login("insp1")
    page_rows = _csv(client.get("/rectification?unit=DAYE&format=csv").data)
    assert page_rows == rows


def test_a_formula_typed_as_a_problem_comes_back_as_text(world, api, make_token):
    token = make_token(world["chen"])
    rows = _csv(api(token).get("/api/v1/reports/rectification?format=csv").data)
    texts = [r[1] for r in rows]
    assert "'" + FORMULA in texts and FORMULA not in texts
    assert "'@SUM(1)补录" in [r[2] for r in rows[:-1]]
    r = api(token).get("/api/v1/reports/rectification?format=xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    cell = next(row[1] for row in ws.iter_rows() if row[1].value == FORMULA)
    assert cell.data_type == "s"


def test_api_stays_in_the_callers_reach(world, api, make_token):
    wl = api(make_token(world["wl_insp"]))
    body = wl.get("/api/v1/reports/rectification").get_json()
    assert [r["problem"] for r in body["rows"]] == ["城北街道物资不足"]
    assert wl.get("/api/v1/reports/rectification?unit=DAYE").status_code == 403
    assert wl.get(f"/api/v1/reports/rectification?visit={world['v1'].id}").status_code == 404
    pdf = wl.get("/api/v1/reports/rectification?format=pdf").data
    assert "大冶派出所" not in pdf_text(pdf)
    # a clerk sees their own unit only
    clerk = api(make_token(world["lu"])).get("/api/v1/reports/rectification").get_json()
    assert [r["problem"] for r in clerk["rows"]] == ["卢店冲锋舟未检修"]


def test_api_filters_and_refusals(world, api, make_token, session):
    a = api(make_token(world["cmd"]))

    def problems(query):
        r = a.get("/api/v1/reports/rectification?" + query)
        assert r.status_code == 200, r.get_json()
        return [row["problem"] for row in r.get_json()["rows"]]

    assert problems("source=self") == ["自查：应急灯不亮"]
    assert problems(f"visit={world['v2'].id}") == ["卢店冲锋舟未检修"]
    assert problems("unit=LUDIAN") == ["卢店冲锋舟未检修"]
    start = (TODAY - timedelta(days=50)).isoformat()
    end = (TODAY - timedelta(days=30)).isoformat()
    assert problems(f"from={start}&to={end}") == ["卢店冲锋舟未检修"]
    before = session.scalar(select(func.count()).select_from(CorrectiveAction))
    for query, status, field in (
        ("source=rumour", 422, "source"),
        ("from=2026-02-30", 422, "from"),
        ("to=yesterday", 422, "to"),
        (f"from={TODAY}&to={PAST}", 422, "to"),
        ("visit=abc", 400, "visit"),
        ("format=docx", 400, None),
    ):
        r = a.get("/api/v1/reports/rectification?" + query)
        assert r.status_code == status, (query, r.get_json())
        if field:
            assert r.get_json()["error"]["field"] == field
    assert a.get("/api/v1/reports/rectification?visit=999999").status_code == 404
    assert a.get("/api/v1/reports/rectification?unit=NOPE").status_code == 404
    assert session.scalar(select(func.count()).select_from(CorrectiveAction)) == before
    empty = a.get("/api/v1/reports/rectification?source=count").get_json()
    assert (empty["rows"], empty["total"], empty["rate"]) == ([], 0, 0)

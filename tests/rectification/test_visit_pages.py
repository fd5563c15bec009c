"""Inspection visits on the web (issue 17): an inspection team records a visit and its
findings on a phone-friendly page; each finding reaches its responsible person as a
corrective action; a refused form keeps what was typed; the visit page says how many of its
problems are rectified."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from readiness.audit import AuditEntry
from rectification import actions
from rectification.models import CorrectiveAction, InspectionVisit
from rectification.visits import VisitFinding, record_visit
from tests.conftest import PASSWORD, post_form

TODAY = date.today()
LATER = TODAY + timedelta(days=30)
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def bureau(make_unit, make_user):
    df = make_unit("DF", name="登封市公安局", kind="bureau", parent=None)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    ludian = make_unit("LUDIAN", name="卢店派出所", parent=df)
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    return {
        "df": df,
        "daye": daye,
        "ludian": ludian,
        "wl": wl,
        "insp": make_user("insp1", "inspector", df, name="李督察"),
        "cmd": make_user("cmd1", "command", df, name="王指挥"),
        "owner": make_user("chen", "clerk", daye, name="陈刚"),
        "ludian_clerk": make_user("lu", "clerk", ludian, name="卢明"),
        "wl_insp": make_user("wl-insp", "inspector", wl),
    }


def signed_in(app, username: str):
    client = app.test_client()
    post_form(client, "/login", {"username": username, "password": PASSWORD})
    return client


def request_key(client) -> str:
    """The one-time key of a fresh visit form, as the browser holds it."""
    page = text(client.get("/visits/new"))
    return re.search(r'name="request_key" value="([^"]+)"', page).group(1)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def typed(**rows) -> dict:
    """The visit form as typed: the visit's facts, then finding rows (``row0={...}``)."""
    data = {
        "kind": "supervision",
        "unit": "DF",
        "visited_on": TODAY.isoformat(),
        "team": "李强、王敏",
        "summary": "汛前督察：抽查两个派出所",
        "rows": "3",
    }
    for name, row in rows.items():
        n = name.removeprefix("row")
        data.update({f"{field}-{n}": value for field, value in row.items()})
    return data


DAYE_ROW = {
    "text": "应急物资台账缺失",
    "unit": "DAYE",
    "owner": "chen",
    "due_on": LATER.isoformat(),
    "measures": "建立出入库台账，专人负责",
    "leader": "张副局长",
}
LUDIAN_ROW = {
    "text": "救生衣数量不足",
    "unit": "LUDIAN",
    "owner": "lu",
    "due_on": LATER.isoformat(),
    "measures": "按标准补齐救生衣",
    "leader": "赵副局长",
}


def test_an_inspector_records_a_visit_and_each_responsible_person_sees_their_action(
    app, session, bureau
):
    insp = signed_in(app, "insp1")
    home = text(insp.get("/"))
    assert 'href="/visits"' in home and "督察检查" in home
    assert "登记检查" in text(insp.get("/visits"))
    r = post_form(
        insp,
        "/visits/new",
        {**typed(row0=DAYE_ROW, row1=LUDIAN_ROW), "request_key": request_key(insp)},
    )
    assert r.status_code == 302
    visit = session.scalar(select(InspectionVisit))
    assert r.location == f"/visits/{visit.id}"
    page = text(insp.get(r.location))
    assert "已登记检查，2 个问题已交责任人整改。" in page
    assert "督察反馈的问题 2 个，已完成整改 0 个，未完成 2 个" in page
    assert "应急物资台账缺失" in page and "救生衣数量不足" in page
    assert [(a.source, a.unit.code, a.owner.username, a.leader) for a in visit.actions] == [
        ("inspection", "DAYE", "chen", "张副局长"),
        ("inspection", "LUDIAN", "lu", "赵副局长"),
    ]
    daye_action = visit.actions[0]
    assert f'href="/actions/{daye_action.id}"' in page
    # the responsible person finds it in the register and on the action's page
    chen = signed_in(app, "chen")
    register = text(chen.get("/actions"))
    assert "应急物资台账缺失" in register
    assert "救生衣数量不足" not in register  # another station's problem
    action_page = text(chen.get(f"/actions/{daye_action.id}"))
    assert "建立出入库台账，专人负责" in action_page and "汛前督察" not in action_page
    assert "来自检查" in action_page and "李强、王敏" in action_page
    # the visit reads, for a station, as its own problems only
    assert "李强、王敏" in text(chen.get("/visits"))
    own = text(chen.get(f"/visits/{visit.id}"))
    assert "应急物资台账缺失" in own and "救生衣数量不足" not in own
    assert "督察反馈的问题 1 个" in own and "只列出您所辖单位的问题" in own
    # a clerk reads visits but records none
    assert "登记检查" not in text(chen.get("/visits"))
    assert chen.get("/visits/new").status_code == 403
    assert chen.post("/visits/new").status_code in (400, 403)


def test_a_visit_that_found_nothing_is_recorded_and_says_so(app, session, bureau):
    insp = signed_in(app, "insp1")
    r = post_form(insp, "/visits/new", {**typed(), "request_key": request_key(insp)})
    assert r.status_code == 302
    page = text(insp.get(r.location))
    assert "本次检查未发现问题，已登记。" in page and "本次检查未发现问题。" in page
    assert count(session, CorrectiveAction) == 0


def test_a_refused_form_keeps_everything_typed_and_names_the_row(app, session, bureau):
    insp = signed_in(app, "insp1")
    audit_before = count(session, AuditEntry)
    past = (TODAY - timedelta(days=1)).isoformat()
    # the first row is fine, the second left empty, the third due yesterday
    bad = {**LUDIAN_ROW, "due_on": past}
    r = post_form(
        insp, "/visits/new", {**typed(row0=DAYE_ROW, row2=bad), "request_key": request_key(insp)}
    )
    assert r.status_code == 200
    page = text(r)
    # the filled rows come first: the refusal's "第 2 个问题" is the form's second row
    assert "第 2 个问题：完成时限不能早于今天。" in page
    assert re.search(r'id="finding-1"[^>]*>\s*<h3[^>]*>第 2 个问题 <span class="tag bad">', page)
    for value in ("李强、王敏", "汛前督察：抽查两个派出所", TODAY.isoformat()):
        assert value in page
    assert '<option value="supervision" selected>' in page
    assert re.search(
        r'<select id="unit" name="unit" data-picker>.*?<option value="DF" selected>', page
    )
    for n, row in ((0, DAYE_ROW), (1, bad)):
        assert f'name="text-{n}" rows="2" maxlength="5000">{row["text"]}<' in page
        assert f'name="measures-{n}" rows="2" maxlength="5000">{row["measures"]}<' in page
        assert f'name="leader-{n}" maxlength="60" value="{row["leader"]}"' in page
        assert f'name="due_on-{n}" type="date" min="{TODAY}" value="{row["due_on"]}"' in page
        unit_select = re.search(rf'<select id="unit-{n}".*?</select>', page).group(0)
        assert f'<option value="{row["unit"]}" selected>' in unit_select
        owner_select = re.search(rf'<select id="owner-{n}".*?</select>', page).group(0)
        assert f'<option value="{row["owner"]}" selected>' in owner_select
    assert 'name="text-2" rows="2" maxlength="5000"></textarea>' in page
    # nothing was written
    assert count(session, InspectionVisit) == 0
    assert count(session, CorrectiveAction) == 0
    assert count(session, AuditEntry) == audit_before


def test_a_person_outside_the_responsible_unit_is_refused_naming_the_row(app, session, bureau):
    insp = signed_in(app, "insp1")
    wrong = {**DAYE_ROW, "owner": "lu"}
    r = post_form(insp, "/visits/new", {**typed(row0=wrong), "request_key": request_key(insp)})
    assert "第 1 个问题：责任人 卢明 不属于责任单位 大冶派出所。" in text(r)
    assert count(session, InspectionVisit) == 0


def test_more_rows_keep_what_was_typed_and_record_nothing(app, session, bureau):
    insp = signed_in(app, "insp1")
    r = post_form(
        insp,
        "/visits/new",
        {**typed(row0=DAYE_ROW), "more": "1", "request_key": request_key(insp)},
    )
    page = text(r)
    assert r.status_code == 200
    assert 'name="text-7"' in page and 'name="text-8"' not in page
    assert 'name="rows" value="8"' in page
    assert "应急物资台账缺失" in page and "李强、王敏" in page
    assert count(session, InspectionVisit) == 0


def test_a_double_submit_records_once(app, session, bureau):
    insp = signed_in(app, "insp1")
    form = {**typed(row0=DAYE_ROW), "request_key": request_key(insp)}
    first = post_form(insp, "/visits/new", form)
    again = post_form(insp, "/visits/new", form)
    assert first.status_code == again.status_code == 302
    assert again.location == first.location
    assert "已经提交过，没有重复登记" in text(insp.get(again.location))
    assert count(session, InspectionVisit) == 1
    assert count(session, CorrectiveAction) == 1
    # a new form is a new visit
    post_form(insp, "/visits/new", {**form, "request_key": request_key(insp)})
    assert count(session, InspectionVisit) == 2


def test_another_bureaus_inspector_neither_reads_nor_lists_the_visit(app, session, bureau):
    visit = record_visit(
        session,
        kind="unannounced",
        unit=bureau["daye"],
        visited_on=TODAY,
        team="暗访组甲",
        summary="",
        findings=[VisitFinding("值班备勤不落实", bureau["daye"], bureau["owner"], LATER)],
        actor=bureau["insp"],
    )
    session.commit()
    other = signed_in(app, "wl-insp")
    assert other.get(f"/visits/{visit.id}").status_code == 404
    assert other.get("/visits/999999").status_code == 404
    listing = text(other.get("/visits"))
    assert "暗访组甲" not in listing and "大冶派出所" not in listing
    assert other.get("/visits?unit=DAYE").status_code == 403
    # while its own bureau reads it, and finds it by kind, unit and period
    insp = signed_in(app, "insp1")
    assert "值班备勤不落实" in text(insp.get(f"/visits/{visit.id}"))
    assert "暗访组甲" in text(insp.get(f"/visits?kind=unannounced&unit=DAYE&from={TODAY}"))
    assert "暗访组甲" not in text(insp.get("/visits?kind=follow_up"))
    assert "暗访组甲" not in text(insp.get("/visits?unit=LUDIAN"))
    assert "暗访组甲" not in text(insp.get(f"/visits?to={TODAY - timedelta(days=1)}"))
    assert insp.get("/visits?from=yesterday").status_code == 422


def _visit_in_every_state(session, b):
    """Five problems found 60 days ago: verified, cancelled, done awaiting verification,
    open and overdue, open and not yet due."""
    earlier = TODAY - timedelta(days=60)
    rows = [
        ("台账缺失", TODAY - timedelta(days=20)),
        ("标识不清", LATER),
        ("救生衣不足", LATER),
        ("值班不落实", TODAY - timedelta(days=1)),
        ("演练记录不全", LATER),
    ]
    visit = record_visit(
        session,
        kind="inspection_tour",
        unit=b["df"],
        visited_on=earlier,
        team="第三巡察组",
        summary="",
        findings=[VisitFinding(t, b["daye"], b["owner"], due) for t, due in rows],
        actor=b["insp"],
        today=earlier,
    )
    verified, cancelled, done, _overdue, _open = visit.actions
    actions.mark_done(session, verified, "已建立台账并张贴制度", actor=b["owner"])
    actions.verify_action(session, verified, actor=b["insp"])
    actions.cancel_action(session, cancelled, "场所已撤并", actor=b["cmd"])
    actions.mark_done(session, done, "已补齐 20 件", actor=b["owner"])
    session.commit()
    return visit


def test_the_progress_counts_only_verified_or_cancelled_as_rectified(app, session, bureau):
    visit = _visit_in_every_state(session, bureau)
    insp = signed_in(app, "insp1")
    page = text(insp.get(f"/visits/{visit.id}"))
    assert "巡察反馈的问题 5 个，已完成整改 2 个，未完成 3 个</strong>，其中逾期 1 个" in page
    # the rectification list: evidence and verifier of a verified one, overdue marked
    assert "已建立台账并张贴制度" in page and "验证人：李督察" in page
    assert "取消原因：场所已撤并" in page
    assert page.count('<span class="tag bad">已逾期</span>') == 1
    headers = re.findall(r"<th[^>]*>([^<]+)</th>", page)
    assert headers == [
        "序号",
        "问题",
        "整改措施",
        "责任单位",
        "责任人",
        "责任领导",
        "完成时限",
        "完成情况",
    ]
    listing = text(insp.get("/visits"))
    assert "5 个问题，已完成整改 2 个，未完成 3 个（逾期 1 个）" in listing


def test_the_pages_in_english_show_no_chinese(app, session, make_unit, make_user):
    hq = make_unit("HQ", name="Headquarters", kind="bureau", parent=None)
    st = make_unit("ST1", name="Station One", parent=hq)
    make_user("insp-en", "inspector", hq, name="Inspector")
    make_user("cmd-en", "command", hq, name="Commander")
    make_user("clerk-en", "clerk", st, name="Clerk")
    client = signed_in(app, "insp-en")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    data = {
        "kind": "follow_up",
        "unit": "HQ",
        "visited_on": TODAY.isoformat(),
        "team": "Team A",
        "summary": "Follow-up",
        "rows": "3",
        "text-0": "Log book missing",
        "unit-0": "ST1",
        "owner-0": "clerk-en",
        "due_on-0": LATER.isoformat(),
    }
    pages = [client.get("/visits/new"), client.get("/")]
    pages.append(post_form(client, "/visits/new", {**data, "due_on-0": "", "more": ""}))
    pages.append(post_form(client, "/visits/new", {**data, "more": "1"}))
    r = post_form(client, "/visits/new", {**data, "request_key": request_key(client)})
    assert r.status_code == 302
    pages += [client.get(r.location), client.get("/visits")]
    assert "Problems found by the" in text(pages[-2])
    assert "Problems: 1; rectified: 0; not yet: 1 (overdue: 0)" in text(pages[-1])
    for response in pages:
        html = text(response).replace('lang="zh-CN">中文<', "")
        assert not CJK.findall(html), (response.request.path, "".join(CJK.findall(html))[:80])

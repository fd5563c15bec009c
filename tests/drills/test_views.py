"""Drills through the pages: record one in a few minutes, close an action properly."""

import re
from datetime import date, timedelta

from sqlalchemy import select

from drills.models import CorrectiveAction, Drill
from tests.conftest import PASSWORD, post_form


def text(r):
    return r.get_data(as_text=True)


def test_record_a_drill_and_close_its_action_with_a_second_person(
    app, make_unit, make_user, login, session
):
    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    make_user("clerk1", "clerk", daye)
    make_user("owner1", "clerk", daye, name="张队长")
    make_user("insp1", "inspector", df)
    clerk = login("clerk1")
    r = post_form(
        clerk,
        "/drills/new",
        {
            "title": "防汛实战大练兵",
            "kind": "field_exercise",
            "held_on": "2022-08-10",
            "lead_unit": "DAYE",
            "participants": "40",
            "duration_minutes": "120",
            "finding-0": "救援绳使用不熟练",
            "owner-0": "owner1",
            "due-0": "2022-09-30",
            "element-0": "training",
            "objective-0": "15 分钟内完成群众转移",
            "rating-0": "S",
        },
    )
    assert r.status_code == 302
    drill = session.scalar(select(Drill))
    detail = text(clerk.get(f"/drills/{drill.id}"))
    assert "救援绳使用不熟练" in detail and "15 分钟内完成群众转移" in detail
    assert "<strong>S</strong>" in detail
    csv = clerk.get("/drills?format=csv")
    assert csv.mimetype == "text/csv" and "防汛实战大练兵" in csv.get_data(as_text=True)
    bad = post_form(
        clerk,
        "/drills/new",
        {"title": "", "kind": "tabletop", "held_on": "2022-08-10", "lead_unit": "DAYE"},
    )
    assert "请填写标题" in text(bad)
    action = session.scalar(select(CorrectiveAction))
    owner = app.test_client()
    post_form(owner, "/login", {"username": "owner1", "password": PASSWORD})
    r = post_form(owner, f"/actions/{action.id}/done", {"evidence": ""})
    assert "请填写整改证据" in text(owner.get(r.location))
    later = (date.today() + timedelta(days=30)).isoformat()
    r = post_form(owner, f"/actions/{action.id}/due", {"due_on": later, "reason": ""})
    assert "请填写原因" in text(owner.get(r.location))
    r = post_form(
        owner, f"/actions/{action.id}/due", {"due_on": "2022-10-31", "reason": "等培训教官到位"}
    )
    assert "新的完成期限不能早于今天" in text(owner.get(r.location))  # the past: refused
    post_form(owner, f"/actions/{action.id}/due", {"due_on": later, "reason": "等培训教官到位"})
    post_form(owner, f"/actions/{action.id}/done", {"evidence": "9月组织救援绳实操培训 2 次"})
    insp = app.test_client()
    post_form(insp, "/login", {"username": "insp1", "password": PASSWORD})
    page = text(insp.get(f"/actions/{action.id}"))
    assert "核验属实，销号" in page and "等培训教官到位" in page
    r = post_form(insp, f"/actions/{action.id}/verify", {})
    assert "已验证销号" in text(insp.get(r.location))
    session.refresh(action)
    assert action.status == "verified"
    listing = text(insp.get("/actions?status=verified"))
    assert re.search(r"救援绳使用不熟练", listing)
    xlsx = insp.get("/actions?format=xlsx")
    assert xlsx.mimetype.endswith("spreadsheetml.sheet") and len(xlsx.data) > 1000


def test_requirements_form_and_compliance_page(make_unit, make_user, login):
    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    make_unit("DAYE", name="大冶派出所", parent=df)
    make_user("cmd1", "command", df)
    client = login("cmd1")
    r = post_form(
        client, "/drills/requirements", {"station-field_exercise": "2", "station-flood_drill": "1"}
    )
    assert r.status_code == 302
    page = text(client.get("/drills/compliance?year=2022"))
    assert "大冶派出所" in page and "已逾期" in page
    bad = post_form(client, "/drills/requirements", {"station-field_exercise": "999"})
    assert "每年次数应为 1 到 365" in text(bad)


def test_planned_drills_appear_on_the_calendar(make_unit, make_user, login):
    from datetime import date, timedelta

    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    make_unit("DAYE", name="大冶派出所", parent=df)
    make_user("cmd1", "command", df)
    client = login("cmd1")
    ahead = date.today() + timedelta(days=40)
    post_form(
        client,
        "/drills/new",
        {
            "title": "汛前桌面推演",
            "kind": "tabletop",
            "held_on": ahead.isoformat(),
            "lead_unit": "DAYE",
        },
    )
    far = date.today() + timedelta(days=200)
    post_form(
        client,
        "/drills/new",
        {"title": "冬季推演", "kind": "tabletop", "held_on": far.isoformat(), "lead_unit": "DAYE"},
    )
    page = text(client.get("/drills/compliance"))
    calendar = page[page.index("演练计划日历") :]
    assert ahead.strftime("%Y-%m") in calendar and "汛前桌面推演" in calendar
    # beyond 90 days: counted, not listed
    assert "冬季推演" not in calendar and "另有 1 次计划中的演练不在此期间" in calendar

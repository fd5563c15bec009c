"""The demo tells the two reports' rectification stories truthfully: Wenling's inspection tour
with 33 problems in three groups (26 closed, 7 not), Dengfeng's check that found a task
reported done that was not; dates count back from today, so any year tells the same story."""

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from readiness import demo
from readiness.audit import AuditEntry
from rectification import demo as rectification_demo
from rectification.models import ActionReturn, CorrectiveAction, InspectionVisit
from rectification.visits import progress
from tests.conftest import post_form


def visits(session) -> dict[str, InspectionVisit]:
    return {v.unit.code: v for v in session.scalars(select(InspectionVisit))}


def test_wenling_tour_has_33_problems_in_three_groups_26_closed_7_open(session):
    demo.load(session)
    session.commit()
    wenling = visits(session)["WL"]
    assert wenling.kind == "inspection_tour" and "第三巡察组" in wenling.team
    groups = Counter(a.text.split("】")[0].lstrip("【") for a in wenling.actions)
    assert list(groups.values()) == [10, 13, 10]
    assert list(groups) == list(rectification_demo.GROUPS.values())
    p = progress(wenling, date.today())
    assert (p.total, p.closed, p.open) == (33, 26, 7)
    assert p.overdue >= 1
    statuses = Counter(a.status for a in wenling.actions)
    assert statuses == {"verified": 26, "in_progress": 7}
    # closed means verified by the team, never by whoever owns or reported it
    for a in wenling.actions:
        if a.status == "verified":
            assert a.verified_by.username == "wl-inspector" != a.owner.username
            assert a.evidence
    [returned] = [a for a in wenling.actions if a.returns]
    assert len(returned.returns) == 1 and "9个未修编" in returned.returns[0].reason
    assert returned.status == "in_progress" and returned.returns[0].evidence == "已完成"
    # owners are people of the units concerned
    assert all(a.owner.unit_id == a.unit_id for a in wenling.actions)
    assert {a.owner.username for a in wenling.actions} >= {"wl-law", "wl-office", "shitang"}


def test_dengfeng_check_returns_the_task_reported_done_but_not_done(session):
    demo.load(session)
    session.commit()
    dengfeng = visits(session)["DF"]
    assert dengfeng.kind == "check"
    [returned] = [a for a in dengfeng.actions if a.returns]
    assert returned.owner.username == "clerk" and returned.unit.code == "DF-DAYE"
    assert returned.status == "in_progress" and returned.evidence == ""
    back = returned.returns[0]
    assert back.done_by.username == "clerk" and back.returned_by.username == "inspector"
    assert "与实际不符" in back.reason
    # it was due and is still not done: overdue
    assert returned.due_on < date.today()
    assert progress(dengfeng, date.today()).overdue == 1
    # the audit log tells the same story, in order
    events = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_type == "corrective_actions")
        .where(AuditEntry.object_id == str(returned.id))
        .order_by(AuditEntry.id)
    ).all()
    assert events == ["action.create", "action.done", "action.return"]


def test_loading_the_demo_twice_adds_nothing(session):
    demo.load(session)
    session.commit()
    before = [
        session.scalar(select(func.count()).select_from(m))
        for m in (InspectionVisit, CorrectiveAction, ActionReturn)
    ]
    demo.load(session)
    session.commit()
    assert rectification_demo.load(session) is False
    after = [
        session.scalar(select(func.count()).select_from(m))
        for m in (InspectionVisit, CorrectiveAction, ActionReturn)
    ]
    assert after == before


@pytest.mark.parametrize("today", [date(2031, 1, 3), date(2040, 7, 1)])
def test_any_year_tells_the_same_story(session, today):
    """Loaded on another day the visits lie as far back, and the same problems are overdue."""
    demo.load(session, today=today)
    session.commit()
    by_unit = visits(session)
    wenling, dengfeng = by_unit["WL"], by_unit["DF"]
    assert wenling.visited_on == today - timedelta(days=rectification_demo.WENLING_DAYS_AGO)
    assert dengfeng.visited_on == today - timedelta(days=rectification_demo.DENGFENG_DAYS_AGO)
    p = progress(wenling, today)
    assert (p.total, p.closed, p.open, p.overdue) == (33, 26, 7, 3)
    assert progress(dengfeng, today).overdue == 1


def test_the_visit_reads_the_same_through_the_api(session, api, make_token):
    demo.load(session)
    session.commit()
    wenling = visits(session)["WL"]
    from readiness import services

    token = make_token(services.get_user(session, "wenling"))
    answer = api(token).get(f"/api/v1/inspection-visits/{wenling.id}").get_json()
    assert answer["progress"]["total"] == 33
    assert (answer["progress"]["closed"], answer["progress"]["open"]) == (26, 7)
    # Dengfeng's command staff do not reach Wenling's visit
    token = make_token(services.get_user(session, "command"))
    assert api(token).get(f"/api/v1/inspection-visits/{wenling.id}").status_code == 404


def test_wenling_training_page_shows_the_reports_certification_rate(session, client):
    """275 valid first-aid certificates over the town rescue teams' rosters (317): 86.75 %;
    the shelter sites' capacities are no team."""
    demo.load(session)
    session.commit()
    post_form(client, "/login", {"username": "wenling", "password": demo.DEMO_PASSWORD})
    page = client.get("/training").get_data(as_text=True)
    assert "86.75%" in page
    assert ">275<" in page


def test_the_visit_and_its_rectification_list_read_as_the_report_does(session, client):
    """The inspection team opens the Wenling visit and its list: 33 problems, 26 closed,
    7 open, 3 of them overdue — the report's own sentence."""
    demo.load(session)
    session.commit()
    wenling = visits(session)["WL"]
    post_form(client, "/login", {"username": "wl-inspector", "password": demo.DEMO_PASSWORD})
    page = client.get(f"/visits/{wenling.id}").get_data(as_text=True)
    assert "反馈的问题 33 个，已完成整改 26 个，未完成 7 个" in page
    assert "其中逾期 3 个" in page
    listing = client.get(f"/rectification?visit={wenling.id}").get_data(as_text=True)
    assert "共 33 个问题，已完成整改 26 个，未完成 7 个，其中逾期 3 个，整改完成率 78.8%" in listing


def test_the_clerk_sees_the_task_sent_back_among_their_actions(session, client):
    demo.load(session)
    session.commit()
    post_form(client, "/login", {"username": "clerk", "password": demo.DEMO_PASSWORD})
    page = client.get("/actions").get_data(as_text=True)
    assert "大冶派出所防汛应急预案未按局新修订的预案重新制订" in page

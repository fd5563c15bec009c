"""Inspection visits (issue 17): an inspection team records a visit and what it found; each
finding becomes a corrective action of the unit concerned, owned by its responsible person;
bad input is refused naming the problem and the field, with nothing written."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from readiness.audit import AuditEntry
from readiness.errors import DomainError, PermissionDenied
from rectification import actions
from rectification.models import CorrectiveAction, InspectionVisit
from rectification.visits import VisitFinding, progress, record_visit

TODAY = date.today()
LATER = TODAY + timedelta(days=30)


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
        "insp": make_user("insp1", "inspector", df),
        "cmd": make_user("cmd1", "command", df),
        "owner": make_user("chen", "clerk", daye, name="陈刚"),
        "ludian_clerk": make_user("lu", "clerk", ludian),
        "wl_insp": make_user("wl-insp", "inspector", wl),
    }


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def finding(b, **kw) -> VisitFinding:
    values = {
        "text": "应急物资台账缺失",
        "unit": b["daye"],
        "owner": b["owner"],
        "due_on": LATER,
        "measures": "建立出入库台账，专人负责",
        "leader": "张副局长",
    }
    return VisitFinding(**{**values, **kw})


def visit(session, b, findings, **kw):
    values = {
        "kind": "supervision",
        "unit": b["df"],
        "visited_on": TODAY,
        "team": "李强、王敏",
        "summary": "汛前督察",
        "findings": findings,
        "actor": b["insp"],
    }
    v = record_visit(session, **{**values, **kw})
    session.commit()
    return v


def test_each_finding_becomes_an_action_of_its_unit_for_its_responsible_person(session, bureau):
    v = visit(session, bureau, [finding(bureau), finding(bureau, text="值班备勤不落实")])
    assert [(a.source, a.unit_id, a.owner.username, a.status) for a in v.actions] == [
        ("inspection", bureau["daye"].id, "chen", "open"),
        ("inspection", bureau["daye"].id, "chen", "open"),
    ]
    first = v.actions[0]
    assert (first.measures, first.leader, first.due_on) == (
        "建立出入库台账，专人负责",
        "张副局长",
        LATER,
    )
    # the responsible person sees it in their own list
    mine = session.scalars(actions.actions_query(owner=bureau["owner"])).all()
    assert {a.id for a in mine} == {a.id for a in v.actions}
    entries = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert entries[-3:] == ["visit.record", "action.create", "action.create"]


def test_progress_counts_closed_as_verified_or_cancelled_only(session, bureau):
    v = visit(session, bureau, [finding(bureau) for _ in range(3)])
    done, verified, _open = v.actions
    actions.mark_done(session, done, "已建立台账", actor=bureau["owner"])
    actions.mark_done(session, verified, "已建立台账", actor=bureau["owner"])
    actions.verify_action(session, verified, actor=bureau["insp"])
    session.commit()
    p = progress(v, TODAY)
    # done and awaiting verification is not closed
    assert (p.total, p.closed, p.open, p.overdue, p.rate) == (3, 1, 2, 0, 0.333)
    assert progress(v, LATER + timedelta(days=1)).overdue == 2


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"text": "  "}, "findings", "第 1 个问题：请填写问题"),
        ({"owner": None}, "findings", "请指定责任人"),
        ({"unit": None}, "findings", "请选择责任单位"),
        ({"due_on": TODAY - timedelta(days=1)}, "findings", "完成时限不能早于今天"),
        ({"due_on": None}, "findings", "请填写完成时限"),
    ],
)
def test_a_bad_finding_is_refused_naming_it_and_nothing_is_written(
    session, bureau, change, field, words
):
    before = (count(session, InspectionVisit), count(session, CorrectiveAction))
    audit_before = count(session, AuditEntry)
    with pytest.raises(DomainError) as err:
        visit(session, bureau, [finding(bureau, **change)])
    session.rollback()
    assert err.value.field == field and words in err.value.message
    assert (count(session, InspectionVisit), count(session, CorrectiveAction)) == before
    assert count(session, AuditEntry) == audit_before


def test_the_owner_must_belong_to_the_unit_and_the_unit_to_the_visited_one(session, bureau):
    with pytest.raises(DomainError) as err:
        visit(session, bureau, [finding(bureau, owner=bureau["ludian_clerk"])])
    assert "lu" in err.value.message and "不属于责任单位 大冶派出所" in err.value.message
    session.rollback()
    with pytest.raises(DomainError) as err:
        visit(session, bureau, [finding(bureau)], unit=bureau["ludian"])
    assert "不是被检查单位 卢店派出所 或其下级单位" in err.value.message
    session.rollback()
    assert count(session, InspectionVisit) == 0


def test_the_visit_itself_is_checked(session, bureau):
    for change, field in (
        ({"kind": "picnic"}, "kind"),
        ({"visited_on": TODAY + timedelta(days=1)}, "visited_on"),
        ({"unit": None}, "unit"),
    ):
        with pytest.raises(DomainError) as err:
            visit(session, bureau, [finding(bureau)], **change)
        assert err.value.field == field
        session.rollback()
    assert count(session, InspectionVisit) == 0


def test_only_inspectors_and_command_of_the_bureau_record_a_visit(session, bureau):
    with pytest.raises(PermissionDenied):
        visit(session, bureau, [finding(bureau)], actor=bureau["owner"])
    session.rollback()
    with pytest.raises(PermissionDenied):
        visit(session, bureau, [finding(bureau)], actor=bureau["wl_insp"])
    session.rollback()
    assert count(session, InspectionVisit) == 0
    assert visit(session, bureau, [finding(bureau)], actor=bureau["cmd"]).id


def test_a_visit_that_found_nothing_is_recorded(session, bureau):
    v = visit(session, bureau, [])
    assert v.actions == [] and progress(v, TODAY).total == 0


# ---------------------------------------------------------------- API


def test_api_records_a_visit_and_answers_its_actions(bureau, api, make_token):
    token = make_token(bureau["insp"])
    r = api(token).post(
        "/api/v1/inspection-visits",
        json={
            "kind": "inspection_tour",
            "unit": "DF",
            "visited_on": TODAY.isoformat(),
            "team": ["李强", "王敏"],
            "summary": "巡察反馈",
            "findings": [
                {
                    "text": "应急物资台账缺失",
                    "unit": "DAYE",
                    "owner": "chen",
                    "due_on": LATER.isoformat(),
                    "measures": "建立台账",
                }
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["actions"] == [
        {
            "id": body["actions"][0]["id"],
            "text": "应急物资台账缺失",
            "measures": "建立台账",
            "leader": "",
            "unit": "DAYE",
            "owner": "chen",
            "due_on": LATER.isoformat(),
            "status": "open",
        }
    ]
    got = api(token).get(f"/api/v1/inspection-visits/{body['id']}").get_json()
    assert got["team"] == "李强、王敏" and got["kind"] == "inspection_tour"
    assert got["progress"] == {"total": 1, "closed": 0, "open": 1, "overdue": 0, "rate": 0.0}
    # the responsible person reads it; another bureau's inspector does not
    mine = api(make_token(bureau["owner"])).get(f"/api/v1/inspection-visits/{body['id']}")
    assert mine.status_code == 200
    other = api(make_token(bureau["wl_insp"])).get(f"/api/v1/inspection-visits/{body['id']}")
    assert other.status_code == 404


def test_api_refuses_an_unknown_owner_naming_the_finding(session, bureau, api, make_token):
    r = api(make_token(bureau["insp"])).post(
        "/api/v1/inspection-visits",
        json={
            "kind": "check",
            "unit": "DF",
            "visited_on": TODAY.isoformat(),
            "findings": [
                {"text": "x", "unit": "DAYE", "owner": "nobody", "due_on": LATER.isoformat()}
            ],
        },
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["message"] == "第 1 个问题：责任人 nobody 不存在。"
    assert count(session, InspectionVisit) == 0


def test_api_a_visit_without_findings_says_so(bureau, api, make_token):
    r = api(make_token(bureau["cmd"])).post(
        "/api/v1/inspection-visits",
        json={"kind": "follow_up", "unit": "DAYE", "visited_on": TODAY.isoformat()},
    )
    assert r.status_code == 201
    assert r.get_json()["actions"] == [] and "未发现问题" in r.get_json()["message"]


def test_the_responsible_person_opens_the_action_and_the_api_filters_by_source(
    session, bureau, login, api, make_token
):
    """The person responsible finds the visit's action on its page (where it was found, the
    measures, the leader) and reports it done; ?source= separates the register's sources."""
    from tests.conftest import post_form

    v = visit(session, bureau, [finding(bureau)])
    action = v.actions[0]
    client = login("chen")
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "来自检查" in page and "督察" in page and "建立出入库台账，专人负责" in page
    assert "张副局长" in page
    r = post_form(client, f"/actions/{action.id}/done", {"evidence": "已建立台账"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(CorrectiveAction, action.id).status == "done"
    token = make_token(bureau["insp"])
    listed = api(token).get("/api/v1/actions?source=inspection").get_json()["actions"]
    assert [(a["id"], a["source"], a["visit_id"]) for a in listed] == [
        (action.id, "inspection", v.id)
    ]
    assert api(token).get("/api/v1/actions?source=drill").get_json()["actions"] == []
    refused = api(token).get("/api/v1/actions?source=picnic")
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "source"
    csv = client.get("/actions?format=csv").get_data(as_text=True)
    assert "应急物资台账缺失" in csv and "督察检查" in csv


def test_api_a_station_reads_only_its_own_problems_of_a_bureau_wide_visit(
    session, bureau, api, make_token
):
    v = visit(
        session,
        bureau,
        [finding(bureau), finding(bureau, unit=bureau["ludian"], owner=bureau["ludian_clerk"])],
    )
    mine = api(make_token(bureau["owner"])).get(f"/api/v1/inspection-visits/{v.id}").get_json()
    assert [a["unit"] for a in mine["actions"]] == ["DAYE"] and mine["progress"]["total"] == 1
    whole = api(make_token(bureau["insp"])).get(f"/api/v1/inspection-visits/{v.id}").get_json()
    assert sorted(a["unit"] for a in whole["actions"]) == ["DAYE", "LUDIAN"]

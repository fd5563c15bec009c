"""Drills through the JSON API, with the names the acceptance checks use."""

from datetime import date

import pytest


@pytest.fixture
def tokens(make_unit, make_user, make_token):
    df = make_unit("DF", kind="bureau")
    daye = make_unit("DAYE", parent=df)
    make_unit("LUDIAN", parent=df)
    return {
        "clerk": make_token(make_user("clerk1", "clerk", daye)),
        "owner": make_token(make_user("owner1", "clerk", daye)),
        "cmd": make_token(make_user("cmd1", "command", df)),
        "insp": make_token(make_user("insp1", "inspector", df)),
    }


def test_drill_findings_actions_and_verification(api, tokens):
    r = api(tokens["clerk"]).post(
        "/api/v1/drills",
        json={
            "title": "2022年防汛抢险综合演练",
            "kind": "flood_drill",
            "held_on": "2022-06-20",
            "lead_unit": "DAYE",
            "units": ["LUDIAN"],
            "participants": 120,
            "duration_minutes": 180,
            "scenario": "颍河水位超警戒",
            "is_real_incident": False,
            "findings": [{"text": "岗位任务不明确", "owner": "owner1", "due_on": "2022-09-01"}],
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    [action] = body["actions"]
    assert (action["owner"], action["due_on"], action["status"]) == ("owner1", "2022-09-01", "open")
    aid = action["id"]
    assert api(tokens["insp"]).post(f"/api/v1/actions/{aid}/verify").status_code == 409
    r = api(tokens["owner"]).post(f"/api/v1/actions/{aid}/done", json={"evidence": ""})
    assert r.status_code == 422
    r = api(tokens["owner"]).post(
        f"/api/v1/actions/{aid}/done", json={"evidence": "已印发职责分工一览表"}
    )
    assert r.status_code == 200 and r.get_json()["status"] == "done"
    assert api(tokens["clerk"]).post(f"/api/v1/actions/{aid}/verify").status_code == 403
    r = api(tokens["insp"]).post(f"/api/v1/actions/{aid}/verify")
    assert r.status_code == 200 and r.get_json()["verified_by"] == "insp1"
    listed = api(tokens["cmd"]).get("/api/v1/actions?status=verified&owner=owner1").get_json()
    assert [a["id"] for a in listed["actions"]] == [aid]
    assert api(tokens["cmd"]).get("/api/v1/actions?unit=LUDIAN").get_json()["actions"] == []


def test_owner_cannot_verify_own_action(api, tokens, make_user, make_token, session):
    from readiness.services import get_unit

    boss_token = make_token(make_user("boss", "command", get_unit(session, "DF")))
    r = api(tokens["cmd"]).post(
        "/api/v1/drills",
        json={
            "title": "桌面推演",
            "kind": "tabletop",
            "held_on": "2022-05-01",
            "lead_unit": "DAYE",
            "findings": [{"text": "预案未更新", "owner": "boss", "due_on": "2022-07-01"}],
        },
    )
    aid = r.get_json()["actions"][0]["id"]
    api(boss_token).post(f"/api/v1/actions/{aid}/done", json={"evidence": "已修订"})
    assert api(boss_token).post(f"/api/v1/actions/{aid}/verify").status_code == 403


def test_requirements_and_compliance_report(api, tokens):
    r = api(tokens["cmd"]).put(
        "/api/v1/drill-requirements",
        json={"lines": [{"unit_kind": "station", "drill_kind": "field_exercise", "per_year": 2}]},
    )
    assert r.status_code == 200
    assert (
        api(tokens["clerk"]).put("/api/v1/drill-requirements", json={"lines": []}).status_code
        == 403
    )
    api(tokens["clerk"]).post(
        "/api/v1/drills",
        json={
            "title": "实战大练兵",
            "kind": "field_exercise",
            "held_on": f"{date.today().year}-01-05",
            "lead_unit": "DAYE",
        },
    )
    rows = (
        api(tokens["insp"])
        .get(f"/api/v1/reports/drill-compliance?year={date.today().year}")
        .get_json()["rows"]
    )
    by_unit = {r["unit"]: r for r in rows}
    assert by_unit["DAYE"]["held"] == 1 and by_unit["DAYE"]["required"] == 2
    assert by_unit["DAYE"]["status"] in ("due", "overdue")
    assert by_unit["LUDIAN"]["held"] == 0
    assert set(by_unit["DAYE"]) >= {
        "unit",
        "drill_kind",
        "required",
        "held",
        "last_held_on",
        "status",
    }
    assert api(tokens["insp"]).get("/api/v1/reports/drill-compliance?year=abc").status_code == 400


def test_the_compliance_api_writes_exactly_what_its_answer_model_describes(api, tokens, session):
    """Written straight from the rows for speed (issue 21): byte for byte what the documented
    model gives, dates as text, units by code, in the report's order."""
    from drills import requirements
    from drills.api import DrillCompliance

    api(tokens["cmd"]).put(
        "/api/v1/drill-requirements",
        json={"lines": [{"unit_kind": "station", "drill_kind": "field_exercise", "per_year": 2}]},
    )
    held = api(tokens["clerk"]).post(
        "/api/v1/drills",
        json={
            "title": "演练",
            "kind": "field_exercise",
            "held_on": "2022-03-05",
            "lead_unit": "DAYE",
        },
    )
    assert held.status_code == 201
    body = api(tokens["cmd"]).get("/api/v1/reports/drill-compliance?year=2022").data
    rows = requirements.compliance(session, 2022)
    assert rows and any(r.last_held_on for r in rows)
    assert body == DrillCompliance(year=2022, rows=rows).model_dump_json(by_alias=True).encode()


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "party"},
        {"held_on": "yesterday"},
        {"lead_unit": "NOPE"},
        {"participants": -5},
        {"findings": [{"text": "x", "owner": "ghost", "due_on": "2022-01-01"}]},
        {"title": ""},
    ],
)
def test_bad_drills_get_422(api, tokens, bad):
    body = {
        "title": "演练",
        "kind": "tabletop",
        "held_on": "2022-05-01",
        "lead_unit": "DAYE",
        **bad,
    }
    assert api(tokens["clerk"]).post("/api/v1/drills", json=body).status_code == 422


def test_full_drill_record_status_and_cancel_through_the_api(api, tokens):
    body = {
        "title": "颍河防汛实战演练",
        "kind": "field_exercise",
        "held_on": "2022-07-15",
        "start_time": "08:30",
        "end_time": "11:45",
        "scope": "single",
        "hazard": "洪涝",
        "lead_unit": "DAYE",
        "objectives": [{"text": "30 分钟内完成转移", "rating": "P"}, {"text": "通信畅通"}],
        "findings": [
            {"text": "对讲机频道未统一", "owner": "owner1", "due_on": "2022-09-30", "objective": 2},
            {"text": "路线标识清楚", "is_strength": True},
        ],
    }
    bad = api(tokens["clerk"]).post("/api/v1/drills", json={**body, "start_time": "8h"})
    assert bad.status_code == 422 and "HH:MM" in bad.get_json()["error"]["message"]
    r = api(tokens["clerk"]).post("/api/v1/drills", json=body)
    assert r.status_code == 201, r.get_json()
    drill_id, [action] = r.get_json()["id"], r.get_json()["actions"]
    got = api(tokens["insp"]).get(f"/api/v1/drills/{drill_id}").get_json()
    assert (got["duration_minutes"], got["start_time"], got["scope"]) == (195, "08:30", "single")
    assert [o["rating"] for o in got["objectives"]] == ["P", None]
    assert [f["is_strength"] for f in got["findings"]] == [False, True]
    r = api(tokens["clerk"]).post(f"/api/v1/drills/{drill_id}/status", json={"status": "closed"})
    assert r.status_code == 409
    r = api(tokens["clerk"]).post(f"/api/v1/drills/{drill_id}/status", json={"status": "evaluated"})
    assert r.status_code == 409 and "未评价" in r.get_json()["error"]["message"]
    cancel = f"/api/v1/actions/{action['id']}/cancel"
    assert api(tokens["clerk"]).post(cancel, json={"reason": "不需要"}).status_code == 403
    assert api(tokens["insp"]).post(cancel, json={"reason": "不需要"}).status_code == 403
    assert api(tokens["cmd"]).post(cancel, json={}).status_code == 422
    r = api(tokens["cmd"]).post(cancel, json={"reason": "已由新预案覆盖"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert r.get_json()["cancel_reason"] == "已由新预案覆盖"
    assert api(tokens["cmd"]).post(cancel, json={"reason": "again"}).status_code == 409


def test_requirements_as_an_interval_through_the_api(api, tokens):
    r = api(tokens["cmd"]).put(
        "/api/v1/drill-requirements",
        json={
            "lines": [
                {"unit_kind": "station", "drill_kind": "field_exercise", "interval_days": 182}
            ]
        },
    )
    assert r.status_code == 200 and r.get_json()["lines"][0]["interval_days"] == 182
    rows = api(tokens["cmd"]).get("/api/v1/reports/drill-compliance?year=2022").get_json()["rows"]
    assert {(row["unit"], row["required"], row["status"]) for row in rows} == {
        ("DAYE", 2, "overdue"),
        ("LUDIAN", 2, "overdue"),
    }
    r = api(tokens["cmd"]).put(
        "/api/v1/drill-requirements",
        json={"lines": [{"unit_kind": "station", "drill_kind": "field_exercise"}]},
    )
    assert r.status_code == 422
    kept = api(tokens["cmd"]).get("/api/v1/reports/drill-compliance?year=2022").get_json()["rows"]
    assert len(kept) == 2

"""Returns and extension requests through the JSON API and the pages."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from drills.models import CorrectiveAction
from tests.conftest import PASSWORD, post_form

LATER = (date.today() + timedelta(days=60)).isoformat()


@pytest.fixture
def world(make_unit, make_user, make_token):
    df = make_unit("DF", kind="bureau")
    daye = make_unit("DAYE", parent=df)
    users = {
        "clerk": make_user("clerk1", "clerk", daye),
        "owner": make_user("owner1", "clerk", daye),
        "cmd": make_user("cmd1", "command", df),
        "cmd2": make_user("cmd2", "command", df),
        "insp": make_user("insp1", "inspector", df),
    }
    return {"users": users, "tokens": {k: make_token(u) for k, u in users.items()}}


def new_action(api, tokens, due_on="2022-09-01") -> int:
    r = api(tokens["clerk"]).post(
        "/api/v1/drills",
        json={
            "title": "防汛演练",
            "kind": "tabletop",
            "held_on": "2022-06-20",
            "lead_unit": "DAYE",
            "findings": [{"text": "岗位任务不明确", "owner": "owner1", "due_on": due_on}],
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["actions"][0]["id"]


def test_return_through_the_api(api, world):
    tokens = world["tokens"]
    aid = new_action(api, tokens)
    url = f"/api/v1/actions/{aid}/return"
    assert api(tokens["insp"]).post(url, json={"reason": "不实"}).status_code == 409  # not done
    api(tokens["cmd"]).post(f"/api/v1/actions/{aid}/done", json={"evidence": "已开会"})
    for who, status in (("owner", 403), ("clerk", 403), ("cmd", 403)):  # cmd reported it done
        assert api(tokens[who]).post(url, json={"reason": "不实"}).status_code == status
    refused = api(tokens["cmd"]).post(f"/api/v1/actions/{aid}/verify")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        "整改由您报告完成，须由另一位指挥人员或督察人员核验。"
    )
    r = api(tokens["insp"]).post(url, json={})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = api(tokens["insp"]).post(url, json={"reason": "只开了会，未印发分工表"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["evidence"], body["done_by"]) == ("in_progress", None, None)
    r = api(tokens["owner"]).post(f"/api/v1/actions/{aid}/done", json={"evidence": "已印发"})
    assert r.get_json()["done_by"] == "owner1"
    assert api(tokens["cmd"]).post(f"/api/v1/actions/{aid}/verify").status_code == 200


def test_extension_through_the_api(api, world):
    tokens = world["tokens"]
    aid = new_action(api, tokens)
    url = f"/api/v1/actions/{aid}/extension"
    for body, field in (
        ({"due_on": "2022-10-01", "reason": "物资未到"}, "due_on"),  # before today
        ({"due_on": "soon", "reason": "物资未到"}, "due_on"),
        ({"due_on": LATER}, "reason"),
    ):
        r = api(tokens["owner"]).post(url, json=body)
        assert (r.status_code, r.get_json()["error"]["field"]) == (422, field)
    assert api(tokens["insp"]).post(url, json={"due_on": LATER, "reason": "x"}).status_code == 403
    r = api(tokens["owner"]).post(url, json={"due_on": "2099-12-31", "reason": "物资未到"})
    assert r.status_code == 201, r.get_json()
    ext = r.get_json()
    assert {k: ext[k] for k in ext if k not in ("id", "requested_at")} == {
        "action_id": aid,
        "old_due_on": "2022-09-01",
        "due_on": "2099-12-31",
        "reason": "物资未到",
        "status": "pending",
        "requested_by": "owner1",
        "decided_by": None,
        "decided_at": None,
        "decision_reason": None,
    }
    assert api(tokens["clerk"]).post(url, json={"due_on": LATER, "reason": "x"}).status_code == 409
    # the old date stands and the action stays overdue
    [listed] = api(tokens["cmd"]).get("/api/v1/actions?overdue=1").get_json()["actions"]
    assert (listed["id"], listed["due_on"]) == (aid, "2022-09-01")
    assert listed["pending_extension"] == ext  # the list shows the request as it was answered
    assert api(tokens["owner"]).post(f"{url}/approve").status_code == 403  # a clerk
    r = api(tokens["cmd"]).post(f"{url}/reject", json={"reason": ""})
    assert r.status_code == 422
    r = api(tokens["cmd"]).post(f"{url}/reject", json={"reason": "物资已到货"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert r.get_json()["decision_reason"] == "物资已到货"
    assert api(tokens["cmd"]).post(f"{url}/approve").status_code == 409  # nothing pending
    # command asks, the same command user may not approve, another may
    r = api(tokens["cmd"]).post(url, json={"due_on": LATER, "reason": "供应商延迟"})
    assert r.status_code == 201
    assert api(tokens["cmd"]).post(f"{url}/approve").status_code == 403
    r = api(tokens["cmd2"]).post(f"{url}/approve")
    assert r.status_code == 200 and r.get_json()["decided_by"] == "cmd2"
    assert api(tokens["cmd"]).get("/api/v1/actions?overdue=1").get_json()["actions"] == []
    [action] = api(tokens["insp"]).get("/api/v1/actions").get_json()["actions"]
    assert (action["due_on"], action["pending_extension"]) == (LATER, None)


def test_the_document_declares_the_new_operations(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    request = doc["paths"]["/actions/{action_id}/extension"]["post"]
    created = request["responses"]["201"]["content"]["application/json"]["schema"]
    name = created["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][name]
    assert set(schema["properties"]) == {
        "id",
        "action_id",
        "old_due_on",
        "due_on",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    }
    for path in ("return", "extension/approve", "extension/reject"):
        assert "200" in doc["paths"][f"/actions/{{action_id}}/{path}"]["post"]["responses"]


def text(r):
    return r.get_data(as_text=True)


def signed_in(app, username):
    client = app.test_client()
    post_form(client, "/login", {"username": username, "password": PASSWORD})
    return client


def test_return_and_extension_through_the_pages(app, api, world, session):
    aid = new_action(api, world["tokens"])
    owner, cmd, insp = (signed_in(app, u) for u in ("owner1", "cmd1", "insp1"))
    page = text(owner.get(f"/actions/{aid}"))
    assert "申请延期" in page and "调整期限" not in page
    r = post_form(owner, f"/actions/{aid}/due", {"due_on": "2099-12-31", "reason": "物资未到"})
    assert "已提交延期申请" in text(owner.get(r.location))
    action = session.get(CorrectiveAction, aid)
    session.refresh(action)
    assert action.due_on == date(2022, 9, 1)
    assert "已逾期" in text(owner.get(f"/actions/{aid}"))
    assert "extension/approve" not in text(owner.get(f"/actions/{aid}"))  # not for the owner
    page = text(insp.get(f"/actions/{aid}"))
    assert "待审批的延期申请" in page and "extension/approve" in page and "驳回原因" in page
    r = post_form(insp, f"/actions/{aid}/extension/reject", {"reason": "物资已到货"})
    page = text(insp.get(r.location))
    assert "已驳回延期申请" in page and "物资已到货" in page and "2099-12-31" in page
    post_form(owner, f"/actions/{aid}/due", {"due_on": LATER, "reason": "供应商延迟"})
    r = post_form(insp, f"/actions/{aid}/extension/approve", {})
    assert "已批准延期" in text(insp.get(r.location))
    session.refresh(action)
    assert action.due_on.isoformat() == LATER

    post_form(cmd, f"/actions/{aid}/done", {"evidence": "已开会"})
    page = text(cmd.get(f"/actions/{aid}"))  # cmd reported it done: no verify, no return
    assert "核验属实，销号" not in page and "退回整改" not in page
    assert "整改由您报告完成" in page
    r = post_form(cmd, f"/actions/{aid}/verify", {})
    assert "整改由您报告完成" in text(cmd.get(r.location))
    page = text(insp.get(f"/actions/{aid}"))
    assert "核验属实，销号" in page and "退回整改" in page
    r = post_form(insp, f"/actions/{aid}/return", {"reason": "只开了会，未印发分工表"})
    page = text(insp.get(r.location))
    assert "已退回整改" in page and "只开了会，未印发分工表" in page
    session.refresh(action)
    assert action.status == "in_progress"
    assert session.scalars(select(CorrectiveAction)).all() == [action]

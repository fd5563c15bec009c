"""Self-inspection (自查, issue 17, item 1): a unit's own people put a problem they found
themselves in the register, for a responsible person of the unit, with a due date; bad
input or a stranger is refused with nothing written."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from readiness.audit import AuditEntry
from readiness.errors import DomainError, PermissionDenied
from rectification.actions import record_self_inspection, verify_action
from rectification.models import CorrectiveAction
from tests.conftest import csrf_token

TODAY = date.today()
LATER = TODAY + timedelta(days=20)


@pytest.fixture
def bureau(make_unit, make_user):
    df = make_unit("DF", name="登封市公安局", kind="bureau", parent=None)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    ludian = make_unit("LUDIAN", name="卢店派出所", parent=df)
    return {
        "df": df,
        "daye": daye,
        "ludian": ludian,
        "cmd": make_user("cmd1", "command", df),
        "insp": make_user("insp1", "inspector", df),
        "chen": make_user("chen", "clerk", daye, name="陈刚"),
        "wang": make_user("wang", "clerk", daye, name="王伟"),
        "lu": make_user("lu", "clerk", ludian),
    }


def written(session) -> tuple[int, int]:
    """Actions, and audit entries of actions (a refused request may be audited as such)."""
    return (
        session.scalar(select(func.count()).select_from(CorrectiveAction)),
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("action.%"))
        ),
    )


def test_a_clerk_records_a_problem_of_their_unit_and_a_second_person_closes_it(session, bureau):
    a = record_self_inspection(
        session,
        text="应急灯未按月检测",
        unit=bureau["daye"],
        owner=bureau["wang"],
        due_on=LATER,
        measures="建立月检记录",
        leader="李所长",
        actor=bureau["chen"],
    )
    session.commit()
    assert (a.source, a.unit_id, a.owner_id, a.due_on, a.status) == (
        "self",
        bureau["daye"].id,
        bureau["wang"].id,
        LATER,
        "open",
    )
    assert (a.measures, a.leader) == ("建立月检记录", "李所长")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "action.create"))
    assert entry.after["source"] == "self" and entry.after["owner"] == "wang"
    # its life is the register's: done with evidence, verified by someone else
    from rectification.actions import mark_done

    mark_done(session, a, "已建立月检记录", actor=bureau["wang"])
    verify_action(session, a, actor=bureau["cmd"])
    session.commit()
    assert a.status == "verified"


@pytest.mark.parametrize(
    "change, error, field",
    [
        ({"text": "  "}, DomainError, "text"),
        ({"owner": None}, DomainError, "owner"),
        ({"unit": None}, DomainError, "unit"),
        ({"owner": "lu"}, DomainError, "owner"),  # not of the unit
        ({"due_on": TODAY - timedelta(days=1)}, DomainError, "due_on"),
        ({"due_on": None}, DomainError, "due_on"),
        ({"actor": "lu"}, PermissionDenied, None),  # another unit's clerk
        ({"actor": "insp"}, PermissionDenied, None),  # inspectors record visits instead
        ({"unit": "ludian", "owner": "lu"}, PermissionDenied, None),  # outside chen's reach
    ],
)
def test_refusals_write_nothing(session, bureau, change, error, field):
    values = {
        "text": "台账不全",
        "unit": bureau["daye"],
        "owner": bureau["wang"],
        "due_on": LATER,
        "actor": bureau["chen"],
    }
    for key, value in change.items():
        values[key] = bureau[value] if isinstance(value, str) and key != "text" else value
    before = written(session)
    with pytest.raises(error) as raised:
        record_self_inspection(session, **values)
    if field:
        assert raised.value.field == field
    session.rollback()
    assert written(session) == before


def test_the_api_records_a_self_inspection_and_refuses_bad_input(api, make_token, session, bureau):
    chen = api(make_token(bureau["chen"]))
    body = {
        "source": "self",
        "text": "救生衣存放受潮",
        "unit": "DAYE",
        "owner": "wang",
        "due_on": LATER.isoformat(),
        "measures": "加装除湿设备",
        "leader": "李所长",
    }
    r = chen.post("/api/v1/actions", json=body)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert (got["source"], got["unit"], got["owner"], got["status"], got["due_on"]) == (
        "self",
        "DAYE",
        "wang",
        "open",
        LATER.isoformat(),
    )
    listed = chen.get("/api/v1/actions?source=self").get_json()
    assert got["id"] in {row["id"] for row in listed["actions"]}
    before = written(session)
    for change, status, field in [
        ({"source": "inspection"}, 422, "source"),
        ({"owner": "nobody"}, 422, "owner"),
        ({"unit": "NOPE"}, 422, "unit"),
        ({"owner": "lu"}, 422, "owner"),
        ({"due_on": "2020-01-01"}, 422, "due_on"),
        ({"text": ""}, 422, "text"),
        ({"unit": "LUDIAN", "owner": "lu"}, 403, None),
    ]:
        r = chen.post("/api/v1/actions", json={**body, **change})
        assert r.status_code == status, (change, r.get_json())
        if field:
            assert r.get_json()["error"]["field"] == field, change
    insp = api(make_token(bureau["insp"]))
    assert insp.post("/api/v1/actions", json=body).status_code == 403
    assert written(session) == before


def test_the_actions_page_has_the_form_and_records_from_it(client, login, session, bureau):
    login("chen")
    page = client.get("/actions").get_data(as_text=True)
    assert "登记自查问题" in page
    token = csrf_token(client, "/actions")
    form = {
        "csrf_token": token,
        "text": "值班表未更新",
        "unit": "DAYE",
        "owner": "chen",
        "due_on": LATER.isoformat(),
    }
    r = client.post("/actions/self", data=form)
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert "已登记自查问题" in page and "值班表未更新" in page
    before = written(session)
    r = client.post("/actions/self", data={**form, "owner": "lu"}, follow_redirects=True)
    assert "不属于责任单位" in r.get_data(as_text=True)
    assert written(session) == before
    # an inspector sees no form and may not post it
    client.get("/logout")
    login("insp1")
    assert "登记自查问题" not in client.get("/actions").get_data(as_text=True)

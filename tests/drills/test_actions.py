"""Corrective actions closed only by a second person: verify and return exclude the owner and
whoever reported the action done; a due date moves only through an extension that someone
other than the requester approves, and an overdue action stays overdue until then."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from drills import records
from drills.models import ActionExtension, ActionReturn, CorrectiveAction, DueDateChange
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry
from rectification import actions

TODAY = date(2022, 10, 1)


def make_action(session, b, *, owner=None, due_on=date(2022, 9, 1)):
    drill = records.create_drill(
        session,
        title="2022年防汛抢险综合演练",
        kind="flood_drill",
        held_on=date(2022, 6, 20),
        lead_unit=b["daye"],
        findings=[records.FindingInput("岗位任务不明确", owner=owner or b["owner"], due_on=due_on)],
        actor=b["clerk"],
        today=TODAY,
    )
    session.commit()
    return drill.findings[0].actions[0]


def audited(session, event: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == event)))


def state(session, action: CorrectiveAction) -> tuple:
    """What a refusal must leave exactly as it was."""
    session.expire_all()
    a = session.get(CorrectiveAction, action.id)
    return (
        a.status,
        a.due_on,
        a.evidence,
        a.done_by_id,
        a.verified_by_id,
        session.scalar(select(func.count()).select_from(ActionExtension)),
        session.scalar(select(func.count()).select_from(ActionReturn)),
        session.scalar(select(func.count()).select_from(DueDateChange)),
        session.scalar(select(func.count()).select_from(AuditEntry)),
    )


# ---------------------------------------------------------------- verify and return


def test_whoever_reported_it_done_cannot_verify_it(session, bureau):
    """The issue's case: a command user reports an action done, then verifies it himself."""
    action = make_action(session, bureau)
    actions.mark_done(session, action, "已印发职责分工一览表", actor=bureau["cmd"])
    session.commit()
    assert action.done_by == bureau["cmd"]
    before = state(session, action)
    with pytest.raises(PermissionDenied) as err:
        actions.verify_action(session, action, actor=bureau["cmd"])
    session.rollback()
    assert err.value.message == "整改由您报告完成，须由另一位指挥人员或督察人员核验。"
    assert state(session, action) == before
    actions.verify_action(session, action, actor=bureau["insp"])
    session.commit()
    assert (action.status, action.verified_by, action.done_by) == (
        "verified",
        bureau["insp"],
        bureau["cmd"],
    )


def test_the_database_refuses_a_verifier_who_reported_it_done(session, bureau):
    action = make_action(session, bureau)
    actions.mark_done(session, action, "已印发", actor=bureau["cmd"])
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "UPDATE corrective_actions SET status = 'verified', verified_by_id = :cmd"
                " WHERE id = :id"
            ),
            {"cmd": bureau["cmd"].id, "id": action.id},
        )
    session.rollback()


def test_a_done_action_is_returned_with_the_reason_and_done_again(session, bureau):
    action = make_action(session, bureau)
    actions.mark_done(session, action, "已开会", actor=bureau["owner"])
    session.commit()
    before = state(session, action)
    for actor, refusal in (
        (bureau["owner"], PermissionDenied),  # a clerk: not the role
        (bureau["clerk"], PermissionDenied),
    ):
        with pytest.raises(refusal):
            actions.return_action(session, action, "证据不足", actor=actor)
        session.rollback()
    with pytest.raises(DomainError) as err:
        actions.return_action(session, action, "  ", actor=bureau["insp"])
    session.rollback()
    assert err.value.field == "reason"
    with pytest.raises(DomainError):
        actions.return_action(session, action, "长" * 501, actor=bureau["insp"])
    session.rollback()
    assert state(session, action) == before

    actions.return_action(session, action, "只开了会，未印发分工表", actor=bureau["insp"])
    session.commit()
    assert (action.status, action.evidence, action.done_by_id, action.done_at) == (
        "in_progress",
        "",
        None,
        None,
    )
    [returned] = action.returns
    assert (returned.reason, returned.evidence, returned.returned_by, returned.done_by) == (
        "只开了会，未印发分工表",
        "已开会",
        bureau["insp"],
        bureau["owner"],
    )
    [entry] = audited(session, "action.return")
    assert entry.summary == "只开了会，未印发分工表"
    assert (entry.before["status"], entry.after["status"]) == ("done", "in_progress")
    with pytest.raises(Conflict):  # only a done action goes back
        actions.return_action(session, action, "再退", actor=bureau["insp"])
    session.rollback()
    with pytest.raises(Conflict):  # nor is it verified before it is done again
        actions.verify_action(session, action, actor=bureau["insp"])
    session.rollback()
    actions.mark_done(session, action, "已印发《职责分工一览表》", actor=bureau["owner"])
    actions.verify_action(session, action, actor=bureau["insp"])
    session.commit()
    assert action.status == "verified"
    [event] = actions.action_history(action)
    assert "已开会" in event.text and event.reason == "只开了会，未印发分工表"


def test_neither_the_owner_nor_the_reporter_may_return(session, bureau, make_user):
    boss = make_user("boss", "command", bureau["df"])
    own = make_action(session, bureau, owner=boss)
    actions.mark_done(session, own, "已修订", actor=boss)
    reported = make_action(session, bureau)
    actions.mark_done(session, reported, "已修订", actor=bureau["cmd"])
    session.commit()
    with pytest.raises(PermissionDenied) as err:
        actions.return_action(session, own, "不实", actor=boss)
    session.rollback()
    assert "负责人不能退回" in err.value.message
    with pytest.raises(PermissionDenied) as err:
        actions.return_action(session, reported, "不实", actor=bureau["cmd"])
    session.rollback()
    assert "整改由您报告完成" in err.value.message
    assert (own.status, reported.status) == ("done", "done")
    actions.return_action(session, reported, "不实", actor=boss)
    session.commit()
    assert reported.status == "in_progress"


# ---------------------------------------------------------------- extensions


def test_an_extension_request_moves_nothing_and_the_action_stays_overdue(session, bureau):
    """The issue's case: the owner moved an overdue date to 2099 and it left the list."""
    action = make_action(session, bureau)
    ext = actions.request_extension(
        session, action, date(2099, 12, 31), "物资未到", actor=bureau["owner"], today=TODAY
    )
    session.commit()
    assert (ext.status, ext.old_due_on, ext.due_on, ext.requested_by) == (
        "pending",
        date(2022, 9, 1),
        date(2099, 12, 31),
        bureau["owner"],
    )
    assert action.due_on == date(2022, 9, 1) and action.pending_extension == ext
    assert session.scalars(actions.actions_query(overdue_on=TODAY)).all() == [action]
    [group] = actions.overdue_by(session, "owner", unit_ids=None, today=TODAY)
    assert (group.key, group.count) == (bureau["owner"], 1)
    [entry] = audited(session, "action.extension_request")
    assert entry.after["due_on"] == "2099-12-31" and entry.summary == "物资未到"
    before = state(session, action)
    with pytest.raises(Conflict) as err:  # one pending request at a time
        actions.request_extension(
            session, action, date(2022, 12, 1), "再申请", actor=bureau["clerk"], today=TODAY
        )
    session.rollback()
    assert "已有待审批的延期申请" in err.value.message
    assert state(session, action) == before


@pytest.mark.parametrize(
    ("due_on", "reason", "field", "message"),
    [
        (date(2022, 9, 30), "物资未到", "due_on", "新的完成期限不能早于今天。"),
        (None, "物资未到", "due_on", "请填写新的完成期限。"),
        (date(2022, 12, 1), "", "reason", None),
    ],
)
def test_a_bad_extension_request_is_refused_and_changes_nothing(
    session, bureau, due_on, reason, field, message
):
    action = make_action(session, bureau)
    before = state(session, action)
    with pytest.raises(DomainError) as err:
        actions.request_extension(
            session, action, due_on, reason, actor=bureau["owner"], today=TODAY
        )
    session.rollback()
    assert err.value.field == field
    if message:
        assert err.value.message == message
    assert state(session, action) == before


def test_the_new_date_must_be_later_than_the_current_one(session, bureau):
    action = make_action(session, bureau, due_on=date(2022, 12, 1))
    for due_on in (date(2022, 12, 1), date(2022, 11, 1)):
        with pytest.raises(DomainError) as err:
            actions.request_extension(
                session, action, due_on, "提前", actor=bureau["owner"], today=TODAY
            )
        session.rollback()
        assert err.value.message == "新的完成期限须晚于原期限（2022-12-01）。"
    assert action.extensions == []


def test_who_may_ask_for_an_extension(session, bureau, make_user):
    action = make_action(session, bureau)
    other_clerk = make_user("clerk-ld", "clerk", bureau["ludian"])
    for outsider in (other_clerk, bureau["insp"]):  # another unit's clerk; an inspector
        with pytest.raises(PermissionDenied):
            actions.request_extension(
                session, action, date(2022, 12, 1), "物资未到", actor=outsider, today=TODAY
            )
        session.rollback()
    # a writer of the unit who is not the owner may
    ext = actions.request_extension(
        session, action, date(2022, 12, 1), "物资未到", actor=bureau["clerk"], today=TODAY
    )
    session.commit()
    assert ext.requested_by == bureau["clerk"]


def test_an_extension_is_approved_by_someone_other_than_the_requester(session, bureau):
    action = make_action(session, bureau)
    actions.request_extension(
        session, action, date(2022, 11, 30), "等待财政拨款", actor=bureau["cmd"], today=TODAY
    )
    session.commit()
    before = state(session, action)
    with pytest.raises(PermissionDenied) as err:
        actions.approve_extension(session, action, actor=bureau["cmd"], today=TODAY)
    session.rollback()
    assert err.value.message == "延期由您申请，须由另一位指挥人员或督察人员审批。"
    with pytest.raises(PermissionDenied):  # a clerk cannot decide at all
        actions.approve_extension(session, action, actor=bureau["owner"], today=TODAY)
    session.rollback()
    assert state(session, action) == before

    ext = actions.approve_extension(session, action, actor=bureau["insp"], today=TODAY)
    session.commit()
    assert (ext.status, ext.decided_by, action.due_on) == (
        "approved",
        bureau["insp"],
        date(2022, 11, 30),
    )
    [change] = action.due_changes
    assert (change.old_due_on, change.new_due_on, change.reason, change.changed_by) == (
        date(2022, 9, 1),
        date(2022, 11, 30),
        "等待财政拨款",
        bureau["insp"],
    )
    assert action.pending_extension is None
    assert session.scalars(actions.actions_query(overdue_on=TODAY)).all() == []
    [entry] = audited(session, "action.extension_approve")
    assert (entry.before["status"], entry.after["status"]) == ("pending", "approved")
    with pytest.raises(Conflict):  # nothing is pending any more
        actions.approve_extension(session, action, actor=bureau["insp"], today=TODAY)
    session.rollback()


def test_the_owner_cannot_approve_an_extension_of_his_own_action(session, bureau, make_user):
    boss = make_user("boss", "command", bureau["df"])
    action = make_action(session, bureau, owner=boss)  # the action belongs to DF, boss's unit
    actions.request_extension(
        session, action, date(2022, 12, 1), "物资未到", actor=bureau["cmd"], today=TODAY
    )
    session.commit()
    with pytest.raises(PermissionDenied):
        actions.approve_extension(session, action, actor=boss, today=TODAY)
    session.rollback()
    assert action.due_on == date(2022, 9, 1)


def test_a_date_that_has_passed_while_waiting_is_not_approved(session, bureau):
    action = make_action(session, bureau)
    actions.request_extension(
        session, action, TODAY + timedelta(days=5), "物资未到", actor=bureau["owner"], today=TODAY
    )
    session.commit()
    before = state(session, action)
    with pytest.raises(Conflict) as err:
        actions.approve_extension(
            session, action, actor=bureau["insp"], today=TODAY + timedelta(days=10)
        )
    session.rollback()
    assert (err.value.field, err.value.message) == ("due_on", "新的完成期限不能早于今天。")
    assert state(session, action) == before


def test_a_refusal_needs_a_reason_and_keeps_the_date(session, bureau):
    action = make_action(session, bureau)
    actions.request_extension(
        session, action, date(2099, 12, 31), "物资未到", actor=bureau["owner"], today=TODAY
    )
    session.commit()
    with pytest.raises(DomainError) as err:
        actions.reject_extension(session, action, "", actor=bureau["cmd"])
    session.rollback()
    assert err.value.field == "reason"
    ext = actions.reject_extension(session, action, "物资已于9月到货", actor=bureau["cmd"])
    session.commit()
    assert (ext.status, ext.decision_reason, ext.decided_by) == (
        "rejected",
        "物资已于9月到货",
        bureau["cmd"],
    )
    assert action.due_on == date(2022, 9, 1) and action.due_changes == []
    assert session.scalars(actions.actions_query(overdue_on=TODAY)).all() == [action]
    assert len(audited(session, "action.extension_reject")) == 1
    # a new request may follow, and the history shows every request and decision
    actions.request_extension(
        session, action, date(2022, 10, 31), "供应商延迟", actor=bureau["owner"], today=TODAY
    )
    actions.approve_extension(session, action, actor=bureau["insp"], today=TODAY)
    session.commit()
    history = [(e.who.username, e.text, e.reason) for e in actions.action_history(action)]
    assert history == [
        ("owner1", "申请延期：2022-09-01 → 2099-12-31", "物资未到"),
        ("cmd1", "驳回延期申请，完成期限仍为 2022-09-01", "物资已于9月到货"),
        ("owner1", "申请延期：2022-09-01 → 2022-10-31", "供应商延迟"),
        ("insp1", "批准延期，完成期限改为 2022-10-31", ""),
    ]


def test_closed_actions_get_no_extension(session, bureau):
    action = make_action(session, bureau)
    actions.cancel_action(session, action, "重复", actor=bureau["cmd"])
    session.commit()
    with pytest.raises(Conflict):
        actions.request_extension(
            session, action, date(2022, 12, 1), "物资未到", actor=bureau["owner"], today=TODAY
        )
    session.rollback()
    assert action.extensions == []


def test_the_database_refuses_self_decided_or_second_pending_extensions(session, bureau):
    action = make_action(session, bureau)
    owner = bureau["owner"].id
    insert = (
        "INSERT INTO action_extensions (action_id, old_due_on, due_on, reason, status,"
        " requested_by_id, requested_at, decided_by_id, decided_at, decision_reason)"
        " VALUES (:a, '2022-09-01', '2022-12-01', 'x', :status, :by, '2022-10-01 00:00:00',"
        " :decider, :decided_at, '')"
    )
    pending = {"a": action.id, "by": owner, "decider": None, "decided_at": None}
    for rows in (
        # approved by the requester
        [{**pending, "status": "approved", "decider": owner, "decided_at": "2022-10-02"}],
        # two requests waiting at once
        [{**pending, "status": "pending"}, {**pending, "status": "pending"}],
    ):
        with pytest.raises(IntegrityError):
            for row in rows:
                session.execute(text(insert), row)
        session.rollback()
    assert session.scalar(select(func.count()).select_from(ActionExtension)) == 0

"""Drill rules: records, actions that close only with evidence and a second person,
requirements and compliance."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from drills import records, requirements
from drills.models import CorrectiveAction, Drill
from readiness import services as core
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.permissions import SYSTEM
from rectification import actions

TODAY = date(2022, 10, 1)


def flood_drill(session, b, **kw):
    args = dict(
        title="2022年防汛抢险综合演练",
        kind="flood_drill",
        held_on=date(2022, 6, 20),
        lead_unit=b["daye"],
        units=[b["ludian"]],
        participants=120,
        duration_minutes=180,
        scenario="颍河水位超警戒，村庄被困群众转移",
        findings=[
            records.FindingInput(
                "参演警种过多，岗位任务不明确",
                owner=b["owner"],
                due_on=date(2022, 9, 1),
                element="organisation",
            ),
            records.FindingInput("救援器材操作熟练", is_strength=True),
        ],
        actor=b["clerk"],
        today=TODAY,
    )
    args.update(kw)
    drill = records.create_drill(session, **args)
    session.commit()
    return drill


def test_a_drill_with_findings_creates_owned_actions(session, bureau):
    drill = flood_drill(session, bureau)
    assert drill.status == "held"
    assert {u.code for u in drill.units} == {"DAYE", "LUDIAN"}
    [action] = [a for f in drill.findings for a in f.actions]
    assert (action.owner.username, action.status, action.due_on) == (
        "owner1",
        "open",
        date(2022, 9, 1),
    )
    future = flood_drill(
        session, bureau, title="汛前演练", held_on=TODAY + timedelta(days=30), findings=[]
    )
    assert future.status == "planned"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"title": ""}, "title"),
        ({"kind": "party"}, "kind"),
        ({"participants": -1}, "participants"),
        ({"participants": "many"}, "participants"),
        ({"title": "长" * 201}, "title"),
        ({"findings": [records.FindingInput("无负责人")]}, "findings"),
    ],
)
def test_bad_drills_are_refused_whole(session, bureau, override, field):
    with pytest.raises(DomainError) as err:
        flood_drill(session, bureau, **override)
    assert err.value.field == field
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Drill)) == 0


def test_a_clerk_records_drills_for_own_unit_only(session, bureau):
    with pytest.raises(PermissionDenied):
        flood_drill(session, bureau, lead_unit=bureau["ludian"])


def test_done_needs_evidence_and_verified_needs_someone_else(session, bureau):
    drill = flood_drill(session, bureau)
    action = drill.findings[0].actions[0]
    with pytest.raises(Conflict):  # cannot verify what is not done
        actions.verify_action(session, action, actor=bureau["cmd"])
    with pytest.raises(DomainError):
        actions.mark_done(session, action, "  ", actor=bureau["owner"])
    session.rollback()
    actions.mark_done(
        session, action, "已印发《各单位防汛抢险救灾工作职责分工》一览表", actor=bureau["owner"]
    )
    session.commit()
    with pytest.raises(PermissionDenied):  # a clerk cannot verify
        actions.verify_action(session, action, actor=bureau["clerk"])
    session.rollback()
    actions.verify_action(session, action, actor=bureau["insp"])
    session.commit()
    assert (action.status, action.verified_by.username) == ("verified", "insp1")
    with pytest.raises(Conflict):
        actions.mark_done(session, action, "再次", actor=bureau["owner"])


def test_the_owner_cannot_verify_even_with_the_right_role(session, bureau, make_user):
    boss = make_user("boss", "command", bureau["df"])
    drill = flood_drill(
        session,
        bureau,
        findings=[records.FindingInput("预案未更新", owner=boss, due_on=date(2022, 8, 1))],
    )
    action = drill.findings[0].actions[0]
    actions.mark_done(session, action, "预案已修订并印发", actor=boss)
    session.commit()
    with pytest.raises(PermissionDenied):
        actions.verify_action(session, action, actor=boss)


def test_the_database_refuses_done_without_evidence_or_self_verification(session, bureau):
    drill = flood_drill(session, bureau)
    action_id = drill.findings[0].actions[0].id
    owner_id = bureau["owner"].id
    for statement in (
        f"UPDATE corrective_actions SET status = 'done' WHERE id = {action_id}",
        f"UPDATE corrective_actions SET status = 'verified', evidence = 'x', "
        f"verified_by_id = {owner_id} WHERE id = {action_id}",
    ):
        with pytest.raises(IntegrityError):
            session.execute(text(statement))
        session.rollback()


def test_overdue_and_orphaned_actions(session, bureau):
    drill = flood_drill(session, bureau)
    action = drill.findings[0].actions[0]
    overdue = session.scalars(actions.actions_query(overdue_on=TODAY)).all()
    assert overdue == [action]
    assert session.scalars(actions.actions_query(overdue_on=date(2022, 8, 1))).all() == []
    core.set_user_active(session, bureau["owner"], False, actor=SYSTEM)
    session.commit()
    assert actions.orphaned_actions(session) == [action]


def test_requirements_and_compliance(session, bureau):
    requirements.set_requirements(
        session,
        [
            requirements.RequirementInput("station", "flood_drill", 1),
            requirements.RequirementInput("station", "field_exercise", 2),
        ],
        actor=bureau["cmd"],
    )
    session.commit()
    flood_drill(session, bureau, findings=[])  # 大冶 leads, 卢店 takes part (2022-06-20)
    flood_drill(
        session,
        bureau,
        title="实战大练兵",
        kind="field_exercise",
        held_on=date(2022, 3, 1),
        units=[],
        findings=[],
    )
    rows = {
        (r.unit.code, r.drill_kind): r for r in requirements.compliance(session, 2022, today=TODAY)
    }
    assert rows[("DAYE", "flood_drill")].status == "ok"
    assert rows[("LUDIAN", "flood_drill")].held == 1  # taking part counts
    field = rows[("DAYE", "field_exercise")]
    assert (field.required, field.held, field.last_held_on) == (2, 1, date(2022, 3, 1))
    assert field.status == "overdue"  # every 182 days: due 2022-08-30, now October
    assert rows[("LUDIAN", "field_exercise")].status == "overdue"
    early = {
        (r.unit.code, r.drill_kind): r.status
        for r in requirements.compliance(session, 2022, today=date(2022, 4, 1))
    }
    assert early[("DAYE", "field_exercise")] == "due"
    with pytest.raises(PermissionDenied):
        requirements.set_requirements(session, [], actor=bureau["clerk"])
    with pytest.raises(DomainError):
        requirements.set_requirements(
            session, [requirements.RequirementInput("station", "dance", 1)], actor=bureau["cmd"]
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CorrectiveAction)) == 0


def test_demo_drills_tell_the_reports_story(session, tmp_path):
    """One large flood drill some five months ago, findings in every state; then the three
    field exercises, three flood training drills and the minimum-combat-unit drill."""
    from drills.attachments import attachment_path
    from drills.models import Attachment
    from readiness import demo

    today = date.today()
    demo.load(session, tmp_path)
    session.commit()
    files = session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(f.kind, f.action_id is not None) for f in files] == [
        ("sign_in", False),
        ("evidence", True),
    ]
    assert attachment_path(tmp_path, files[0].sha256).read_bytes().startswith(b"%PDF-")
    kinds = sorted(d.kind for d in session.scalars(select(Drill)))
    assert kinds.count("flood_drill") == 1 and kinds.count("field_exercise") == 3
    assert kinds.count("training_drill") == 3 and kinds.count("combat_unit_drill") == 1
    drill_actions = select(CorrectiveAction).where(CorrectiveAction.source == "drill")
    actions = session.scalars(drill_actions.order_by(CorrectiveAction.id)).all()
    assert sorted(a.status for a in actions) == [
        "cancelled",
        "done",
        "in_progress",
        "open",
        "verified",
    ]
    # the one still open is overdue; the one moved is due after today
    [still_open] = [a for a in actions if a.status == "open"]
    assert still_open.due_on < today
    [moved] = [a for a in actions if a.status == "in_progress"]
    assert moved.due_on > today and len(moved.due_changes) == 1
    drills = {d.kind: d for d in session.scalars(select(Drill))}
    flood = drills["flood_drill"]
    assert flood.held_on == today - timedelta(days=160)
    assert flood.title == f"{flood.held_on.year}年大型防汛抢险救灾演练"
    assert flood.status == "evaluated" and [o.rating for o in flood.objectives] == ["S", "P", "M"]
    assert all(d.held_on < today for d in drills.values())
    field = session.scalars(select(Drill).where(Drill.title == "实战大练兵（第1次）")).one()
    assert field.status == "closed"


@pytest.mark.parametrize("today", [date.today(), date(2031, 1, 5), date(2031, 9, 30)])
def test_demo_drills_are_bureau_wide_so_most_stations_comply(session, today):
    """The follow-up drills are led by the command centre with the stations taking part:
    at least two thirds of the stations' compliance rows are met or not yet due, today, at
    the turn of a year and late in one; 君召派出所, which missed the field exercises, is the
    only row that may be late."""
    from readiness import demo

    demo.load(session, today=today)
    session.commit()
    combat = session.scalars(select(Drill).where(Drill.kind == "combat_unit_drill")).one()
    assert combat.lead_unit.code == "DF-CMD"
    assert {u.code for u in combat.units} >= {"DF-DAYE", "DF-JUNZHAO", "DF-TRAFFIC-7"}
    for kind in ("field_exercise", "training_drill"):
        for d in session.scalars(select(Drill).where(Drill.kind == kind)):
            assert d.lead_unit.code == "DF-CMD"
            assert {u.code for u in d.units} >= {"DF-DAYE", "DF-BAIPING", "DF-SHAOLIN"}
    rows = [
        r
        for r in requirements.compliance(session, today.year, today=today)
        if r.unit.kind == "station"
    ]
    assert len(rows) == 24  # 8 stations × flood drill, field exercise, training drill
    fine = [r for r in rows if r.status in ("ok", "due")]
    assert len(fine) * 3 >= len(rows) * 2
    late = {(r.unit.code, r.drill_kind) for r in rows if r.status == "overdue"}
    assert late <= {("DF-JUNZHAO", "field_exercise")}


def test_objective_ratings_are_p_s_m_or_u(session, bureau):
    drill = flood_drill(
        session, bureau, findings=[], objectives=[("30 分钟内完成转移", "P"), ("通信畅通", None)]
    )
    assert [(o.text, o.rating) for o in drill.objectives] == [
        ("30 分钟内完成转移", "P"),
        ("通信畅通", None),
    ]
    with pytest.raises(DomainError):
        flood_drill(session, bureau, findings=[], objectives=[("目标", "A+")])

"""Complete drill records: configurable kinds, times, evaluation, the drill's life cycle,
cancelled actions and requirements given as an interval."""

from datetime import date, time

import pytest
from sqlalchemy import func, select

from drills import records, requirements
from drills.models import Drill, DrillRequirement
from readiness.audit import AuditEntry
from readiness.errors import Conflict, DomainError, PermissionDenied
from rectification import actions
from tests.drills.test_services import TODAY, flood_drill


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_the_seed_kinds_are_configured_and_command_staff_add_more(session, bureau):
    kinds = requirements.drill_kinds(session)
    assert list(kinds)[:5] == [
        "flood_drill",
        "field_exercise",
        "training_drill",
        "combat_unit_drill",
        "tabletop",
    ]
    assert kinds["field_exercise"] == ("实战大练兵", "functional")
    requirements.save_drill_kind(
        session, code="boat_rescue", name="舟艇救援演练", family="drill", actor=bureau["cmd"]
    )
    session.commit()
    drill = flood_drill(session, bureau, kind="boat_rescue", findings=[])
    assert drill.kind_row.name == "舟艇救援演练"
    with pytest.raises(PermissionDenied):
        requirements.save_drill_kind(
            session, code="x", name="某演练", family="drill", actor=bureau["clerk"]
        )
    with pytest.raises(DomainError) as err:
        requirements.save_drill_kind(
            session, code="bad code!", name="某演练", family="drill", actor=bureau["cmd"]
        )
    assert err.value.field == "code"
    session.rollback()
    # retiring a kind keeps old drills readable but refuses new ones
    requirements.save_drill_kind(
        session,
        code="boat_rescue",
        name="舟艇救援演练",
        family="drill",
        is_active=False,
        actor=bureau["cmd"],
    )
    session.commit()
    assert "boat_rescue" not in requirements.drill_kinds(session, active_only=True)
    with pytest.raises(DomainError):
        flood_drill(session, bureau, kind="boat_rescue", findings=[])
    session.rollback()
    assert count(session, Drill) == 1
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "drill_kind.save")
        )
        == 2
    )


def test_start_and_end_time_give_the_duration(session, bureau):
    drill = flood_drill(
        session,
        bureau,
        findings=[],
        duration_minutes=0,
        start_time=time(8, 30),
        end_time=time(11, 45),
        form="live",
        scope="single",
        hazard="洪涝",
        roster="张三\n李四",
        purpose="检验转移预案",
        lessons="提前明确分工",
    )
    assert (drill.duration_minutes, drill.scope, drill.hazard) == (195, "single", "洪涝")
    for bad, field in [
        ({"start_time": time(9), "end_time": time(8)}, "end_time"),
        ({"start_time": time(9)}, "start_time"),
        ({"scope": "everything"}, "scope"),
        ({"form": "imaginary"}, "form"),
        ({"hazard": "洪" * 101}, "hazard"),
    ]:
        with pytest.raises(DomainError) as err:
            flood_drill(session, bureau, findings=[], duration_minutes=0, **bad)
        assert err.value.field == field
        session.rollback()
    assert count(session, Drill) == 1


def test_a_finding_links_to_an_objective(session, bureau):
    drill = flood_drill(
        session,
        bureau,
        objectives=[("30 分钟内完成转移", "S"), ("通信畅通", "M")],
        findings=[
            records.FindingInput(
                "对讲机频道混乱", owner=bureau["owner"], due_on=date(2022, 9, 1), objective=2
            )
        ],
    )
    assert drill.findings[0].objective.text == "通信畅通"
    with pytest.raises(DomainError):
        flood_drill(
            session,
            bureau,
            objectives=[("通信畅通", None)],
            findings=[records.FindingInput("x", is_strength=True, objective=3)],
        )
    session.rollback()
    assert count(session, Drill) == 1


def test_a_drill_moves_held_evaluated_closed_only_when_its_work_is_done(session, bureau):
    drill = flood_drill(session, bureau, objectives=[("完成转移", None)])
    [action] = drill.findings[0].actions
    with pytest.raises(Conflict) as err:
        records.advance_drill(session, drill, "evaluated", actor=bureau["clerk"])
    assert "未评价" in err.value.message
    records.evaluate_drill(
        session,
        drill,
        ratings={drill.objectives[0].id: "S"},
        problems="岗位不明确",
        actor=bureau["clerk"],
    )
    records.advance_drill(session, drill, "evaluated", actor=bureau["clerk"])
    session.commit()
    with pytest.raises(Conflict) as err:
        records.advance_drill(session, drill, "closed", actor=bureau["clerk"])
    assert "未经他人验证" in err.value.message
    actions.mark_done(session, action, "已印发分工表", actor=bureau["owner"])
    with pytest.raises(Conflict):  # done is not enough: someone else must verify
        records.advance_drill(session, drill, "closed", actor=bureau["clerk"])
    actions.verify_action(session, action, actor=bureau["insp"])
    records.advance_drill(session, drill, "closed", actor=bureau["clerk"])
    session.commit()
    assert drill.status == "closed"
    with pytest.raises(Conflict):
        records.add_finding(
            session, drill, records.FindingInput("迟到", is_strength=True), actor=bureau["cmd"]
        )
    with pytest.raises(Conflict):
        records.advance_drill(session, drill, "held", actor=bureau["cmd"])
    planned = flood_drill(session, bureau, findings=[], held_on=date(2022, 12, 1))
    with pytest.raises(Conflict):
        records.advance_drill(session, planned, "held", actor=bureau["clerk"], today=TODAY)
    records.advance_drill(session, planned, "held", actor=bureau["clerk"], today=date(2022, 12, 1))
    assert planned.status == "held"


def test_only_command_cancels_an_action_and_the_reason_is_kept(session, bureau, make_user):
    drill = flood_drill(session, bureau)
    [action] = drill.findings[0].actions
    with pytest.raises(PermissionDenied):
        actions.cancel_action(session, action, "不再需要", actor=bureau["clerk"])
    with pytest.raises(PermissionDenied):
        actions.cancel_action(session, action, "不再需要", actor=bureau["insp"])
    with pytest.raises(DomainError):
        actions.cancel_action(session, action, " ", actor=bureau["cmd"])
    session.rollback()
    assert action.status == "open"
    commander = make_user("cmd-owner", "command", bureau["df"])
    own = flood_drill(
        session,
        bureau,
        findings=[records.FindingInput("指挥部分工", owner=commander, due_on=date(2022, 9, 1))],
    )
    with pytest.raises(PermissionDenied):
        actions.cancel_action(session, own.findings[0].actions[0], "自己取消", actor=commander)
    actions.cancel_action(session, action, "该岗位已撤并，事项由新预案覆盖", actor=bureau["cmd"])
    session.commit()
    assert (action.status, action.cancel_reason) == ("cancelled", "该岗位已撤并，事项由新预案覆盖")
    with pytest.raises(Conflict):
        actions.mark_done(session, action, "补交证据", actor=bureau["owner"])


def test_requirement_as_an_interval_counts_from_the_last_drill(session, bureau):
    requirements.set_requirements(
        session,
        [
            requirements.RequirementInput("station", "field_exercise", interval_days=182),
            requirements.RequirementInput("station", "flood_drill", per_year=1),
        ],
        actor=bureau["cmd"],
    )
    session.commit()
    assert session.get(DrillRequirement, 1).required == 2
    # last year's exercise counts for when the next one falls due
    flood_drill(session, bureau, kind="field_exercise", held_on=date(2021, 11, 1), findings=[])
    rows = {
        (r.unit.code, r.drill_kind): r
        for r in requirements.compliance(session, 2022, today=date(2022, 3, 1))
    }
    ex = rows[("DAYE", "field_exercise")]
    assert (ex.required, ex.held, ex.next_due_on, ex.status) == (2, 0, date(2022, 5, 2), "due")
    assert rows[("LUDIAN", "field_exercise")].status == "due"
    later = {
        (r.unit.code, r.drill_kind): r
        for r in requirements.compliance(session, 2022, today=date(2022, 5, 3))
    }
    assert later[("DAYE", "field_exercise")].status == "overdue"
    flood_drill(session, bureau, kind="field_exercise", held_on=date(2022, 5, 10), findings=[])
    flood_drill(session, bureau, kind="field_exercise", held_on=date(2022, 9, 20), findings=[])
    done = {
        (r.unit.code, r.drill_kind): r
        for r in requirements.compliance(session, 2022, today=date(2023, 1, 1))
    }
    assert (done[("DAYE", "field_exercise")].held, done[("DAYE", "field_exercise")].status) == (
        2,
        "ok",
    )
    assert done[("DAYE", "flood_drill")].status == "overdue"


@pytest.mark.parametrize(
    "line",
    [
        requirements.RequirementInput("station", "flood_drill"),
        requirements.RequirementInput("station", "flood_drill", per_year=1, interval_days=30),
        requirements.RequirementInput("station", "flood_drill", interval_days=0),
        requirements.RequirementInput("station", "flood_drill", interval_days="often"),
        requirements.RequirementInput("station", "flood_drill", per_year=400),
    ],
)
def test_a_requirement_is_so_many_a_year_or_every_so_many_days(session, bureau, line):
    requirements.set_requirements(
        session,
        [requirements.RequirementInput("station", "tabletop", per_year=1)],
        actor=bureau["cmd"],
    )
    session.commit()
    with pytest.raises(DomainError):
        requirements.set_requirements(session, [line], actor=bureau["cmd"])
    session.rollback()
    assert [(r.drill_kind, r.per_year) for r in session.scalars(select(DrillRequirement))] == [
        ("tabletop", 1)
    ]


def test_correcting_a_drill_keeps_the_old_facts_in_the_audit_log(session, bureau, make_unit):
    drill = flood_drill(session, bureau, findings=[])
    shaolin = make_unit("SHAOLIN", name="少林派出所", parent=bureau["df"])
    facts = dict(
        title="2022年防汛抢险综合演练（更正）",
        kind="flood_drill",
        held_on=date(2022, 6, 21),
        participants=130,
        duration_minutes=180,
        start_time=None,
        end_time=None,
        form=None,
        scope="comprehensive",
        hazard="洪涝",
        scenario="颍河水位超警戒",
        location="",
        roster="",
        is_real_incident=False,
        hands_on_training=True,
    )
    records.update_drill(
        session,
        drill,
        units=[shaolin],
        items=[],
        actor=bureau["clerk"],
        today=TODAY,
        **facts,
    )
    session.commit()
    assert (drill.participants, drill.held_on) == (130, date(2022, 6, 21))
    assert {u.code for u in drill.units} == {"DAYE", "SHAOLIN"}  # the lead always stays
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "drill.update"))
    assert entry.before["participants"] == 120 and entry.after["participants"] == 130
    assert entry.before["units"] == ["DAYE", "LUDIAN"]
    with pytest.raises(DomainError):  # a held drill cannot move into the future
        records.update_drill(
            session,
            drill,
            units=[],
            items=[],
            actor=bureau["clerk"],
            today=TODAY,
            **{**facts, "held_on": date(2022, 12, 1)},
        )
    session.rollback()
    with pytest.raises(PermissionDenied):
        records.update_drill(
            session, drill, units=[], items=[], actor=bureau["insp"], today=TODAY, **facts
        )
    session.rollback()
    session.refresh(drill)
    assert drill.held_on == date(2022, 6, 21) and drill.participants == 130


def test_drill_units_and_owners_come_from_the_lead_units_bureau(
    session, bureau, make_unit, make_user
):
    """A drill of a Dengfeng station cannot list a Wenling town among its units, nor give a
    finding to a Wenling user; nothing is recorded when refused."""
    wenling = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    town = make_unit("WL-ST", name="石塘镇", kind="town", parent=wenling)
    stranger = make_user("wl-clerk", "clerk", town)
    before = session.scalar(select(func.count()).select_from(Drill))
    for units, owner, field in (([town], bureau["owner"], "units"), ([], stranger, "findings")):
        with pytest.raises(DomainError) as err:
            records.create_drill(
                session,
                title="防汛演练",
                kind="tabletop",
                held_on=date(2022, 6, 1),
                lead_unit=bureau["daye"],
                units=units,
                findings=[records.FindingInput("预案未更新", owner=owner, due_on=date(2022, 9, 1))],
                actor=bureau["clerk"],
            )
        assert err.value.field.endswith(field), err.value.field
        assert "石塘镇" in err.value.message or "wl-clerk" in err.value.message
        session.rollback()
    assert session.scalar(select(func.count()).select_from(Drill)) == before

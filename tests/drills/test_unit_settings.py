"""Drill kinds and drill requirements belong to the unit whose command staff set them and apply
to its subtree, the nearest unit's set winning; without one, the set for everywhere."""

from datetime import date

import pytest
from sqlalchemy import select

from drills import records, requirements
from drills.models import DrillKind, DrillRequirement
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.permissions import SYSTEM

TODAY = date(2022, 10, 1)
Line = requirements.RequirementInput


@pytest.fixture
def two_bureaus(make_unit, make_user):
    city = make_unit("CITY", kind="bureau")
    a = make_unit("A", kind="bureau", parent=city)
    brigade = make_unit("A-BR", kind="brigade", parent=a)
    a1 = make_unit("A1", parent=a)
    a2 = make_unit("A2", parent=brigade)
    b = make_unit("B", kind="bureau", parent=city)
    b1 = make_unit("B1", parent=b)
    return {
        "a": a,
        "brigade": brigade,
        "a1": a1,
        "a2": a2,
        "b": b,
        "b1": b1,
        "cmd_a": make_user("cmd-a", "command", a),
        "cmd_br": make_user("cmd-br", "command", brigade),
        "cmd_b": make_user("cmd-b", "command", b),
        "clerk_a1": make_user("clerk-a1", "clerk", a1),
        "clerk_b1": make_user("clerk-b1", "clerk", b1),
    }


def required(session, year=2022):
    """unit code -> {drill kind: required per year}, as the compliance report computes it."""
    out: dict[str, dict[str, int]] = {}
    for row in requirements.compliance(session, year, today=TODAY):
        out.setdefault(row.unit.code, {})[row.drill_kind] = row.required
    return out


def test_each_unit_follows_the_nearest_set(session, two_bureaus):
    w = two_bureaus
    requirements.set_requirements(session, [Line("station", "flood_drill", 1)], actor=SYSTEM)
    session.commit()
    assert required(session) == {code: {"flood_drill": 1} for code in ("A1", "A2", "B1")}

    in_force = requirements.set_requirements(
        session, [Line("station", "field_exercise", 2)], actor=w["cmd_a"]
    )
    session.commit()
    # the answer is the set now in force at the caller's unit
    assert [(r.unit_id, r.drill_kind, r.per_year) for r in in_force] == [
        (w["a"].id, "field_exercise", 2)
    ]
    # bureau A's set replaces the set for everywhere below A; bureau B keeps it
    assert required(session) == {
        "A1": {"field_exercise": 2},
        "A2": {"field_exercise": 2},
        "B1": {"flood_drill": 1},
    }
    requirements.set_requirements(
        session, [Line("station", "tabletop", interval_days=182)], actor=w["cmd_br"]
    )
    session.commit()
    assert required(session)["A2"] == {"tabletop": 2}  # the brigade is nearer than A
    assert required(session)["A1"] == {"field_exercise": 2}
    # an empty set lets the set from above apply again
    requirements.set_requirements(session, [], actor=w["cmd_a"])
    session.commit()
    assert required(session)["A1"] == {"flood_drill": 1}
    assert requirements.set_owner(session, w["a2"].id) == w["brigade"].id
    assert requirements.set_owner(session, w["a1"].id) is None
    rows = session.scalars(select(DrillRequirement).order_by(DrillRequirement.id)).all()
    assert [(r.unit_id, r.drill_kind) for r in rows] == [
        (None, "flood_drill"),
        (w["brigade"].id, "tabletop"),
    ]


def test_a_bad_set_leaves_the_units_set_as_it_was(session, two_bureaus):
    w = two_bureaus
    requirements.set_requirements(session, [Line("station", "flood_drill", 1)], actor=w["cmd_a"])
    session.commit()
    with pytest.raises(DomainError):
        requirements.set_requirements(
            session, [Line("station", "flood_drill", per_year=400)], actor=w["cmd_a"]
        )
    session.rollback()
    assert [(r.unit_id, r.per_year) for r in session.scalars(select(DrillRequirement))] == [
        (w["a"].id, 1)
    ]


def test_a_kind_added_by_a_bureau_is_offered_within_it_only(session, two_bureaus):
    w = two_bureaus
    kind = requirements.save_drill_kind(
        session, code="boat_rescue", name="舟艇救援演练", family="drill", actor=w["cmd_a"]
    )
    session.commit()
    assert kind.unit_id == w["a"].id
    assert "boat_rescue" in requirements.drill_kinds(session, unit_id=w["a2"].id)
    assert "boat_rescue" not in requirements.drill_kinds(session, unit_id=w["b1"].id)
    assert "flood_drill" in requirements.drill_kinds(session, unit_id=w["b1"].id)

    def drill(unit, clerk):
        return records.create_drill(
            session,
            title="舟艇救援",
            kind="boat_rescue",
            held_on=date(2022, 7, 1),
            lead_unit=unit,
            actor=clerk,
            today=TODAY,
        )

    assert drill(w["a1"], w["clerk_a1"]).kind == "boat_rescue"
    session.commit()
    with pytest.raises(DomainError) as err:
        drill(w["b1"], w["clerk_b1"])
    session.rollback()
    assert (err.value.field, err.value.message) == ("kind", "未知的演练类型：boat_rescue。")
    # bureau B neither requires it nor takes it over
    with pytest.raises(DomainError):
        requirements.set_requirements(
            session, [Line("station", "boat_rescue", 1)], actor=w["cmd_b"]
        )
    session.rollback()
    with pytest.raises(Conflict):
        requirements.save_drill_kind(
            session, code="boat_rescue", name="改名", family="drill", actor=w["cmd_b"]
        )
    session.rollback()
    assert session.get(DrillKind, "boat_rescue").name == "舟艇救援演练"


def test_a_bureau_cannot_change_a_kind_that_applies_everywhere(session, two_bureaus):
    with pytest.raises(PermissionDenied):
        requirements.save_drill_kind(
            session,
            code="flood_drill",
            name="防汛演练",
            family="drill",
            is_active=False,
            actor=two_bureaus["cmd_a"],
        )
    session.rollback()
    kind = session.get(DrillKind, "flood_drill")
    assert (kind.unit_id, kind.is_active, kind.family) == (None, True, "full_scale")


def test_put_requirements_writes_the_callers_units_set(
    api, session, two_bureaus, make_token, make_user
):
    w = two_bureaus
    requirements.set_requirements(session, [Line("station", "flood_drill", 1)], actor=SYSTEM)
    session.commit()
    r = api(make_token(w["cmd_a"])).put(
        "/api/v1/drill-requirements",
        json={"lines": [{"unit_kind": "station", "drill_kind": "tabletop", "per_year": 3}]},
    )
    assert r.status_code == 200
    assert r.get_json() == {
        "lines": [
            {"unit_kind": "station", "drill_kind": "tabletop", "per_year": 3, "interval_days": None}
        ]
    }
    # an empty set answers the set in force from above
    r = api(make_token(w["cmd_br"])).put("/api/v1/drill-requirements", json={"lines": []})
    assert [line["drill_kind"] for line in r.get_json()["lines"]] == ["tabletop"]
    insp = make_user("insp-city", "inspector", session.get(type(w["a"]), w["a"].parent_id))
    rows = (
        api(make_token(insp)).get("/api/v1/reports/drill-compliance?year=2022").get_json()["rows"]
    )
    assert {(row["unit"], row["drill_kind"]) for row in rows} == {
        ("A1", "tabletop"),
        ("A2", "tabletop"),
        ("B1", "flood_drill"),
    }

"""The Wenling-style demo tells the report's story: coverage below 60%, open defects,
expired supplies rotated, 50.78万元 of subsidy paid."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from readiness import demo
from shelters.acceptance import pending_requests
from shelters.coverage import coverage
from shelters.models import Acceptance, Inspection, Shelter, Village
from shelters.sites import site_states


def test_demo_coverage_sits_below_the_target_with_work_left(session):
    demo.load(session)
    session.commit()
    report = coverage(session, Decimal("0.6"))
    assert report.villages == 50 and len(report.towns) == 6
    assert report.coverage < 0.6 and report.needed > 0
    assert 0 < report.covered_with_capacity < report.covered
    assert report.candidates, "some ordinary sites would close the gap once standardized"
    paid = session.scalar(select(func.sum(Inspection.subsidy)))
    assert paid == Decimal("507800.00")
    sites = list(session.scalars(select(Shelter)))
    states = site_states(session, sites, today=date.today(), interval_days=180)
    assert any(s.needs_attention for s in states.values())
    assert any(s.is_overdue for s in states.values())
    assert {s.status for s in sites} >= {"active", "planned", "construction", "suspended"}
    # its standardized sites were accepted by the system when they came onto the system;
    # two towns' requests wait for command staff (待验收)
    accepted = list(session.scalars(select(Acceptance).where(Acceptance.status == "accepted")))
    assert len(accepted) == sum(s.is_standardized for s in sites) == 11
    assert all(a.accepted_by_id is None and a.accepted_on < date.today() for a in accepted)
    assert {r.shelter.name for r in pending_requests(session, None)} == {"里箬村祠堂", "长屿村礼堂"}
    # every active site holds its relief supplies as a unit of kind shelter
    assert all(
        s.unit is not None and s.unit.kind == "shelter" for s in sites if s.status == "active"
    )


def test_loading_the_demo_twice_adds_nothing(session):
    demo.load(session)
    session.commit()
    villages = session.scalar(select(func.count()).select_from(Village))
    demo.load(session)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Village)) == villages

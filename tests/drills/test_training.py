"""Training and certification rates: certified members ÷ team size, like Wenling's 86.75 %."""

from datetime import date

import pytest
from sqlalchemy import func, select

from drills import training as trn
from drills.models import Certificate
from readiness.errors import Conflict, DomainError, PermissionDenied
from tests.conftest import post_form

TODAY = date(2023, 5, 1)


def test_certification_rate_counts_valid_certificates_per_person(session, make_unit, make_user):
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", headcount=0)
    town = make_unit("CHENGBEI", name="城北街道", kind="town", headcount=12, parent=wl)
    other = make_unit("SHITANG", name="石塘镇", kind="town", headcount=25, parent=wl)
    cmd = make_user("cmd1", "command", wl)
    for n in range(11):
        trn.add_certificate(
            session,
            town,
            person_name=f"队员{n}",
            kind="first_aid",
            number=f"FA-{n}",
            valid_until=date(2024, 1, 1),
            actor=cmd,
        )
    # A second certificate for the same person does not count twice; an expired one not at all.
    trn.add_certificate(
        session,
        town,
        person_name="队员0",
        kind="rescue_equipment",
        number="RE-0",
        valid_until=None,
        actor=cmd,
    )
    trn.add_certificate(
        session,
        other,
        person_name="老王",
        kind="first_aid",
        number="FA-X",
        valid_until=date(2022, 1, 1),
        actor=cmd,
    )
    session.commit()
    rates = {r.unit.code: r for r in trn.certification_rates(session, None, today=TODAY)}
    assert (rates["CHENGBEI"].certified, rates["CHENGBEI"].team_size) == (11, 12)
    assert rates["CHENGBEI"].rate == pytest.approx(11 / 12)
    assert rates["SHITANG"].certified == 0
    with pytest.raises(Conflict):
        trn.add_certificate(
            session,
            town,
            person_name="x",
            kind="first_aid",
            number="FA-1",
            valid_until=None,
            actor=cmd,
        )
    session.rollback()
    for bad in ({"kind": "cooking"}, {"person_name": ""}, {"number": ""}):
        args = {"person_name": "x", "kind": "first_aid", "number": "N-1", **bad}
        with pytest.raises(DomainError):
            trn.add_certificate(session, town, valid_until=None, actor=cmd, **args)
        session.rollback()
    assert session.scalar(select(func.count()).select_from(Certificate)) == 13


def test_training_sessions(session, make_unit, make_user):
    station = make_unit("DAYE")
    clerk = make_user("clerk1", "clerk", station)
    row = trn.add_training(
        session, station, course="救援绳实操", held_on=TODAY, trainees=20, actor=clerk
    )
    assert row.trainees == 20
    with pytest.raises(DomainError):
        trn.add_training(session, station, course="x", held_on=TODAY, trainees=-1, actor=clerk)
    with pytest.raises(PermissionDenied):
        trn.add_training(
            session, make_unit("OTHER"), course="x", held_on=TODAY, trainees=1, actor=clerk
        )


def test_training_page(make_unit, make_user, login):
    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    make_unit("DAYE", name="大冶派出所", headcount=4, parent=df)
    make_user("cmd1", "command", df)
    client = login("cmd1")
    post_form(
        client,
        "/training/certificates",
        {
            "unit": "DAYE",
            "person_name": "陈刚",
            "kind": "first_aid",
            "number": "FA-001",
            "valid_until": "2099-12-31",
        },
    )
    post_form(
        client,
        "/training/sessions",
        {"unit": "DAYE", "course": "应急救护", "held_on": "2023-04-01", "trainees": "4"},
    )
    page = client.get("/training").get_data(as_text=True)
    assert "25.00%" in page and "陈刚" in page and "应急救护" in page
    r = post_form(
        client,
        "/training/certificates",
        {"unit": "DAYE", "person_name": "", "kind": "first_aid", "number": "FA-002"},
    )
    assert "请填写姓名。" in client.get(r.location).get_data(as_text=True)


def test_a_shelter_site_is_no_team_in_the_certification_rate(session, make_unit, make_user):
    """A shelter site's headcount is the number of people it takes, not members to certify:
    it stays out of the rates (Wenling's towns would otherwise fall from 86.75 % to 9 %)."""
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", headcount=0, parent=None)
    town = make_unit("CHENGBEI", name="城北街道", kind="town", headcount=12, parent=wl)
    make_unit("CB-S1", name="城北小学", kind="shelter", headcount=400, parent=town)
    cmd = make_user("cmd1", "command", wl)
    for n in range(6):
        trn.add_certificate(
            session,
            town,
            person_name=f"队员{n}",
            kind="first_aid",
            number=f"FA-{n}",
            valid_until=None,
            actor=cmd,
        )
    session.commit()
    rates = trn.certification_rates(session, None, today=TODAY)
    assert [(r.unit.code, r.certified, r.team_size) for r in rates] == [("CHENGBEI", 6, 12)]

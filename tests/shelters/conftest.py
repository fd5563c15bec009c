"""A county bureau with two towns, their villages, and the people who keep its shelters."""

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import update

from readiness.permissions import SYSTEM
from shelters import places, sites
from shelters.models import CHECKLIST, Shelter

# every checklist item answered: an inspection must answer them all
ALL_PASS = dict.fromkeys(CHECKLIST, "pass")
# the day the test sites were put on the system, before any inspection the tests date
REGISTERED_ON = date(2020, 1, 1)


def backdate(session, site, on: date = REGISTERED_ON) -> None:
    """Say the site was registered on ``on`` (inspections may not be dated before it)."""
    at = datetime.combine(on, time(12), UTC)
    session.execute(update(Shelter).where(Shelter.id == site.id).values(created_at=at))
    session.commit()
    session.expire(site, ["created_at"])


@pytest.fixture
def county(session, make_unit, make_user):
    """Bureau WL with towns CB (城北, 4 villages) and ST (石塘, 2 villages); a clerk of CB,
    a clerk of a station elsewhere, command and inspector accounts."""
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau")
    cb = places.save_town(
        session,
        code="CB",
        name="城北街道",
        parent=wl,
        villages=[
            places.VillageInput("横湖村", 2000, 300),
            places.VillageInput("双峰村", 1500, 200),
            places.VillageInput("三星社区", 3000, 100, "community"),
            places.VillageInput("上林村", 800, 120),
        ],
        actor=SYSTEM,
    ).town
    st = places.save_town(
        session,
        code="ST",
        name="石塘镇",
        parent=wl,
        villages=[
            places.VillageInput("海山村", 1200, 400),
            places.VillageInput("桂岙村", 900, 250),
        ],
        actor=SYSTEM,
    ).town
    session.commit()
    station = make_unit("ELSE", name="别处派出所")
    return {
        "bureau": wl,
        "cb": cb,
        "st": st,
        "cb_clerk": make_user("cbclerk", "clerk", cb, name="城北应急办"),
        "other_clerk": make_user("otherclerk", "clerk", station),
        "cmd": make_user("cmd1", "command", wl, name="王科长"),
        "insp": make_user("insp1", "inspector", None),
        "admin": make_user("admin1", "admin", wl),
    }


@pytest.fixture
def make_site(session):
    """Register a site as the system: make_site(town, name, villages=[...], **facts); it
    counts as registered on ``registered_on`` (2020-01-01 unless told)."""

    def make(town, name="文化礼堂", villages=(), registered_on=REGISTERED_ON, **facts):
        facts.setdefault("level", "village")
        facts.setdefault("capacity", 100)
        if facts.get("is_standardized"):
            facts.setdefault("standardized_on", date(2022, 6, 1))
        site = sites.create_shelter(
            session,
            sites.ShelterInput(name=name, town=town, villages=list(villages), **facts),
            actor=SYSTEM,
        )
        session.commit()
        backdate(session, site, registered_on)
        return site

    return make

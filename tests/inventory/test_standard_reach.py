"""Standard editions belong to the unit that publishes them and apply to its subtree, the
nearest unit's edition winning, editions for everywhere last (issue 16, item 4)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from inventory.models import StandardVersion
from inventory.shortfall import shortfall
from inventory.standard import (
    StandardLineInput,
    editions_in_force,
    publish_standard,
    requirements_for_unit,
    standard_as_of,
)
from overview.dashboard import stock_figures
from readiness.errors import PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from tests.conftest import post_form

ON = date(2024, 6, 1)


def n(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def edition(session, unit, effective_from, base, note=""):
    """An edition asking stations for ``base`` life jackets, published by the system."""
    version = publish_standard(
        session,
        effective_from=effective_from,
        lines=[StandardLineInput("station", "LJ", str(base), "0")],
        note=note,
        actor=SYSTEM,
        unit=unit,
    )
    session.commit()
    return version


@pytest.fixture
def world(session, make_unit, make_user, make_item):
    """A province above two bureaus, a bureau of its own, and editions at every level:
    everywhere (since 2022), the province (2023), bureau B1 (2024, and one for 2025)."""
    province = make_unit("P", name="省厅", kind="bureau")
    b1 = make_unit("B1", name="登封市公安局", kind="bureau", parent=province)
    b2 = make_unit("B2", name="新密市公安局", kind="bureau", parent=province)
    other = make_unit("WL", name="温岭市应急管理局", kind="bureau")
    s1 = make_unit("S1", name="大冶派出所", parent=b1, headcount=28)
    s2 = make_unit("S2", name="城关派出所", parent=b2, headcount=20)
    s3 = make_unit("S3", name="石塘镇", kind="town", parent=other, headcount=0)
    make_user("boss1", "command", b1)
    make_user("boss2", "command", b2)
    make_user("clerk1", "clerk", s1)
    make_item("LJ", name="救生衣", uom="件")
    everywhere = edition(session, None, date(2022, 1, 1), 5)
    prov = edition(session, province, date(2023, 1, 1), 10)
    own = edition(session, b1, date(2024, 1, 1), 20)
    future = edition(session, b1, date(2025, 1, 1), 40)
    return {
        "units": {u.code: u for u in (province, b1, b2, other, s1, s2, s3)},
        "editions": {"everywhere": everywhere, "P": prov, "B1": own, "B1-2025": future},
    }


# ---------------------------------------------------------------- the rule


def test_the_nearest_unit_with_an_edition_in_force_wins(session, world):
    u, e = world["units"], world["editions"]
    assert standard_as_of(session, ON, u["S1"]) == e["B1"]  # the bureau's own
    assert standard_as_of(session, date(2025, 3, 1), u["S1"]) == e["B1-2025"]  # latest
    assert standard_as_of(session, date(2023, 6, 1), u["S1"]) == e["P"]  # B1's not yet
    assert standard_as_of(session, date(2022, 6, 1), u["S1"]) == e["everywhere"]
    assert standard_as_of(session, ON, u["S2"]) == e["P"]  # the province's, B2 has none
    assert standard_as_of(session, ON, u["S3"]) == e["everywhere"]  # another tree
    assert standard_as_of(session, ON) == e["everywhere"]  # no unit: everywhere's
    assert standard_as_of(session, date(2021, 1, 1), u["S1"]) is None
    # The shortfall's bulk lookup says the same for every unit.
    ids = [x.id for x in u.values()]
    assert editions_in_force(session, ids, ON) == {
        x.id: standard_as_of(session, ON, x).id for x in u.values()
    }


def test_required_quantities_and_the_shortfall_follow_each_units_edition(session, world):
    u, e = world["units"], world["editions"]
    assert [r.required for r in requirements_for_unit(session, u["S1"], ON)] == [20]
    assert [r.required for r in requirements_for_unit(session, u["S2"], ON)] == [10]
    report = shortfall(session, as_of=ON, use_cache=False)
    required = {r.unit.code: r.required for r in report.rows}
    assert required == {"S1": 20, "S2": 10}  # 石塘镇 is a town: the station line skips it
    assert report.version is None  # two editions in force
    # in force somewhere in the report: B1's, the province's, and everywhere's (Wenling)
    assert {v.id for v in report.versions} == {e["B1"].id, e["P"].id, e["everywhere"].id}
    assert {v.unit_name for v in report.versions} == {"登封市公安局", "省厅", None}
    b1_only = shortfall(session, unit_ids={u["S1"].id}, as_of=ON, use_cache=False)
    assert b1_only.version.id == e["B1"].id and b1_only.version.unit_name == "登封市公安局"
    # The dashboard's budget reads the same report: today 大冶 follows B1's 2025 edition
    # (40) and 城关 the province's (10); nothing is held, 100 yuan a jacket.
    figures = stock_figures(session, None, today=date.today())
    assert (figures.units_total, figures.units_below) == (2, 2)
    assert figures.budget_total == 5000


def test_command_staff_publish_for_their_own_unit_and_it_is_audited(session, world):
    u = world["units"]
    from readiness.models import User

    boss = session.scalar(select(User).where(User.username == "boss2"))
    version = publish_standard(
        session,
        effective_from=date(2024, 3, 1),
        lines=[StandardLineInput("station", "LJ", "15", "0")],
        note="新密标准",
        actor=boss,
    )
    session.commit()
    assert version.unit == u["B2"]
    assert standard_as_of(session, ON, u["S2"]) == version
    assert standard_as_of(session, ON, u["S1"]) == world["editions"]["B1"]  # B1 untouched
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "standard.publish").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.actor_id == boss.id and entry.unit_id == u["B2"].id
    assert entry.after["unit"] == "B2"


@pytest.mark.parametrize("target", ["B1", "P", None])
def test_nobody_publishes_beyond_their_reach_and_nothing_is_written(session, world, target):
    from readiness.models import User

    boss = session.scalar(select(User).where(User.username == "boss2"))
    before = (n(session, StandardVersion), n(session, AuditEntry))
    with pytest.raises(PermissionDenied):
        publish_standard(
            session,
            effective_from=date(2024, 3, 1),
            lines=[StandardLineInput("station", "LJ", "1", "0")],
            actor=boss,
            unit=world["units"][target] if target else None,
        )
    session.rollback()
    assert (n(session, StandardVersion), n(session, AuditEntry)) == before


# ---------------------------------------------------------------- pages and API


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_standard_page_shows_the_edition_in_force_for_the_users_unit(session, world, login):
    e = world["editions"]
    client = login("boss1")
    page = _text(client.get("/standard"))
    today_edition = standard_as_of(session, date.today(), world["units"]["B1"])
    assert f"第 {today_edition.id} 版" in page and "由 登封市公安局 发布" in page
    listed = set(map(int, re.findall(r"/standard\?version=(\d+)", page)))
    # its own, the province's above it and the one for everywhere; not B2's
    assert listed == {e["everywhere"].id, e["P"].id, e["B1"].id, e["B1-2025"].id}
    assert client.get(f"/standard?version={e['P'].id}").status_code == 200
    # another bureau's edition is not theirs to read
    from readiness.models import User

    b2_edition = publish_standard(
        session,
        effective_from=date(2024, 3, 1),
        lines=[StandardLineInput("station", "LJ", "15", "0")],
        actor=session.scalar(select(User).where(User.username == "boss2")),
    )
    session.commit()
    assert client.get(f"/standard?version={b2_edition.id}").status_code == 404
    assert client.get("/standard?unit=S2").status_code == 403


def test_publishing_on_the_page_makes_an_edition_of_the_users_unit(session, world, login):
    client = login("boss2")
    page = _text(client.get("/standard/new"))
    assert "本版属于 新密市公安局" in page
    r = post_form(
        client,
        "/standard/new",
        {
            "effective_from": "2024-02-01",
            "note": "新密",
            "lines-0-unit_kind": "station",
            "lines-0-item": "LJ",
            "lines-0-base_qty": "12",
            "lines-0-per_officer": "0",
        },
    )
    assert r.status_code == 302, _text(r)[:2000]
    version = session.scalars(select(StandardVersion).order_by(StandardVersion.id.desc())).first()
    assert version.unit.code == "B2" and version.note == "新密"
    assert [r.required for r in requirements_for_unit(session, world["units"]["S2"], ON)] == [12]


def test_the_api_answers_the_edition_in_force_with_its_unit(session, world, api, make_token):
    from readiness.models import User

    e = world["editions"]
    boss = api(make_token(session.scalar(select(User).where(User.username == "boss1"))))
    r = boss.get("/api/v1/standard?as_of=2024-06-01")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["id"], body["unit"], body["lines"][0]["base_qty"]) == (e["B1"].id, "B1", 20)
    r = boss.get("/api/v1/standard?as_of=2023-06-01&unit=S1")
    assert (r.get_json()["id"], r.get_json()["unit"]) == (e["P"].id, "P")
    assert boss.get("/api/v1/standard?unit=S2").status_code == 403
    clerk = api(make_token(session.scalar(select(User).where(User.username == "clerk1"))))
    assert clerk.get("/api/v1/standard?as_of=2024-06-01").get_json()["id"] == e["B1"].id
    put = boss.put(
        "/api/v1/standard",
        json={
            "effective_from": "2024-09-01",
            "lines": [{"unit_kind": "station", "item": "LJ", "base_qty": 25, "per_officer": 0}],
        },
    )
    assert put.status_code == 201 and put.get_json()["unit"] == "B1"
    report = boss.get("/api/v1/reports/shortfall?unit=B1&as_of=2024-10-01").get_json()
    assert report["standard_version"] == put.get_json()["id"]
    assert report["standard_versions"] == [put.get_json()["id"]]

"""The demo data tells the inspection report's story."""

from datetime import date

from sqlalchemy import select

from inventory import ledger
from inventory.models import Count
from inventory.shortfall import shortfall
from readiness import demo


def test_demo_shortfall_tells_the_seed_story(session):
    demo.load(session)
    session.commit()
    report = shortfall(session)
    rows = {(r.unit.code, r.item.code): r for r in report.rows}
    assert rows[("DF-DAYE", "LJ")].on_hand == 6
    assert rows[("DF-DAYE", "LJ")].required == 30  # 2 + 1 × 28 officers
    assert rows[("DF-BAIPING", "TAPE")].on_hand == 1
    assert rows[("DF-LUDIAN", "LIGHT")].on_hand == 1
    assert rows[("DF-JUNZHAO", "WHISTLE")].on_hand == 0
    assert rows[("DF-JUNZHAO", "BREAKER")].on_hand == 0
    # Within Dengfeng, the stations that lack most come first.
    dengfeng = [r for r in report.rows if r.unit.code.startswith("DF")]
    assert [(r.unit.code, r.item.code) for r in dengfeng[:2]] == [
        ("DF-JUNZHAO", "WHISTLE"),
        ("DF-JUNZHAO", "BREAKER"),
    ]
    assert rows[("DF-DAYE", "SANDBAG")].expired == 40
    assert report.transfers and report.budget_total > 0
    [count] = session.scalars(select(Count)).all()
    assert count.status == "approved"
    assert {ln.item.code: ln.variance for ln in count.lines if ln.variance} == {
        "ROPE": -1,
        "VEST": -1,
    }
    assert ledger.verify_balances(session) == []
    from inventory.models import Allocation

    statuses = sorted((a.status, a.is_emergency) for a in session.scalars(select(Allocation)))
    assert statuses == [("dispatched", True), ("submitted", False)]
    assert rows[("DF-LUDIAN", "SANDBAG")].inbound == 200
    # Loading again changes nothing.
    before = len(report.rows)
    demo.load(session)
    session.commit()
    assert len(shortfall(session).rows) == before


def test_demo_bureaus_each_keep_their_own_standard(session):
    """Dengfeng's stations follow Dengfeng's edition, Wenling's towns and shelter sites
    Wenling's (with the sites' relief supplies); neither edition reaches the other tree."""
    from inventory.models import StandardVersion
    from inventory.standard import standard_as_of
    from readiness import services as core

    demo.load(session)
    session.commit()
    df, wl = core.get_unit(session, "DF"), core.get_unit(session, "WL")
    by_unit = {
        v.unit.code if v.unit else None: v
        for v in session.scalars(select(StandardVersion).order_by(StandardVersion.id))
    }
    assert set(by_unit) == {"DF", "WL"}  # nothing published for everywhere
    assert standard_as_of(session, date.today(), core.get_unit(session, "DF-DAYE")).unit == df
    wenling = standard_as_of(session, date.today(), core.get_unit(session, "WL-ST"))
    assert wenling.unit == wl
    kinds = {line.unit_kind for line in wenling.lines}
    assert kinds == {"town", "shelter"}
    report = shortfall(session)
    rows = {(r.unit.code, r.item.code): r for r in report.rows}
    assert rows[("WL-ST", "LJ")].required == 30 and rows[("WL-ST", "LJ")].on_hand == 40
    assert ("WL-ST", "WHISTLE") not in rows  # Dengfeng's station lines stay in Dengfeng
    assert ("DF-DAYE", "COT") not in rows
    assert any(code.startswith("WL-") and item == "COT" for code, item in rows)
    assert {v.unit_name for v in report.versions} == {df.name, wl.name}

"""The demo data tells the inspection report's story."""

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
    # The stations that lack most come first.
    assert [(r.unit.code, r.item.code) for r in report.rows[:2]] == [
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

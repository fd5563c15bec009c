"""Stocktake variances in the register (issue 17, item 1): when a count is approved, each
line whose variance is beyond the threshold command staff set becomes a corrective action
(source ``count``) of the counted unit, owned by whoever counted it, due 14 days after
approval. The threshold belongs to the unit that sets it, the nearest one winning; none
set, no actions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from inventory import counts
from inventory.models import CountVarianceThreshold
from readiness.audit import AuditEntry
from readiness.errors import DomainError, PermissionDenied
from rectification.models import CorrectiveAction
from tests.conftest import post_form

TODAY = date.today()


@pytest.fixture
def depot(make_unit, make_user, make_item, stock):
    """A bureau with a warehouse holding 10 life jackets of one lot and 3 rolls of tape."""
    bureau = make_unit("B1", name="登封市公安局", kind="bureau", parent=None)
    wh = make_unit("WH", name="中心仓库", kind="warehouse", parent=bureau)
    jackets = make_item("LJ", name="救生衣")
    tape = make_item("TAPE", name="警戒带", uom="盘")
    stock(wh, jackets, 10, lot_code="LJ-2026-12", expires_on=TODAY + timedelta(days=400))
    stock(wh, tape, 3)
    return {
        "bureau": bureau,
        "wh": wh,
        "LJ": jackets,
        "TAPE": tape,
        "keeper": make_user("keeper1", "keeper", wh),
        "keeper2": make_user("keeper2", "keeper", wh),
        "cmd": make_user("boss", "command", bureau),
        "whcmd": make_user("whboss", "command", wh),
    }


def approve_with(session, depot, *, jackets: int, tape: int):
    """The keeper counts (jackets, tape), another keeper approves; the actions it made."""
    keeper = depot["keeper"]
    count = counts.start_count(session, depot["wh"], actor=keeper)
    for line in list(count.lines):
        value = jackets if line.item.code == "LJ" else tape
        counts.enter_count(session, count, line.item, line.lot, value, actor=keeper)
    counts.submit_count(session, count, actor=keeper)
    before = {a.id for a in session.scalars(select(CorrectiveAction))}
    counts.approve_count(session, count, actor=depot["keeper2"])
    session.commit()
    return [a for a in session.scalars(select(CorrectiveAction)) if a.id not in before]


def test_without_a_threshold_no_variance_makes_an_action(session, depot):
    assert approve_with(session, depot, jackets=2, tape=0) == []


def test_a_variance_beyond_the_threshold_becomes_an_action_of_the_counter(session, depot):
    counts.set_variance_threshold(session, min_qty=1, actor=depot["cmd"])
    session.commit()
    # jackets 10 → 8 (−2, beyond 1); tape 3 → 2 (−1, not beyond 1)
    [action] = approve_with(session, depot, jackets=8, tape=2)
    assert action.source == "count" and action.status == "open"
    assert action.text == "盘点差异：救生衣（批次 LJ-2026-12）账面 10，实盘 8，差异 -2"
    assert (action.unit_id, action.owner_id) == (depot["wh"].id, depot["keeper"].id)
    assert action.due_on == TODAY + timedelta(days=14)
    entry = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "action.create", AuditEntry.object_id == str(action.id)
        )
    )
    assert entry.after["source"] == "count"


def test_the_nearest_units_threshold_wins_and_a_percentage_counts(session, depot):
    counts.set_variance_threshold(session, min_qty=5, actor=depot["cmd"])
    session.commit()
    assert approve_with(session, depot, jackets=8, tape=3) == []  # −2 is not beyond 5
    # the warehouse's own command staff: beyond 10% of the book
    counts.set_variance_threshold(session, min_pct="10", actor=depot["whcmd"])
    session.commit()
    assert counts.variance_threshold(session, depot["wh"].id).min_pct == Decimal("10.00")
    assert counts.variance_threshold(session, depot["bureau"].id).min_qty == 5
    made = approve_with(session, depot, jackets=7, tape=3)  # 8 → 7: 12.5% of 8
    assert [a.text for a in made] == ["盘点差异：救生衣（批次 LJ-2026-12）账面 8，实盘 7，差异 -1"]
    # clearing the warehouse's own setting brings the bureau's back
    counts.set_variance_threshold(session, actor=depot["whcmd"])
    session.commit()
    assert counts.variance_threshold(session, depot["wh"].id).min_qty == 5


def test_threshold_rule_is_strictly_beyond():
    t = counts.VarianceThreshold(min_qty=2, min_pct=Decimal("50"), is_set=True)
    assert not t.exceeded(10, -2) and t.exceeded(10, 3)
    assert not t.exceeded(4, 2) and t.exceeded(3, 2)  # 50% is not beyond 50%
    # found where the books had nothing: beyond any percentage, not beyond a piece count
    assert t.exceeded(0, 1)
    assert not counts.VarianceThreshold(min_qty=2, is_set=True).exceeded(0, 1)
    assert not counts.VarianceThreshold().exceeded(10, -10)


def test_bad_thresholds_and_strangers_are_refused_with_nothing_written(session, depot):
    def state():
        return (
            session.scalar(select(func.count()).select_from(CountVarianceThreshold)),
            session.scalar(
                select(func.count()).where(AuditEntry.action == "count_variance_threshold.set")
            ),
        )

    before = state()
    for kwargs, field in [
        ({"min_qty": "-1"}, "min_qty"),
        ({"min_qty": "abc"}, "min_qty"),
        ({"min_pct": "101"}, "min_pct"),
        ({"min_pct": "NaN"}, "min_pct"),
        ({"min_qty": True}, "min_qty"),
    ]:
        with pytest.raises(DomainError) as err:
            counts.set_variance_threshold(session, actor=depot["cmd"], **kwargs)
        assert err.value.field == field
        session.rollback()
    with pytest.raises(PermissionDenied):
        counts.set_variance_threshold(session, min_qty=1, actor=depot["keeper"])
    session.rollback()
    assert state() == before


def test_command_staff_set_the_threshold_on_the_count_settings_page(client, login, session, depot):
    login("boss")
    page = client.get("/counts/intervals").get_data(as_text=True)
    assert "尚未设置阈值" in page
    r = post_form(client, "/counts/variance-threshold", {"min_qty": "3", "min_pct": "20"})
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert "已保存盘点差异阈值。" in page and "超过 3 件" in page and "20.00%" in page
    r = post_form(client, "/counts/variance-threshold", {"min_qty": "-3"})
    page = client.get(r.location).get_data(as_text=True)
    assert "差异数量阈值须在 0 到" in page and "超过 3 件" in page

"""Weekly ranking and monthly bulletin (issue 17, item 4): units ranked by how they close
their corrective actions; command staff issue the ranking as a bulletin, kept as it stood,
once per period; nobody sees another bureau's units."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from overview import ranking as rk
from overview.models import Bulletin
from readiness.audit import AuditEntry
from readiness.errors import Conflict, PermissionDenied
from readiness.extensions import db
from readiness.params import BadParameter
from rectification import actions
from rectification.models import CorrectiveAction
from rectification.visits import VisitFinding, record_visit
from tests.conftest import post_form
from tests.pdfcheck import assert_fonts_embedded, pdf_text

TODAY = date.today()
LATER = TODAY + timedelta(days=30)
WEEK = rk.period_of("week", TODAY)


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC).replace(hour=10)


@pytest.fixture
def world(session, make_unit, make_user):
    b1 = make_unit("B1", name="甲局", kind="bureau", parent=None)
    s1 = make_unit("S1", name="一所", parent=b1)
    s2 = make_unit("S2", name="二所", parent=b1)
    b2 = make_unit("B2", name="乙局", kind="bureau", parent=None)
    x1 = make_unit("X1", name="乙局三所", parent=b2)
    w = {
        "b1": b1,
        "s1": s1,
        "s2": s2,
        "b2": b2,
        "x1": x1,
        "boss": make_user("boss", "command", b1),
        "insp": make_user("insp", "inspector", b1),
        "one": make_user("one", "clerk", s1),
        "two": make_user("two", "clerk", s2),
        "boss2": make_user("boss2", "command", b2),
        "three": make_user("three", "clerk", x1),
    }
    return w


def add_actions(session, w, unit, owner, texts, *, actor=None) -> list[CorrectiveAction]:
    visit = record_visit(
        session,
        kind="check",
        unit=unit,
        visited_on=TODAY,
        team="检查组",
        summary="",
        findings=[VisitFinding(text=t, unit=unit, owner=owner, due_on=LATER) for t in texts],
        actor=actor or w["insp"],
    )
    session.commit()
    return list(visit.actions)


def close(session, w, action, owner):
    actions.mark_done(session, action, "已整改，附照片", actor=owner)
    actions.verify_action(session, action, actor=w["insp"])
    session.commit()


def overdue(session, action, days=3):
    action.due_on = TODAY - timedelta(days=days)
    session.commit()


@pytest.fixture
def figures(session, world):
    """一所: 2 closed this week, 1 open overdue, 1 open not yet due → rate 2/4.
    二所: 1 open overdue, 1 done awaiting verification past due (open, not overdue), 1
    closed last week (not counted) → rate 0/2. 乙局三所: 1 open overdue."""
    w = world
    a = add_actions(session, w, w["s1"], w["one"], ["甲一", "甲二", "甲三", "甲四"])
    close(session, w, a[0], w["one"])
    close(session, w, a[1], w["one"])
    overdue(session, a[2])
    b = add_actions(session, w, w["s2"], w["two"], ["乙一", "乙二", "乙三"])
    overdue(session, b[0])
    actions.mark_done(session, b[1], "已整改", actor=w["two"])
    session.commit()
    overdue(session, b[1])
    close(session, w, b[2], w["two"])
    b[2].created_at = _at(TODAY - timedelta(days=20))
    b[2].verified_at = _at(WEEK.start - timedelta(days=2))
    session.commit()
    x = add_actions(session, w, w["x1"], w["three"], ["丙一"], actor=w["boss2"])
    overdue(session, x[0])
    return w


def rows_of(board):
    return {r.code: (r.position, r.open, r.overdue, r.closed, r.rate) for r in board.rows}


def reach(session, w):
    from readiness.permissions import unit_ids_below

    return unit_ids_below(session, w["b1"].id)


def test_units_are_ranked_by_closure_rate_then_fewest_overdue(session, figures):
    board = rk.ranking(session, unit_ids=reach(session, figures), period=WEEK, today=TODAY)
    assert rows_of(board) == {"S1": (1, 2, 1, 2, 0.5), "S2": (2, 2, 1, 0, 0.0)}
    assert [r.code for r in board.named] == ["S1", "S2"]
    assert board.totals() == {"units": 2, "open": 4, "overdue": 2, "closed": 2, "rate": 0.3333}


def test_equal_figures_share_a_position_and_units_without_actions_come_last(
    session, world, make_unit
):
    w = world
    make_unit("S3", name="三所", parent=w["b1"])
    a = add_actions(session, w, w["s1"], w["one"], ["甲一"])
    b = add_actions(session, w, w["s2"], w["two"], ["乙一"])
    close(session, w, a[0], w["one"])
    close(session, w, b[0], w["two"])
    board = rk.ranking(session, unit_ids=reach(session, w), period=WEEK, today=TODAY)
    assert [(r.code, r.position, r.rate) for r in board.rows] == [
        ("S1", 1, 1.0),
        ("S2", 1, 1.0),
        ("S3", 3, None),
    ]


def test_a_past_month_counts_actions_as_they_stood_at_its_end(session, world):
    """Open and overdue at the end of last month, closed this month: last month shows it
    overdue, and its closure counts in this month only."""
    w = world
    last = rk.period_of("month", TODAY).previous()
    (a,) = add_actions(session, w, w["s1"], w["one"], ["甲一"])
    a.created_at = _at(last.start)
    a.due_on = last.start + timedelta(days=5)
    session.commit()
    close(session, w, a, w["one"])
    a.verified_at = _at(TODAY)
    session.commit()
    scope = reach(session, w)
    assert rows_of(rk.ranking(session, unit_ids=scope, period=last, today=TODAY))["S1"] == (
        1,
        1,
        1,
        0,
        0.0,
    )
    this = rk.period_of("month", TODAY)
    assert rows_of(rk.ranking(session, unit_ids=scope, period=this, today=TODAY))["S1"] == (
        1,
        0,
        0,
        1,
        1.0,
    )


def test_the_ranking_takes_the_same_queries_however_many_units(
    session, figures, make_unit, make_item, stock
):
    w = figures

    def statements() -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            session.expire_all()
            rk.ranking(session, unit_ids=reach(session, w), period=WEEK, today=TODAY)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    before = statements()
    item = make_item("LJ")
    for n in range(6):
        unit = make_unit(f"S{n + 10}", parent=w["b1"])
        stock(unit, item, n + 1)
        owner_name = f"u{n}"
        from readiness import services
        from readiness.permissions import SYSTEM

        owner = services.create_user(
            session,
            username=owner_name,
            password="x" * 12 + "Aa1!",
            role="clerk",
            unit=unit,
            name="",
            actor=SYSTEM,
        )
        session.commit()
        add_actions(session, w, unit, owner, ["问题"])
    assert statements() == before


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("week=2026-W99", "week"),
        ("week=abc", "week"),
        ("week=99999-W01", "week"),
        ("month=2026-13", "month"),
        ("month=2026", "month"),
        ("week=2026-W49&month=2026-11", "month"),
    ],
)
def test_a_bad_period_is_refused_naming_its_parameter(client, login, world, query, name):
    login("boss")
    response = client.get(f"/ranking?{query}")
    assert response.status_code == 400
    assert name in response.get_data(as_text=True)


def test_the_period_is_a_week_or_a_month():
    assert rk.parse_period("2026-W49", None, today=TODAY) == rk.Period(
        "week", date(2026, 11, 30), date(2026, 12, 6)
    )
    assert rk.parse_period(None, "2026-02", today=TODAY) == rk.Period(
        "month", date(2026, 2, 1), date(2026, 2, 28)
    )
    assert rk.parse_period(None, None, today=date(2026, 12, 4)).key == "2026-W49"
    with pytest.raises(BadParameter):
        rk.parse_period("2026-W54", None, today=TODAY)


def test_the_page_shows_the_ranking_of_the_reach_only(client, login, figures):
    login("boss")
    page = client.get(f"/ranking?week={WEEK.key}").get_data(as_text=True)
    assert "一所（S1）" in page and "二所（S2）" in page
    assert "50.0%" in page and "需要通报的单位" in page
    assert "乙局" not in page
    month = client.get(f"/ranking?month={TODAY:%Y-%m}")
    assert month.status_code == 200


def test_clerks_and_administrators_may_not_open_the_ranking(client, login, world, make_user):
    login("one")
    assert client.get("/ranking").status_code == 403
    assert client.get("/bulletins").status_code == 403


def bulletins(session) -> int:
    return session.scalar(select(func.count()).select_from(Bulletin))


def test_command_issues_the_bulletin_once_per_period_audited(session, client, login, figures):
    login("boss")
    response = post_form(client, "/ranking", {"week": WEEK.key})
    assert response.status_code == 302
    (b,) = session.scalars(select(Bulletin)).all()
    assert response.location.endswith(f"/bulletins/{b.id}.pdf")
    assert (b.unit_id, b.period_kind, b.period_start) == (figures["b1"].id, "week", WEEK.start)
    assert b.issued_by_id == figures["boss"].id
    assert [r["code"] for r in b.rows["rows"]] == ["S1", "S2"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "bulletin.issue"))
    assert entry.object_id == str(b.id) and entry.after["number"] == b.number
    again = post_form(client, "/ranking", {"week": WEEK.key})
    assert again.status_code == 409
    assert bulletins(session) == 1
    listing = client.get("/bulletins").get_data(as_text=True)
    assert b.number in listing and f"/bulletins/{b.id}.pdf" in listing


def test_an_inspector_may_not_issue_and_nothing_is_written(session, client, login, figures):
    login("insp")
    assert post_form(client, "/ranking", {"week": WEEK.key}).status_code == 403
    with pytest.raises(PermissionDenied):
        rk.issue_bulletin(session, figures["b1"], WEEK, actor=figures["insp"], today=TODAY)
    session.rollback()
    assert bulletins(session) == 0


def test_a_second_bulletin_for_the_period_is_refused_by_the_service(session, figures):
    rk.issue_bulletin(session, figures["b1"], WEEK, actor=figures["boss"], today=TODAY)
    session.commit()
    with pytest.raises(Conflict):
        rk.issue_bulletin(session, figures["b1"], WEEK, actor=figures["boss"], today=TODAY)
    session.rollback()
    assert bulletins(session) == 1


def test_the_bulletin_pdf_keeps_the_rows_as_issued(session, client, login, figures):
    w = figures
    b = rk.issue_bulletin(session, w["b1"], WEEK, actor=w["boss"], today=TODAY)
    session.commit()
    # afterwards 二所 closes everything: the issued bulletin does not change
    for a in session.scalars(
        select(CorrectiveAction).where(
            CorrectiveAction.unit_id == w["s2"].id, CorrectiveAction.status == "open"
        )
    ).all():
        close(session, w, a, w["two"])
    login("insp")
    response = client.get(f"/bulletins/{b.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert_fonts_embedded(response.data)
    text = "".join(pdf_text(response.data).split())
    assert "应急装备战备工作通报" in text and b.number in text
    assert "二所（S2）" in text and "0.0%" in text
    assert "乙局" not in text
    live = rk.ranking(session, unit_ids=reach(session, w), period=WEEK, today=TODAY)
    assert rows_of(live)["S2"][3] == 1  # the live ranking did change


def test_another_bureau_never_sees_the_bulletin(session, client, login, figures):
    b = rk.issue_bulletin(session, figures["b1"], WEEK, actor=figures["boss"], today=TODAY)
    session.commit()
    login("boss2")
    assert client.get(f"/bulletins/{b.id}.pdf").status_code == 404
    assert b.number not in client.get("/bulletins").get_data(as_text=True)
    page = client.get("/ranking").get_data(as_text=True)
    assert "一所" not in page and "乙局三所" in page

"""Reports reused until something is written: never a stale figure, on either database."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import ledger, standard
from inventory.shortfall import shortfall
from overview.dashboard import gather
from readiness import cache
from readiness.extensions import db
from readiness.models import Unit, User
from readiness.permissions import SYSTEM
from tests.conftest import BACKEND


def _standard(session):
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[standard.StandardLineInput("station", "LJ", "2", "1")],
        actor=SYSTEM,
    )


def _on_hand(report, unit_code, item_code):
    return next(
        r.on_hand for r in report.rows if (r.unit.code, r.item.code) == (unit_code, item_code)
    )


def test_the_report_is_reused_until_a_write_and_then_shows_it(session, make_unit, make_item, stock):
    station = make_unit("DAYE")
    jackets = make_item("LJ")
    _standard(session)
    stock(station, jackets, 6)
    first = shortfall(session)
    assert shortfall(session) is first  # nothing written: the same report
    assert _on_hand(first, "DAYE", "LJ") == 6
    stock(station, jackets, 4)
    second = shortfall(session)
    assert second is not first and _on_hand(second, "DAYE", "LJ") == 10


def test_a_transaction_with_its_own_pending_writes_is_never_served_from_the_cache(
    session, make_unit, make_item, stock
):
    station = make_unit("DAYE")
    jackets = make_item("LJ")
    _standard(session)
    stock(station, jackets, 6)
    shortfall(session)
    ledger.record_movement(session, unit=station, item=jackets, kind="issue", qty=1, actor=SYSTEM)
    assert cache.data_version(session) is None
    assert _on_hand(shortfall(session), "DAYE", "LJ") == 5  # its own write, uncommitted
    session.rollback()
    assert _on_hand(shortfall(session), "DAYE", "LJ") == 6


def test_a_write_committed_by_another_connection_while_the_report_was_read_is_seen(
    app, session, make_unit, make_item, stock
):
    """The race a cache keyed on 'newest id' alone gets wrong: another transaction writes,
    the report is computed (without that write) and cached, then the write commits."""
    station = make_unit("DAYE")
    jackets = make_item("LJ")
    _standard(session)
    stock(station, jackets, 6)
    session.commit()
    with Session(db.engine) as writer:
        unit = writer.get(Unit, station.id)
        item = writer.get(type(jackets), jackets.id)
        ledger.record_movement(writer, unit=unit, item=item, kind="receipt", qty=7, actor=SYSTEM)
        writer.flush()  # written, not committed
        session.commit()  # the reader starts afresh
        before = shortfall(session)
        assert _on_hand(before, "DAYE", "LJ") == 6
        session.commit()
        writer.commit()
    session.commit()
    assert _on_hand(shortfall(session), "DAYE", "LJ") == 13


def test_the_dashboard_follows_a_write(session, make_unit, make_item, make_user, stock, login):
    bureau = make_unit("DF", kind="bureau")
    station = make_unit("DAYE", parent=bureau)
    jackets = make_item("LJ")
    _standard(session)
    make_user("cmd1", "command", bureau)
    client = login("cmd1")

    def budget():
        user = session.scalar(select(User).where(User.username == "cmd1"))
        board = gather(session, user, today=date.today(), shelter_target=Decimal("0.6"))
        return board.stock.budget_total

    assert client.get("/").status_code == 200
    needed = budget()
    assert budget() == needed
    stock(station, jackets, 5)
    assert budget() < needed


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite has one writer at a time")
def test_an_older_write_committing_after_a_newer_one_is_seen(
    app, session, make_unit, make_item, stock
):
    """Writer A takes an audit id, writer B takes a later one and commits, the report is read
    and cached, then A commits: 'newest id' has not moved, the snapshot has."""
    daye, ludian = make_unit("DAYE"), make_unit("LUDIAN")
    jackets = make_item("LJ")
    _standard(session)
    stock(daye, jackets, 6)
    stock(ludian, jackets, 6)
    session.commit()

    def receive(writer, unit_id, qty):
        unit = writer.get(Unit, unit_id)
        item = writer.get(type(jackets), jackets.id)
        ledger.record_movement(writer, unit=unit, item=item, kind="receipt", qty=qty, actor=SYSTEM)
        writer.flush()

    with Session(db.engine) as a, Session(db.engine) as b:
        receive(a, daye.id, 7)
        receive(b, ludian.id, 1)
        b.commit()
        session.commit()
        assert _on_hand(shortfall(session), "DAYE", "LJ") == 6
        a.commit()
    session.commit()
    assert _on_hand(shortfall(session), "DAYE", "LJ") == 13


def _ask_at_once(app, n: int, compute) -> list:
    """``n`` requests asking for the same report at the same moment, each on its own
    connection, as gunicorn's threads would."""
    import threading

    results: list = []
    errors: list = []
    gate = threading.Barrier(n)

    def ask():
        with app.app_context():
            own = Session(db.engine)
            try:
                gate.wait()
                results.append(cache.cached(own, ("stampede",), compute))
            except Exception as err:  # collected for the assertion
                errors.append(err)
            finally:
                own.close()

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results + errors


def test_callers_asking_at_once_for_a_missing_report_wait_for_one_computation(
    app, session, make_unit
):
    import time

    make_unit("DAYE")  # data, and an audit entry: a version of it
    cache.clear()
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.3)  # long enough for every other caller to arrive meanwhile
        return object()

    answers = _ask_at_once(app, 8, compute)
    assert len(calls) == 1
    assert len(answers) == 8 and all(a is answers[0] for a in answers)


def test_when_the_computation_fails_a_waiting_caller_computes_it(app, session, make_unit):
    import time

    make_unit("DAYE")
    cache.clear()
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        if len(calls) == 1:
            raise RuntimeError("the first computation fails")
        return "report"

    answers = _ask_at_once(app, 4, compute)
    failures = [a for a in answers if isinstance(a, RuntimeError)]
    assert len(failures) == 1 and answers.count("report") == 3
    assert len(calls) == 2  # the failed one, then one more for everybody else


def test_while_one_request_computes_after_a_write_the_dashboard_shows_the_previous_figures(
    app, session, make_unit, make_item, make_user, stock, login, monkeypatch
):
    """After a write, the one request computing the dashboard again waits for it; a request
    arriving meanwhile gets the previous figures at once, saying from when they are. The
    shortfall report itself (what a keeper opens to check a receipt) always waits."""
    import threading

    from overview import dashboard

    bureau = make_unit("DF", kind="bureau")
    station = make_unit("DAYE", parent=bureau)
    jackets = make_item("LJ")
    _standard(session)
    make_user("cmd1", "command", bureau)
    session.commit()
    client = login("cmd1")
    cache.clear()
    first = client.get("/")
    assert first.status_code == 200 and "dash-figures-from" not in first.text
    stock(station, jackets, 5)  # a write: a new state of the data
    session.commit()

    started, release = threading.Event(), threading.Event()
    slow = dashboard._gather

    def held_back(*args, **kwargs):
        started.set()
        release.wait(10)
        return slow(*args, **kwargs)

    monkeypatch.setattr(dashboard, "_gather", held_back)

    def compute_in_another_request():
        with app.app_context():
            own = Session(db.engine)
            try:
                user = own.scalar(select(User).where(User.username == "cmd1"))
                gather(own, user, today=date.today(), shelter_target=Decimal("0.6"))
            finally:
                own.close()

    other = threading.Thread(target=compute_in_another_request)
    other.start()
    try:
        assert started.wait(10)
        meanwhile = client.get("/")
        assert meanwhile.status_code == 200
        assert "dash-figures-from" in meanwhile.text  # the previous figures, with their time
        # anything but the dashboard waits for the current data: not served the old report
        report = shortfall(session)
        assert _on_hand(report, "DAYE", "LJ") == 5
    finally:
        release.set()
        other.join(10)
    monkeypatch.setattr(dashboard, "_gather", slow)
    after = client.get("/")
    assert "dash-figures-from" not in after.text  # computed: current again


def test_the_previous_result_is_handed_out_only_while_the_current_one_is_computed(
    app, session, make_unit
):
    import threading

    make_unit("DAYE")
    session.commit()
    cache.clear()
    value, since = cache.cached_or_previous(session, ("k",), lambda: "old")
    assert (value, since) == ("old", None)
    session.commit()
    make_unit("LUDIAN")  # a new state of the data
    session.commit()
    # nobody computes the new one: the caller computes it and waits for it
    assert cache.cached_or_previous(session, ("k",), lambda: "new") == ("new", None)
    session.commit()
    make_unit("QIAOZHUANG")
    session.commit()
    gate, release = threading.Event(), threading.Event()

    def slow():
        gate.set()
        release.wait(10)
        return "newest"

    def other():
        with app.app_context():
            own = Session(db.engine)
            try:
                cache.cached_or_previous(own, ("k",), slow)
            finally:
                own.close()

    t = threading.Thread(target=other)
    t.start()
    try:
        assert gate.wait(10)
        value, since = cache.cached_or_previous(session, ("k",), lambda: "not called")
        assert value == "new" and since is not None
    finally:
        release.set()
        t.join(10)
    session.commit()
    assert cache.cached_or_previous(session, ("k",), lambda: "not called") == ("newest", None)

"""Pages whose number of queries must not grow with the data (issue 21, item 3): each is read
by command staff at two sizes of the same bureau, and must cost the same number of queries.
The pages named in the issue come first; the test over every route follows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from inventory import standard
from readiness.extensions import db
from readiness.permissions import SYSTEM


def _queries(app, client, path: str) -> int:
    count = 0

    def one(*_args, **_kwargs):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", one)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", one)
    assert response.status_code == 200, path
    return count


def _grow(session, make_unit, make_user, make_item, bureau, n: int, start: int) -> None:
    """``n`` more stations with a clerk each (its custodian), ``n`` more items, and a standard
    edition of the bureau that names every item."""
    from overview.handover import set_custodian

    for k in range(start, start + n):
        station = make_unit(f"S{k:03d}", parent=bureau)
        clerk = make_user(f"clerk{k:03d}", "clerk", station)
        set_custodian(session, station, clerk, actor=SYSTEM)  # each station's 专人负责
        make_item(f"I{k:03d}")
    items = [f"I{k:03d}" for k in range(start + n)]
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1 + start % 28),
        lines=[standard.StandardLineInput("station", code, "1", "0") for code in items],
        actor=SYSTEM,
        unit=bureau,
    )
    session.commit()


@pytest.mark.parametrize("path", ["/users", "/standard", "/handover", "/users/{boss}/handover"])
def test_the_page_costs_the_same_queries_for_a_small_and_a_larger_bureau(
    app, session, make_unit, make_user, make_item, login, path
):
    bureau = make_unit("DF", kind="bureau")
    boss = make_user("boss", "command", bureau)
    path = path.format(boss=boss.id)
    _grow(session, make_unit, make_user, make_item, bureau, 3, 0)
    client = login("boss")
    small = _queries(app, client, path)
    _grow(session, make_unit, make_user, make_item, bureau, 12, 3)
    larger = _queries(app, client, path)
    assert larger == small, f"{path}: {small} queries with 3 stations, {larger} with 15"

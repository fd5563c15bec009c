"""Pages whose number of queries must not grow with the data (issue 21, item 3): each is read
by command staff at two sizes of the same bureau, and must cost the same number of queries.
The pages named in the issue come first; the test over every route follows."""

from __future__ import annotations

import contextlib
import gc
from datetime import date

import pytest
from sqlalchemy import event

from inventory import standard
from readiness.extensions import db
from readiness.permissions import SYSTEM


@contextlib.contextmanager
def _measured():
    """A measured request, counted the same way every time:
    - no cycle collection during it: the session keeps weak references, so an object
      collected at some moment (or not) is read again (or not); with the collector running
      a page's count moved by one from run to run on PostgreSQL;
    - no report computed earlier: a page served from the cache costs fewer queries, and
      whether it is (PostgreSQL's snapshot moves with any commit on the server) is not the
      page's doing."""
    from readiness import cache

    cache.clear()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _statements(app, client, path: str) -> list[str]:
    """The SQL statements one measured GET of ``path`` runs."""
    statements: list[str] = []

    def one(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", one)
    try:
        with _measured():
            response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", one)
    assert response.status_code == 200, path
    return statements


def _queries(app, client, path: str) -> int:
    return len(_statements(app, client, path))


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


def _reach_walks(app, client, path: str) -> int:
    """How many times a request walks down the unit tree (a recursive query)."""
    return sum("RECURSIVE" in s.upper() for s in _statements(app, client, path))


@pytest.mark.parametrize("path", ["/users", "/actions", "/drills"])
def test_a_list_walks_the_readers_reach_once(
    app, session, make_unit, make_user, make_item, login, path
):
    """A bureau's list page with its unit picker: the reach that filters the rows also gives
    the picker's units (it was walked two or three times per request)."""
    city = make_unit("CITY", kind="bureau")
    bureau = make_unit("DF", kind="bureau", parent=city)
    make_user("boss", "command", bureau)
    _grow(session, make_unit, make_user, make_item, bureau, 3, 0)
    assert _reach_walks(app, login("boss"), path) == 1


# ---------------------------------------------------------------- every route, two cities

# Two sizes of the benchmark's city (bench/dataset.py, drills.py, shelters.py): the larger has
# four times the units, their people, stock, drills, actions and shelter sites; the catalog
# is the same.
SMALL = {"brigades": 2, "stations": 14, "squads": 2, "warehouses": 1, "movements": 1_500}
LARGE = {"brigades": 4, "stations": 62, "squads": 6, "warehouses": 3, "movements": 6_000}
SMALL_MORE = {"drills": 30, "towns": 3, "villages": 20, "shelters": 12, "records": 3}
LARGE_MORE = {"drills": 120, "towns": 12, "villages": 80, "shelters": 48, "records": 12}
ITEMS: dict = {}  # the catalog as the benchmark has it, the same at both sizes

# A route argument → the table whose first row fills it.
ID_TABLES = {
    "user_id": "users",
    "drill_id": "drills",
    "action_id": "corrective_actions",
    "shelter_id": "shelters",
    "village_id": "villages",
    "count_id": "counts",
    "allocation_id": "allocations",
    "asset_id": "assets",
    "visit_id": "inspection_visits",
    "bulletin_id": "bulletins",
    "record_id": "maintenance_records",
    "round_id": "safety_rounds",
    "check_id": "preseason_checks",
    "request_id": "purchase_requests",
    "decision_id": "collective_decisions",
    "subsidy_id": "shelter_subsidies",
    "profile_id": "printer_profiles",
    "attachment_id": "drill_attachments",
    "defect_id": "shelter_defects",
}

# Routes whose query count still grows with the data, each to be fixed (issue 21, item 3):
# the test fails when one of them stops growing (take it off) or another starts.
STILL_GROWING: dict[str, str] = {}


def _city(url: str, size: dict, more: dict) -> None:
    from flask_migrate import upgrade

    from bench.dataset import Sizes, build
    from bench.drills import build_drills
    from bench.shelters import build_shelters
    from readiness import create_app
    from tests.conftest import _base_config

    app = create_app(_base_config(url))
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            build(conn, Sizes(**size, **ITEMS), today=date.today())
        with db.engine.begin() as conn:
            build_drills(conn, drills=more["drills"], today=date.today())
        with db.engine.begin() as conn:
            build_shelters(
                conn,
                towns=more["towns"],
                villages=more["villages"],
                shelters=more["shelters"],
                today=date.today(),
            )
        _records(more["records"])
        db.session.commit()
        db.engine.dispose()


def _records(k: int) -> None:
    """What the benchmark's city does not make, through the services, for ``k`` stations
    (more in the larger city): a stocktake, an allocation from the warehouse, an inspection
    visit, a safety round, a serviced piece with its label, a printer, and one purchase
    request, decision and bulletin for the city."""
    from sqlalchemy import select

    from funding import decisions as money
    from funding import purchases
    from inventory import allocations as alloc
    from inventory import rounds
    from inventory.counts import start_count
    from inventory.maintenance import record as record_maintenance
    from inventory.models import Asset, Position
    from labels.services import label_for_asset, save_profile
    from overview.ranking import issue_bulletin, period_of
    from readiness.models import Unit, User
    from rectification.visits import record_visit

    session = db.session
    city = session.get(Unit, 1)
    stations = session.scalars(
        select(Unit).where(Unit.kind == "station").order_by(Unit.id).limit(k)
    ).all()
    warehouse = session.scalar(select(Unit).where(Unit.kind == "warehouse").order_by(Unit.id))
    stock = session.scalars(
        select(Position).where(Position.unit_id == warehouse.id, Position.qty > 5).limit(k)
    ).all()
    rounds.set_template(session, city, "daily", "门窗锁具完好", actor=SYSTEM)
    for n, station in enumerate(stations):
        start_count(session, station, actor=SYSTEM)
        position = stock[n % len(stock)]
        alloc.create_allocation(
            session,
            from_unit=warehouse,
            to_unit=station,
            lines=[alloc.LineInput(position.item.code, 1)],
            reason="演练补充",
            actor=SYSTEM,
        )
        record_visit(
            session,
            kind="check",
            unit=station,
            visited_on=date.today(),
            team="检查组",
            summary="",
            findings=[],
            actor=SYSTEM,
        )
        rounds.record_round(
            session,
            station,
            frequency="daily",
            done_on=date.today(),
            answers=[rounds.Answer("门窗锁具完好", True)],
            actor=SYSTEM,
        )
        save_profile(session, station, {"name": f"打印机{n}", "layout": "a4-3x8"}, actor=SYSTEM)
    for asset in session.scalars(select(Asset).order_by(Asset.id).limit(k)):
        record_maintenance(
            session, asset, kind="service", done_on=date.today(), result="pass", actor=SYSTEM
        )
        label_for_asset(session, asset)
    head = session.scalar(select(User).where(User.unit_id == 1).order_by(User.id))
    money.set_leadership(
        session, city, [money.MemberInput(head.username, "局长", True)], actor=SYSTEM
    )
    money.record_decision(
        session,
        city,
        met_on=date.today(),
        attendees=[head.username],
        subject="购置",
        decision="同意",
        amount="1000",
        policy=money.Policy.of(50000, "2/3"),
        actor=SYSTEM,
    )
    purchases.create_request(
        session,
        city,
        title="购置",
        lines=[purchases.LineInput(s.code, stock[0].item.code, 1, "10") for s in stations],
        actor=SYSTEM,
    )
    issue_bulletin(session, city, period_of("week", date.today()), actor=SYSTEM, today=date.today())


def _counts(url: str) -> tuple[dict[str, int], dict[str, str]]:
    """Queries per GET route for command staff of the whole city, and the routes not read
    (with why)."""
    from sqlalchemy import text

    from readiness import create_app, services
    from readiness.models import Unit
    from tests.conftest import _base_config

    app = create_app(_base_config(url))
    counts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    with app.app_context():
        user = services.create_user(
            db.session,
            username="counter",
            password="measure-9-Readiness",
            role="command",
            unit=db.session.get(Unit, 1),
            actor=SYSTEM,
        )
        token = services.issue_token(db.session, user, actor=SYSTEM)
        db.session.commit()
        session_id = user.get_id()
        first = {}
        for name, table in ID_TABLES.items():
            first[name] = db.session.execute(text(f"SELECT MIN(id) FROM {table}")).scalar()
        item = db.session.execute(text("SELECT code FROM items ORDER BY id LIMIT 1")).scalar()
        db.session.remove()
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = session_id
        cookie["_fresh"] = True
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.rule.replace("<code>", "CITY").replace("<item_code>", item)
        missing = []
        for arg in rule.arguments - {"code", "item_code", "filename"}:
            name = arg
            if first.get(name) is None:
                missing.append(name)
            else:
                path = path.replace(f"<int:{name}>", str(first[name]))
        if missing or "<" in path:
            skipped[rule.endpoint] = f"no {', '.join(missing) or 'value'} to fill in"
            continue
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
        n = 0

        def one(*_args, **_kwargs):
            nonlocal n
            n += 1

        event.listen(engine, "before_cursor_execute", one)
        try:
            with _measured():
                response = client.get(path, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", one)
        assert response.status_code < 500, (path, response.status_code)
        if response.status_code == 200:
            counts[rule.endpoint] = n
        else:
            skipped[rule.endpoint] = f"answered {response.status_code}"
    with app.app_context():
        db.engine.dispose()
    return counts, skipped


@pytest.mark.slow
def test_no_route_reads_more_queries_in_a_larger_city(database_template, empty_url, tmp_path):
    """Every page and API GET, read as command staff of the whole city, costs the same number
    of queries in a city four times the size (routes with an argument read the first record
    of its kind)."""
    from tests.conftest import BACKEND

    urls = [empty_url, f"sqlite:///{tmp_path / 'large.db'}"]
    if BACKEND != "sqlite":
        from sqlalchemy import make_url

        urls[1] = make_url(empty_url).set(database=make_url(empty_url).database + "_l")
        urls[1] = urls[1].render_as_string(hide_password=False)
        _create_database(urls[1])
    try:
        _city(urls[0], SMALL, SMALL_MORE)
        _city(urls[1], LARGE, LARGE_MORE)
        small, skipped_small = _counts(urls[0])
        large, skipped_large = _counts(urls[1])
    finally:
        if BACKEND != "sqlite":
            _drop_database(urls[1])
    growing = {
        endpoint: f"{small[endpoint]} → {large[endpoint]}"
        for endpoint in sorted(set(small) & set(large))
        if large[endpoint] > small[endpoint]
    }
    assert set(growing) == set(STILL_GROWING), growing
    # every route was read at both sizes, or says why not
    assert set(small) == set(large), set(small) ^ set(large)
    assert skipped_small.keys() == skipped_large.keys()


def _create_database(url: str) -> None:
    import psycopg
    from sqlalchemy import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{u.database}"')


def _drop_database(url: str) -> None:
    import psycopg
    from sqlalchemy import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')

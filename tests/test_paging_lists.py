"""Every API list is paged by keyset (issue 21, item 2): walked a few rows at a time through
its ``next_cursor``, it gives exactly the rows one large page gives, in the same order, each
once, and never a row out of the caller's reach; the OpenAPI document says so; the ledger
and expiry pages walk all their rows by their "下一页" links.

The data is the benchmark's city at the small size of tests/test_query_counts.py, with what
that city lacks for some lists (a flood season, fund entries, more decisions and printers)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from readiness import create_app, services
from readiness.extensions import db
from readiness.permissions import SYSTEM
from tests.conftest import IsolatedClient, _base_config
from tests.test_query_counts import SMALL, SMALL_MORE, _city

PASSWORD = "measure-9-Readiness"

# Each paged list: its path, the key of its rows, and the key naming a row's unit (None: the
# rows belong to no unit of the caller's, e.g. the catalog).
LISTS = {
    "/api/v1/units": ("units", "code"),
    "/api/v1/items": ("items", None),
    "/api/v1/stock": ("rows", "unit"),
    "/api/v1/reports/expiry?days=3650": ("rows", "unit"),
    "/api/v1/actions": ("actions", "unit"),
    "/api/v1/actions?overdue=1": ("actions", "unit"),
    "/api/v1/reports/rectification": ("rows", "unit"),
    "/api/v1/maintenance": ("rows", "unit"),
    "/api/v1/maintenance/due": ("rows", "unit"),
    "/api/v1/rounds": ("rows", "unit"),
    "/api/v1/preseason": ("rows", "unit"),
    "/api/v1/towns": ("towns", "code"),
    "/api/v1/shelters": ("shelters", "town"),
    "/api/v1/decisions": ("rows", "unit"),
    "/api/v1/purchase-requests": ("rows", "unit"),
    "/api/v1/subsidies": ("rows", "unit"),
    "/api/v1/funds/{city}": ("entries", None),
    "/api/v1/printer-profiles": ("profiles", None),
}
# Lists only a clerk or keeper reads (the printers they print with).
CLERK_LISTS = {"/api/v1/printer-profiles"}


@pytest.fixture(scope="module")
def city(tmp_path_factory, database_template):
    """The small benchmark city, with users: command staff of the whole city, command staff
    of one brigade (a subtree), and a station clerk."""
    from tests.conftest import BACKEND

    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('paging') / 'city.db'}"
    else:
        from sqlalchemy import make_url

        from tests.test_query_counts import _create_database

        base = make_url(database_template)
        url = base.set(database=base.database + "_paging").render_as_string(hide_password=False)
        _create_database(url)
    _city(url, SMALL, SMALL_MORE)
    app = create_app(_base_config(url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        tokens, scope = _people_and_more(db.session)
        city_code = db.session.execute(text("SELECT code FROM units WHERE id = 1")).scalar()
        db.session.remove()
    yield {"app": app, "tokens": tokens, "scope": scope, "city": city_code}
    with app.app_context():
        db.engine.dispose()
    if BACKEND != "sqlite":
        from tests.test_query_counts import _drop_database

        _drop_database(url)


def _people_and_more(session):
    from funding import fund
    from inventory import preseason
    from labels.services import save_profile
    from readiness.models import Unit

    top = session.get(Unit, 1)
    brigade = session.scalar(select(Unit).where(Unit.parent_id == top.id).order_by(Unit.id))
    station = session.scalar(
        select(Unit).where(Unit.kind == "station", Unit.parent_id == brigade.id).order_by(Unit.id)
    )
    users = {
        "command": services.create_user(
            session, username="pcmd", password=PASSWORD, role="command", unit=top, actor=SYSTEM
        ),
        "brigade": services.create_user(
            session, username="pbri", password=PASSWORD, role="command", unit=brigade, actor=SYSTEM
        ),
        "clerk": services.create_user(
            session, username="pclk", password=PASSWORD, role="clerk", unit=station, actor=SYSTEM
        ),
    }
    session.commit()
    today = date.today()
    # a season that has opened, so every unit holding stock has a pre-season check
    preseason.set_season(session, top, today + timedelta(days=10), 30, actor=users["command"])
    for n in range(5):
        fund.appropriate(
            session,
            top,
            amount=f"{100 + n}.00",
            reference=f"拨款{n}",
            booked_on=today - timedelta(days=n % 2),
            actor=users["command"],
        )
    _more_records(session, top, station, today)
    for n in range(5):
        # printers of the city's office (above the clerk) and of the clerk's station, some of
        # one name: the id settles their order
        unit = top if n % 2 else station
        save_profile(session, unit, {"name": f"标签机{n % 3}", "layout": "a4-3x8"}, actor=SYSTEM)
    session.commit()
    tokens = {role: services.issue_token(session, u, actor=SYSTEM) for role, u in users.items()}
    session.commit()
    from readiness.permissions import unit_ids_below

    below = unit_ids_below(session, brigade.id)
    codes = set(session.scalars(select(Unit.code).where(Unit.id.in_(below))))
    return tokens, codes


def _more_records(session, top, station, today: date) -> None:
    """Several of what the city has one of or none: decisions (two on one day), purchase
    requests, pieces due for service, subsidies proposed by inspections."""
    from funding import decisions as money
    from funding import purchases, subsidies
    from inventory.models import Asset, Item
    from readiness.models import User
    from shelters.models import Inspection

    head = session.scalar(select(User).where(User.unit_id == top.id).order_by(User.id))
    for n in range(5):
        money.record_decision(
            session,
            top,
            met_on=today - timedelta(days=n // 2),
            attendees=[head.username],
            subject=f"购置{n}",
            decision="同意",
            amount="1000",
            policy=money.Policy.of(50000, "2/3"),
            actor=SYSTEM,
        )
    item = session.scalar(select(Item.code).order_by(Item.id))
    for n in range(4):
        purchases.create_request(
            session,
            top,
            title=f"购置{n}",
            lines=[purchases.LineInput(station.code, item, 1, "10")],
            actor=SYSTEM,
        )
    # a day's service interval: every piece of these items is due
    held = select(Asset.item_id).limit(20).scalar_subquery()
    session.execute(
        Item.__table__.update().where(Item.id.in_(held)).values(service_interval_days=1)
    )
    for inspection in session.scalars(select(Inspection).order_by(Inspection.id).limit(6)):
        inspection.subsidy = 1000
        subsidies.follow_inspection(session, inspection, actor=SYSTEM)
    session.commit()


def _get(city, token: str, path: str):
    client = city["app"].test_client()
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, (path, response.status_code, response.get_data()[:300])
    return response.get_json()


def _with(path: str, **params) -> str:
    sep = "&" if "?" in path else "?"
    return path + sep + "&".join(f"{k}={v}" for k, v in params.items())


def _walk(city, token: str, path: str, key: str, limit: int) -> tuple[list, int]:
    """Every row of a list, page by page; and how many pages it took."""
    rows: list = []
    answer = _get(city, token, _with(path, limit=limit))
    pages = 1
    while True:
        assert len(answer[key]) <= limit, path
        rows += answer[key]
        if answer["next_cursor"] is None:
            return rows, pages
        answer = _get(city, token, _with(path, limit=limit, cursor=answer["next_cursor"]))
        pages += 1


def _everything(city, token: str, path: str, key: str) -> list:
    """The whole list in pages of the largest size (a list longer than 1,000 rows has more
    than one)."""
    rows, _pages = _walk(city, token, path, key, 1000)
    return rows


def _same(rows: list) -> list[str]:
    return [json.dumps(r, sort_keys=True) for r in rows]


@pytest.mark.parametrize("path", sorted(LISTS))
def test_walking_the_pages_gives_every_row_once_in_order(city, path):
    """A few rows a page (at least three pages), the union is the whole list: the same rows,
    in the same order, none twice, the last page without a cursor."""
    key, _unit = LISTS[path]
    path = path.format(city=city["city"])
    token = city["tokens"]["clerk" if path in CLERK_LISTS else "command"]
    whole = _everything(city, token, path, key)
    assert len(whole) >= 3, f"{path}: too few rows to page ({len(whole)})"
    limit = max(1, min(2, len(whole) // 3), len(whole) // 8)
    walked, pages = _walk(city, token, path, key, limit)
    assert _same(walked) == _same(whole), path
    assert len(set(_same(walked))) == len(walked), f"{path}: a row twice"
    assert pages == -(-len(whole) // limit), f"{path}: {pages} pages of {limit}"
    # the default page is 100 rows
    first = _get(city, token, path)
    assert _same(first[key]) == _same(whole[:100])
    assert (first["next_cursor"] is None) == (len(whole) <= 100)


@pytest.mark.parametrize(
    "path", sorted(p for p, (_key, unit) in LISTS.items() if unit and p not in CLERK_LISTS)
)
def test_pages_never_show_a_row_out_of_reach(city, path):
    """Command staff of one brigade walk the list in small pages: every row is of a unit of
    their brigade, and the walk gives what one large page gives them."""
    key, unit_key = LISTS[path]
    token = city["tokens"]["brigade"]
    whole = _everything(city, token, path, key)
    walked, _pages = _walk(city, token, path, key, 2)
    assert _same(walked) == _same(whole)
    outside = {r[unit_key] for r in walked} - city["scope"]
    assert not outside, f"{path}: rows of {sorted(outside)[:5]}"


@pytest.mark.parametrize("path", sorted(LISTS))
def test_a_cursor_of_another_list_or_altered_is_refused(city, path):
    path = path.format(city=city["city"])
    token = city["tokens"]["clerk" if path in CLERK_LISTS else "command"]
    other = "/api/v1/items" if path != "/api/v1/items" else "/api/v1/units"
    foreign = _get(city, token, _with(other, limit=1))
    client = city["app"].test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for cursor in (foreign["next_cursor"], "bm90LWpzb24", "%%"):
        response = client.get(_with(path, limit=1, cursor=cursor), headers=headers)
        assert response.status_code == 422, (path, cursor)
        assert response.get_json()["error"]["field"] == "cursor"
    for limit in ("0", "1001", "x"):
        response = client.get(_with(path, limit=limit), headers=headers)
        assert response.status_code == 422, (path, limit)
        assert response.get_json()["error"]["field"] == "limit"


def test_the_openapi_document_names_limit_cursor_and_next_cursor_for_every_list(city):
    doc = _get(city, city["tokens"]["command"], "/api/v1/openapi.json")
    schemas = doc["components"]["schemas"]
    for path in LISTS:
        bare = urlsplit(path.replace("{city}", "{code}")).path.removeprefix("/api/v1")
        op = doc["paths"][bare]["get"]
        params = {p["name"]: p for p in op.get("parameters", [])}
        assert {"limit", "cursor"} <= set(params), bare
        assert params["limit"]["schema"]["maximum"] == 1000
        assert params["limit"]["schema"]["default"] == 100
        assert params["cursor"].get("description"), bare
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        answer = schemas[ref.rsplit("/", 1)[1]]
        assert "next_cursor" in answer["properties"], bare
        assert "cursor" in answer["properties"]["next_cursor"]["description"]


def test_the_aggregate_reports_are_not_paged(city):
    doc = _get(city, city["tokens"]["command"], "/api/v1/openapi.json")
    for bare in ("/reports/shortfall", "/reports/drill-compliance", "/reports/shelter-coverage"):
        params = {p["name"] for p in doc["paths"][bare]["get"].get("parameters", [])}
        assert "limit" not in params, bare


# ---------------------------------------------------------------- the pages


def _login(city, username: str):
    from tests.conftest import csrf_token

    client = city["app"].test_client()
    token = csrf_token(client)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


NEXT = re.compile(r'<a rel="next" href="([^"]+)">')


def _walk_pages(client, path: str, row: re.Pattern) -> tuple[list[str], list[str]]:
    """The rows of every page, following "下一页"; and each page's URL."""
    rows: list[str] = []
    urls = [path]
    while True:
        response = client.get(urls[-1])
        assert response.status_code == 200, urls[-1]
        html = response.get_data(as_text=True)
        found = row.findall(html)
        assert len(found) <= 100
        rows += found
        link = NEXT.search(html)
        if link is None:
            return rows, urls
        assert "第一页" in html or len(urls) == 1
        urls.append(unescape(link.group(1)))


def test_the_ledger_page_walks_every_line_by_its_next_links(city):
    from inventory.models import Movement

    client = _login(city, "pcmd")
    with city["app"].app_context():
        ids = list(db.session.scalars(select(Movement.id).order_by(Movement.id.desc())))
    # each line's running balance cell is unique enough only with the id: read the rows by
    # their time and unit cells and count; the ids come from the CSV of the same filter
    rows, urls = _walk_pages(client, "/ledger", re.compile(r"<tr><td class=\"nowrap\">"))
    assert len(rows) == len(ids) and len(urls) == -(-len(ids) // 100)
    assert all("page=" not in u and "after=" in u for u in urls[1:])
    # the lines of page 2 are the 101st to 200th newest, as the CSV of the whole ledger lists
    csv = client.get("/ledger?format=csv").get_data(as_text=True).splitlines()
    assert len(csv) == len(ids) + 1  # the download stays whole
    page2 = client.get(urls[1]).get_data(as_text=True)
    assert "第一页" in page2


def test_the_ledger_next_link_keeps_the_filters_and_refuses_a_bad_after(city):
    client = _login(city, "pcmd")
    start = (date.today() - timedelta(days=400)).isoformat()
    html = client.get(f"/ledger?date_from={start}").get_data(as_text=True)
    link = NEXT.search(html)
    assert link is not None
    query = parse_qs(urlsplit(unescape(link.group(1))).query)
    assert query["date_from"] == [start] and "after" in query
    assert client.get("/ledger?after=nonsense").status_code == 422


def test_the_expiry_page_walks_every_lot_by_its_next_links(city):
    client = _login(city, "pcmd")
    whole = _everything(city, city["tokens"]["command"], "/api/v1/reports/expiry?days=3650", "rows")
    assert len(whole) > 100, "too few lots to page"
    rows, urls = _walk_pages(
        client, "/reports/expiry?days=3650", re.compile(r"<tr><td>[^<]*</td><td>[^<]*</td>")
    )
    assert len(rows) == len(whole)
    assert len(urls) == -(-len(whole) // 100)
    assert all("days=3650" in u for u in urls)
    csv = client.get("/reports/expiry?days=3650&format=csv").get_data(as_text=True)
    assert len(csv.strip().splitlines()) == len(whole) + 1  # the download stays whole


def _statements(city, path: str) -> list[str]:
    from sqlalchemy import event

    with city["app"].app_context():
        engine = db.engine
    seen: list[str] = []

    def one(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", one)
    try:
        _get(city, city["tokens"]["command"], path)
    finally:
        event.remove(engine, "before_cursor_execute", one)
    return seen


def test_the_actions_list_joins_no_finding_or_drill_and_its_queries_do_not_grow(city):
    """The answer names no finding or drill: none is read (issue 21). A page of 100 costs the
    queries a page of one costs."""
    one = _statements(city, "/api/v1/actions?limit=1")
    hundred = _statements(city, "/api/v1/actions?limit=100")
    assert not [s for s in hundred if re.search(r"\b(findings|drills)\b", s)]
    assert len(hundred) == len(one)

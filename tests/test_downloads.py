"""Every download works, for every demo role, and shows nothing from outside the role's reach.

One demo database is loaded per module (SQLite or PostgreSQL, as the rest of the suite).
For each demo account the test

- signs in and crawls the pages from ``/``: every same-site ``href`` of every page it
  reaches (GET only; writes are POST forms), one visit per path and query, a few per route;
- downloads every ``?format=`` variant linked from a page, and ``csv``, ``xlsx`` and ``pdf``
  of every report page (``REPORT_PAGES``), whether linked or not;
- downloads every report endpoint of the OpenAPI document (those declaring a ``format``
  parameter) as csv, xlsx, pdf and zip with a bearer token of the account, for its default
  scope, its own unit, and units outside its reach;
- prints a label sheet of its own unit in every layout, where the role may (the print form
  is the one POST: it gives positions their label codes, whose scan pages the crawl visits);

and checks each answer: no 5xx; the content type of the format; CSV (UTF-8 with BOM) read by
the csv module with a header row; XLSX read by openpyxl; PDF read by pypdfium2 with Chinese
text and every font embedded; ZIP read by zipfile with its PDFs checked the same; no unit,
shelter site or village outside the account's reach named in a download. Every problem is
collected and listed at the end (route, role, format, problem) rather than stopping at one.

Responses are read buffered, as a server reads a streamed download to its end and closes it:
an unclosed streamed response would keep its database transaction open.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
import traceback
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from labels.models import LabelCode
from readiness import demo, services
from readiness.db import db
from readiness.models import Unit, User
from readiness.permissions import ALL_ROLES, PERMISSIONS, SYSTEM
from shelters.models import Shelter, Village
from tests.conftest import IsolatedClient, csrf_token
from tests.conftest import demo_app as load_demo_app
from tests.pdfcheck import assert_fonts_embedded, pdf_text

pytestmark = pytest.mark.slow  # every download of the demo data set, for every role

# The leadership accounts (df-chief…, wl-chief…) are command staff of the bureaus whose
# "command" and "wenling" accounts are crawled: the same role and reach, nothing new to find.
ROLES = [
    username
    for username, *_ in demo.DEMO_USERS
    if not username.startswith(("df-", "wl-chief", "wl-deputy"))
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": XLSX,
    "pdf": "application/pdf",
    "zip": "application/zip",
    "html": "text/html",
    "json": "application/json",
    "zpl": "application/octet-stream",
    "tspl": "application/octet-stream",
}
DOWNLOADS = ("csv", "xlsx", "pdf", "zip")

# Pages whose view reads ``?format=`` (grep "format" in */views.py and */*_views.py), with
# the formats each one serves. Every one is also asked for csv, xlsx and pdf: a format it does
# not serve must answer the page itself or a 4xx, never a 5xx or a file of another type.
# test_every_page_reading_format_is_listed keeps this list complete.
REPORT_PAGES: dict[str, tuple[str, ...]] = {
    "inventory.ledger": ("csv", "xlsx", "pdf"),
    "inventory.shortfall_report": ("csv", "xlsx", "pdf"),
    "inventory.expiry_report": ("csv", "xlsx", "pdf"),
    "drills.index": ("csv", "xlsx"),
    "drills.actions": ("csv", "xlsx"),
    "drills.compliance": ("csv", "xlsx", "pdf"),
    "drills_package.package": ("pdf", "zip"),
    "handover.custodian_report": ("csv", "xlsx", "pdf"),
    "shelters.coverage": ("csv", "xlsx", "pdf"),
    "subsidies.index": ("csv", "xlsx"),
    "rectification_reports.rectification_list": ("csv", "xlsx", "pdf"),
    "funding.funds": ("csv", "xlsx", "pdf"),
    "admin.users": ("csv", "xlsx"),
    "admin.units": ("csv", "xlsx"),
    "allocations.index": ("csv", "xlsx"),
    "inventory.items": ("csv", "xlsx"),
    "inventory.counts": ("csv", "xlsx"),
    "shelters.sites": ("csv", "xlsx"),
    "shelters.villages": ("csv", "xlsx"),
}
# Files served as they were uploaded (drill sign-in sheets, photos): not made by the app,
# so only the status is checked.
USER_FILES = {
    "drill_attachments.download",
    "drill_attachments_api.download",
    "shelters.document_download",
    "shelters_api.acceptance_document",
    "funding.decision_minutes",
}
# Pages no link leads to, with the reason (test_the_crawl_reaches_every_download_and_every_page).
NOT_LINKED = {
    "auth.login",  # a signed-in user sees no link to it; the test signs in through it
    # the scan page's script and the browser fetch these, no link leads to them
    # (tests/labels/test_phone.py and tests/browser/test_phone_journeys.py reach each)
    "labels.scan_lookup",
    "labels.scan_offline",
    "labels.scan_count_progress",
    "labels.service_worker",
    "labels.manifest",
    # no demo record carries a photo (tests/inventory/test_maintenance.py opens one)
    "maintenance.photo",
    # the header's search form leads there, not a link (tests/overview/test_search.py)
    "search.results",
}
# Distinct URLs visited per route (different ids or filters): enough to meet every kind of
# page without walking every record of the demo.
PER_ROUTE = 6
PER_ROLE = 600


def reach(session, user) -> set[int] | None:
    """The units whose data this user may see in a download; None: all of them.

    Today that is what the permission check allows: clerks and keepers their unit's subtree,
    command staff and inspectors everything. Issue 16 narrows command and inspector to their
    own bureau: change this line to ``services.unit_ids_below(session, user.unit_id)`` for them.
    """
    return services.visible_unit_ids(session, user)


# ---------------------------------------------------------------- the demo database

# What a user might type into records that many downloads show: each must come back as text
# (CSV: after a ', XLSX: a string cell), never as a formula (test_typed_formulas_...).
FORMULA_ITEM = "=1+1救生哨"
FORMULA_DRILL = '=HYPERLINK("http://example.invalid","防汛演练")'
FORMULA_VILLAGE = "@SUM(1)石塘村"
# (value, seen in a CSV, seen in an XLSX) — filled in by the checks of every download
SEEN_AS_TEXT: dict[str, set[str]] = {}


def _type_formulas(session) -> None:
    """Give one item, one drill and one village of the demo a formula-like name (the
    village one no site serves, so the coverage files list it)."""
    from drills.models import Drill
    from inventory.models import Item
    from shelters.models import shelter_villages

    item = session.scalar(select(Item).where(Item.name.like("%哨%")).order_by(Item.id))
    item.name = FORMULA_ITEM
    drill = session.scalar(select(Drill).order_by(Drill.id))
    drill.title = FORMULA_DRILL
    served = select(shelter_villages.c.village_id)
    village = session.scalar(select(Village).where(Village.id.not_in(served)).order_by(Village.id))
    village.name = FORMULA_VILLAGE
    session.commit()


def _issue_bulletins(session) -> None:
    """Each bureau's command staff issue this month's bulletin (每月通报), so the crawl meets
    its PDF; the demo issues none."""
    from overview.ranking import issue_bulletin, period_of

    for username in ("command", "wenling"):
        user = session.scalar(select(User).where(User.username == username))
        issue_bulletin(
            session, user.unit, period_of("month", date.today()), actor=user, today=date.today()
        )
    session.commit()


@pytest.fixture(scope="module")
def demo_app(database_template, tmp_path_factory):
    """The app on one database holding the demo data, shared by every test of this module."""
    with load_demo_app(database_template, tmp_path_factory.mktemp("downloads")) as app:
        app.test_client_class = IsolatedClient
        with app.app_context():
            _type_formulas(db.session)
            _issue_bulletins(db.session)
            yield app
            db.session.remove()
            db.engine.dispose()


# ---------------------------------------------------------------- what is outside a reach


@dataclass
class Forbidden:
    needle: str  # a name, or a code (matched as a whole word)
    what: str  # "unit 白坪派出所 (DF-BAIPING)"
    unit_id: int | None  # the unit it belongs to (a village or site: its town)
    is_code: bool = False
    is_unit: bool = True  # False for a town's villages and sites, never a counterpart


@dataclass
class Reach:
    """What a role's downloads may not name, and the narrow exceptions by route."""

    forbidden: list[Forbidden]
    allowed_names: list[str]  # names inside the reach (to tell 石塘镇 from 石塘镇某村)
    counterparts: dict[str, set[int]]  # route endpoint -> units a record in reach names there

    def leaks(self, content: str, endpoint: str | None = None) -> list[str]:
        """What of the forbidden this text names."""
        squeezed = re.sub(r"\s+", "", content)  # a PDF table may wrap a name over two lines
        excepted = self.counterparts.get(endpoint or "", set())
        found = set()
        for entry in self.forbidden:
            if entry.is_unit and entry.unit_id in excepted:
                continue
            if entry.is_code:
                pattern = rf"(?<![A-Za-z0-9_-]){re.escape(entry.needle)}(?![A-Za-z0-9_-])"
                if re.search(pattern, content):
                    found.add(entry.what)
                continue
            # An allowed name holding this one (石塘镇渔港村 holds 石塘镇) is not a leak.
            masked = squeezed
            for name in self.allowed_names:
                if entry.needle in name and entry.needle != name:
                    masked = masked.replace(name, "\0")
            if entry.needle in masked:
                found.add(entry.what)
        return sorted(found)


def reach_of(session, user) -> Reach:
    visible = reach(session, user)
    if visible is None:
        return Reach([], [], {})
    forbidden: list[Forbidden] = []
    allowed: set[str] = set()
    for unit in session.scalars(select(Unit)):
        if unit.id in visible:
            allowed.add(unit.name)
            continue
        what = f"unit {unit.name} ({unit.code})"
        forbidden.append(Forbidden(unit.name, what, unit.id))
        forbidden.append(Forbidden(unit.code, what, unit.id, is_code=True))
    for village in session.scalars(select(Village)):
        if village.town_id in visible:
            allowed.add(village.name)
        else:
            forbidden.append(
                Forbidden(village.name, f"village {village.name}", village.town_id, is_unit=False)
            )
    for site in session.scalars(select(Shelter)):
        if site.town_id in visible or site.unit_id in visible:
            allowed.add(site.name)
        else:
            forbidden.append(
                Forbidden(site.name, f"shelter site {site.name}", site.town_id, is_unit=False)
            )
    # a name inside the reach is never a leak (a village may share its name with another's)
    forbidden = [f for f in forbidden if f.is_code or f.needle not in allowed]
    return Reach(forbidden, sorted(allowed, key=len, reverse=True), counterparts(session, visible))


def counterparts(session, visible: set[int]) -> dict[str, set[int]]:
    """Units outside the reach that records inside it name, and the routes that show them.

    Keep this narrow: each entry is a record the role may see that names another unit as
    part of what it is.
    """
    from drills.models import Drill, drill_units
    from inventory.models import Allocation

    # An allocation to or from the role's unit names the other party: the slip prints both
    # units, and the ledger's transfer lines say where stock went or came from.
    allocation_parties: set[int] = set()
    for a in session.scalars(select(Allocation)):
        if a.from_unit_id in visible or a.to_unit_id in visible:
            allocation_parties |= {a.from_unit_id, a.to_unit_id}
    # A drill the role's unit led or took part in names its lead unit and every unit that
    # took part (the drill list's 组织单位 and 参演单位 columns, and the inspection package
    # of the drills the unit took part in).
    drill_parties: set[int] = set()
    for drill in session.scalars(select(Drill)):
        units = {drill.lead_unit_id} | set(
            session.scalars(select(drill_units.c.unit_id).where(drill_units.c.drill_id == drill.id))
        )
        if units & visible:
            drill_parties |= units
    return {
        "allocations.slip": allocation_parties - visible,
        "allocations.index": allocation_parties - visible,
        "inventory.ledger": allocation_parties - visible,
        "drills.index": drill_parties - visible,
        "drills_package.package": drill_parties - visible,
        "drills_package_api.drill_package": drill_parties - visible,
    }


# ---------------------------------------------------------------- checking one answer


@dataclass
class Problem:
    role: str
    route: str
    fmt: str
    problem: str

    def __str__(self) -> str:
        return f"{self.route}  [{self.role}, {self.fmt}]  {self.problem}"


@dataclass
class Crawl:
    role: str
    requests: int = 0
    problems: list[Problem] = field(default_factory=list)
    downloads: Counter = field(default_factory=Counter)  # (endpoint, fmt) -> count
    endpoints: set[str] = field(default_factory=set)
    refused: Counter = field(default_factory=Counter)  # (status, endpoint) of 4xx answers
    dead_links: list[str] = field(default_factory=list)  # links a page showed that gave a 4xx
    seconds: float = 0.0


def _mimetype(response) -> str:
    return (response.content_type or "").split(";")[0].strip().lower()


def _csv_text(body: bytes) -> tuple[str, list[str]]:
    problems = []
    if not body.startswith(b"\xef\xbb\xbf"):
        problems.append("CSV does not start with the UTF-8 BOM")
    try:
        content = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return "", [*problems, f"CSV is not UTF-8: {err}"]
    rows = list(csv.reader(io.StringIO(content, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        problems.append("CSV has no header row")
    for row in rows:
        for cell in row:
            if _live_formula(cell):
                problems.append(f"CSV cell would run as a formula: {cell[:40]!r}")
                break
            for value in _FORMULAS:
                # a cell may list several names ("村、村"): only its start could run
                if cell.startswith("'" + value):
                    SEEN_AS_TEXT.setdefault(value, set()).add("csv")
    return content, problems


_FORMULAS = (FORMULA_ITEM, FORMULA_DRILL, FORMULA_VILLAGE)


def _live_formula(cell: str) -> bool:
    """Text a spreadsheet would evaluate (OWASP CSV injection); numbers like -3 are fine."""
    if not cell or cell[0] not in "=+-@\t\r":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _xlsx_text(body: bytes) -> tuple[str, list[str]]:
    from openpyxl import load_workbook

    problems = []
    values = []
    wb = load_workbook(io.BytesIO(body))
    if not wb.worksheets:
        return "", ["XLSX has no sheet"]
    for ws in wb.worksheets:
        rows = list(ws.iter_rows())
        if ws is wb.worksheets[0] and (not rows or not any(c.value for c in rows[0])):
            problems.append("XLSX has no header row")
        for row in rows:
            for cell in row:
                if cell.data_type == "f":
                    problems.append(f"XLSX cell {cell.coordinate} is a formula: {cell.value!r}")
                elif cell.data_type == "s":
                    for value in _FORMULAS:
                        if cell.value.startswith(value):
                            SEEN_AS_TEXT.setdefault(value, set()).add("xlsx")
                if cell.value is not None:
                    values.append(str(cell.value))
    return "\n".join(values), problems


def _pdf_text(body: bytes, what: str = "PDF") -> tuple[str, list[str]]:
    problems = []
    content = pdf_text(body)
    if not re.search(r"[\u4e00-\u9fff]", content):
        problems.append(f"{what}: no Chinese text in the text layer")
    try:
        assert_fonts_embedded(body, what)
    except AssertionError as err:
        problems.append(str(err))
    return content, problems


def _zip_text(body: bytes) -> tuple[str, list[str]]:
    problems = []
    parts = []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        bad = archive.testzip()
        if bad:
            problems.append(f"ZIP member {bad} is corrupt")
        names = archive.namelist()
        parts.extend(names)
        pdfs = [n for n in names if n.lower().endswith(".pdf")]
        if not pdfs:
            problems.append(f"ZIP holds no PDF: {names}")
        for name in names:
            data = archive.read(name)
            if name.lower().endswith(".pdf"):
                content, found = _pdf_text(data, f"ZIP member {name}")
                parts.append(content)
                problems.extend(found)
            elif name.lower().endswith((".csv", ".txt", ".json")):
                parts.append(data.decode("utf-8-sig", errors="replace"))
    return "\n".join(parts), problems


def _zpl_text(body: bytes) -> tuple[str, list[str]]:
    text = body.decode("utf-8")
    labels = text.count("^XA")
    ok = labels and labels == text.count("^XZ") and text.count("^BQ") == labels
    return text, [] if ok else ["not one ^XA … ^BQ … ^XZ per label"]


def _tspl_text(body: bytes) -> tuple[str, list[str]]:
    text = body.decode("latin-1")  # commands in ASCII, bitmaps in binary
    labels = text.count("\nPRINT ")
    ok = text.startswith("SIZE ") and labels and text.count("QRCODE ") == labels
    return text, [] if ok else ["not one SIZE … QRCODE … PRINT per label"]


READERS = {
    "csv": _csv_text,
    "xlsx": _xlsx_text,
    "pdf": _pdf_text,
    "zip": _zip_text,
    "zpl": _zpl_text,
    "tspl": _tspl_text,
}


def check_file(response, fmt: str) -> tuple[str, list[str]]:
    """Problems of a download that should be ``fmt``, and its text (for the reach check)."""
    mimetype = _mimetype(response)
    if mimetype != MIMETYPES[fmt]:
        return "", [f"content type {response.content_type!r}, expected {MIMETYPES[fmt]}"]
    body = response.get_data()
    if not body:
        return "", ["empty body"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return READERS[fmt](body)
    except Exception as err:  # whatever a reader raises is the finding
        return "", [f"{fmt.upper()} does not open: {type(err).__name__}: {err}"]


def _expected_format(endpoint: str | None, path: str, query: dict[str, str]) -> str | None:
    if endpoint in USER_FILES:
        return None
    if query.get("format") in DOWNLOADS:
        return query["format"]
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix in DOWNLOADS:
        return suffix
    if path.startswith("/api/"):
        return "json"
    return "html"


# ---------------------------------------------------------------- crawling


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "area"):
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


def _same_site(base: str, href: str) -> tuple[str, dict[str, str]] | None:
    """The path and query of a link to this app worth following, or None."""
    if href.startswith(("mailto:", "tel:", "javascript:", "#", "data:")):
        return None
    parts = urlsplit(urljoin(base, href))
    if parts.scheme not in ("http", "https", "") or parts.netloc not in ("", "localhost"):
        return None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    # ?lang= stores the signed-in user's language (a write); /static holds no pages.
    if "lang" in query or parts.path.startswith("/static/") or parts.path == "/logout":
        return None
    return parts.path or "/", query


def _url(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(sorted(query.items()))}" if query else path


class Crawler:
    def __init__(self, app, role: str):
        self.app = app
        self.role = role
        self.result = Crawl(role)
        self.adapter = app.url_map.bind("localhost")
        user = db.session.scalar(select(User).where(User.username == role))
        self.reach = reach_of(db.session, user)
        self.unit_code = user.unit.code if user.unit else None
        self.outside = units_outside(db.session, user)
        self.token = services.issue_token(db.session, user, actor=SYSTEM)
        db.session.commit()
        self.client = app.test_client()
        self.errors = Errors()
        app.logger.addHandler(self.errors)
        token = csrf_token(self.client)
        response = self.client.post(
            "/login",
            data={"csrf_token": token, "username": role, "password": demo.DEMO_PASSWORD},
        )
        assert response.status_code == 302, f"{role} cannot sign in"

    def endpoint(self, path: str, method: str = "GET") -> str | None:
        try:
            return self.adapter.match(path, method=method)[0]
        except HTTPException:
            return None

    def problem(self, route: str, fmt: str, message: str) -> None:
        self.result.problems.append(Problem(self.role, route, fmt, message))

    def fetch(self, url: str, fmt: str | None, *, headers=None, expect: int | None = None):
        """Fetch one URL and check the answer as a ``fmt`` (None: status only)."""
        self.result.requests += 1
        self.errors.seen.clear()
        try:
            response = self.client.get(url, headers=headers or {}, buffered=True)
        except Exception as err:  # an exception escaping the app is a 500 to a user
            self.problem(url, fmt or "-", f"raised {type(err).__name__}: {err}")
            return None
        status = response.status_code
        if 400 <= status < 500:
            self.result.refused[(status, self.endpoint(urlsplit(url).path))] += 1
        if status >= 500:
            cause = "; ".join(self.errors.seen) or _excerpt(response)
            self.problem(url, fmt or "-", f"answered {status}: {cause}")
            return response
        if expect is not None and status != expect:
            self.problem(url, fmt or "-", f"answered {status}, expected {expect}")
            return response
        if status != 200 or fmt in (None, "html", "json"):
            if status == 200 and fmt and _mimetype(response) != MIMETYPES[fmt]:
                self.problem(url, fmt, f"content type {response.content_type!r}")
            return response
        content, problems = check_file(response, fmt)
        for message in problems:
            self.problem(url, fmt, message)
        for leak in self.reach.leaks(content, self.endpoint(urlsplit(url).path)):
            self.problem(url, fmt, f"names {leak}, outside the reach of {self.role}")
        return response

    def label_sheets(self) -> None:
        """A label sheet of the role's own unit in every layout (the print form is a POST: it
        gives the unit's positions their label codes, which the crawl then scans)."""
        from inventory.models import Position
        from labels.views import LAYOUT_LABELS

        user = db.session.scalar(select(User).where(User.username == self.role))
        if not self.unit_code or user.role not in PERMISSIONS["labels.print"]:
            return
        # a town without stock has nothing to label: the form says so instead of a PDF
        holds_stock = db.session.scalar(
            select(Position.id).where(Position.unit_id == user.unit_id).limit(1)
        )
        db.session.rollback()  # hold no transaction of the test's own while the app writes
        # every layout as PDF; the thermal printers' languages and the data for label programs
        outputs = [(layout, "pdf") for layout in LAYOUT_LABELS] + [
            ("thermal-50x30", "zpl"),
            ("thermal-40x30", "tspl"),
            ("a4-3x8", "csv"),
            ("a4-3x8", "xlsx"),
        ]
        for layout, fmt in outputs:
            url = f"/labels (layout {layout}, {fmt})"
            self.result.requests += 1
            response = self.client.post(
                "/labels",
                buffered=True,
                data={
                    "csrf_token": csrf_token(self.client, "/labels"),
                    "unit": self.unit_code,
                    "what": "positions",
                    "layout": layout,
                    "output": fmt,
                },
            )
            if response.status_code != 200:
                self.problem(url, fmt, f"answered {response.status_code}: {_excerpt(response)}")
                continue
            if not holds_stock and _mimetype(response) == "text/html":
                if "没有可打印的标签" not in response.get_data(as_text=True):
                    self.problem(url, fmt, "a unit without stock: no PDF and no message")
                continue
            content, problems = check_file(response, fmt)
            for message in problems:
                self.problem(url, fmt, message)
            for leak in self.reach.leaks(content, "labels.print_labels"):
                self.problem(url, fmt, f"names {leak}, outside the reach of {self.role}")
            self.result.downloads[("labels.print_labels", fmt)] += 1

    def crawl(self) -> None:
        seen: set[str] = set()
        per_route: Counter = Counter()
        # A label's QR code opens /l/<code> from a phone's camera: no page links to it.
        labels = db.session.scalars(select(LabelCode.code).order_by(LabelCode.id).limit(3))
        queue = [("/", {}, "")] + [(f"/l/{code}", {}, "a label's QR code") for code in labels]
        while queue and len(seen) < PER_ROLE:
            path, query, referrer = queue.pop(0)
            url = _url(path, query)
            endpoint = self.endpoint(path)
            if url in seen:
                continue
            fmt = _expected_format(endpoint, path, query)
            route_key = (endpoint or path, fmt)
            if per_route[route_key] >= PER_ROUTE:
                continue
            seen.add(url)
            per_route[route_key] += 1
            if endpoint:
                self.result.endpoints.add(endpoint)
            response = self.fetch(url, fmt)
            if response is None:
                continue
            if fmt in DOWNLOADS and response.status_code == 200:
                self.result.downloads[(endpoint, fmt)] += 1
            if fmt in DOWNLOADS and response.status_code != 200:
                self.problem(
                    url, fmt, f"a download linked from {referrer} answered {response.status_code}"
                )
            if 400 <= response.status_code < 500:
                self.result.dead_links.append(f"{url} ({response.status_code}) from {referrer}")
            if response.status_code in (301, 302, 303, 307, 308):
                target = _same_site(url, response.headers.get("Location", ""))
                if target:
                    queue.append((*target, referrer))
                continue
            if response.status_code != 200 or fmt != "html":
                continue
            if endpoint in REPORT_PAGES and "format" not in query:
                self.report_formats(endpoint, path, query, seen)
            for href in links_of(response.get_data(as_text=True)):
                target = _same_site(url, href)
                if target:
                    queue.append((*target, url))

    def report_formats(self, endpoint: str, path: str, query: dict, seen: set[str]) -> None:
        """csv, xlsx and pdf of a report page (and zip where the page serves it)."""
        served = REPORT_PAGES[endpoint]
        for fmt in sorted({"csv", "xlsx", "pdf", *served}):
            url = _url(path, {**query, "format": fmt})
            if url in seen:
                continue
            seen.add(url)
            if fmt in served:
                response = self.fetch(url, fmt, expect=200)
                if response is not None and response.status_code == 200:
                    self.result.downloads[(endpoint, fmt)] += 1
                continue
            # Not served: the page itself or a refusal, never a 5xx or a mislabelled file.
            response = self.fetch(url, None)
            if response and response.status_code == 200 and _mimetype(response) != "text/html":
                self.problem(url, fmt, f"unexpected content type {response.content_type!r}")

    def api_reports(self) -> None:
        """Every report endpoint of the OpenAPI document in every file format."""
        doc = self.client.get("/api/v1/openapi.json", buffered=True).get_json()
        prefix = urlsplit(doc.get("servers", [{}])[0].get("url", "/api/v1")).path.rstrip("/")
        headers = {"Authorization": f"Bearer {self.token}"}
        user = db.session.scalar(select(User).where(User.username == self.role))
        for path, operations in sorted(doc["paths"].items()):
            op = operations.get("get")
            params = {p["name"]: p for p in (op or {}).get("parameters", []) if p["in"] == "query"}
            if "format" not in params:
                continue
            record_expect = None
            if path.endswith("/{request_id}"):
                # one purchase request (its formal PDF): the demo's first, whosever it is
                path, record_expect = self.purchase_request(path, user)
            full = prefix + path
            endpoint = self.endpoint(full)
            if endpoint is None or "{" in path:
                self.problem(full, "-", "report endpoint with path parameters: fill them in here")
                continue
            self.result.endpoints.add(endpoint)
            permission = self.app.view_functions[endpoint].permission
            allowed = user.role in PERMISSIONS.get(permission, ALL_ROLES)
            declared = set(params["format"].get("schema", {}).get("enum", [])) & set(DOWNLOADS)
            base = {
                name: _fill(name, p.get("schema", {}))
                for name, p in params.items()
                if p.get("required") and name != "format"
            }
            variants = [(base, 200 if allowed else 403)]
            if record_expect is not None:
                variants = [(base, record_expect if allowed else 403)]
            if "unit" in params and self.unit_code:
                variants.append(({**base, "unit": self.unit_code}, 200 if allowed else 403))
            if "unit" in params and allowed:
                # A unit outside the reach: refused, or answered for the reach only (the
                # shelter coverage narrows to what the caller may see); the leak check decides.
                variants += [({**base, "unit": code}, None) for code in self.outside]
            for fmt in sorted({"csv", "xlsx", "pdf"} | declared):
                for query, expect in variants:
                    url = _url(full, {**query, "format": fmt})
                    if fmt not in declared:
                        # undeclared: refused as a bad request, never a 5xx or a file
                        response = self.fetch(url, None, headers=headers)
                        if response is not None and response.status_code == 200:
                            self.problem(url, fmt, "undeclared format answered 200")
                        continue
                    response = self.fetch(url, fmt, headers=headers, expect=expect)
                    if response is not None and response.status_code == 200:
                        self.result.downloads[(endpoint, fmt)] += 1

    def purchase_request(self, path: str, user) -> tuple[str, int]:
        """The path with the demo's first purchase request, and the answer expected: 200 in
        the user's reach, else 404 (another bureau's request is not found)."""
        from funding.models import PurchaseRequest

        first = db.session.scalars(select(PurchaseRequest).order_by(PurchaseRequest.id)).first()
        if first is None:
            return path, 404
        visible = reach(db.session, user)
        expect = 200 if visible is None or first.unit_id in visible else 404
        return path.replace("{request_id}", str(first.id)), expect


def units_outside(session, user) -> list[str]:
    """A sibling unit and the topmost unit outside the user's reach, to ask reports for."""
    visible = reach(session, user)
    if visible is None:
        return []
    units = session.scalars(select(Unit).order_by(Unit.code)).all()
    siblings = [u for u in units if u.id not in visible and u.parent_id == user.unit.parent_id]
    tops = [u for u in units if u.id not in visible and u.parent_id is None]
    return [u.code for u in (siblings[:1] + tops[:1])]


def _fill(name: str, schema: dict) -> str:
    """A sensible value for a required query parameter."""
    if "example" in schema:
        return str(schema["example"])
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "date":
        return date.today().isoformat()
    if name == "year":
        return str(date.today().year)
    if schema.get("type") in ("integer", "number"):
        return "30"
    raise AssertionError(f"no value for the required parameter {name!r}: add one to _fill")


class Errors(logging.Handler):
    """The exceptions the app logs while a request runs (its 500 page hides them)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            frame = traceback.extract_tb(err.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
            self.seen.append(f"{type(err).__name__}: {err} (at {where})")


def _excerpt(response) -> str:
    body = response.get_data().decode("utf-8", errors="replace")
    match = re.search(r"<h1>(.*?)</h1>|<title>(.*?)</title>", body, re.S)
    return (match.group(1) or match.group(2)).strip()[:200] if match else body[:200]


_CRAWLS: dict[tuple[int, str], Crawl] = {}


def crawl(app, role: str) -> Crawl:
    """The crawl of one role, made once per module."""
    key = (id(app), role)
    if key not in _CRAWLS:
        started = time.perf_counter()
        crawler = Crawler(app, role)
        try:
            crawler.label_sheets()
            crawler.crawl()
            crawler.api_reports()
        finally:
            app.logger.removeHandler(crawler.errors)
            db.session.rollback()
        crawler.result.seconds = time.perf_counter() - started
        _CRAWLS[key] = crawler.result
    return _CRAWLS[key]


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("role", ROLES)
def test_every_download_of_a_role_opens_and_stays_in_its_reach(demo_app, role):
    """Each page and file the role can reach answers, opens as its format and shows only
    what the role may see."""
    result = crawl(demo_app, role)
    print(
        f"\n{role}: {result.requests} requests, {sum(result.downloads.values())} downloads, "
        f"{result.seconds:.1f} s; refused: {dict(result.refused)}"
    )
    for link in result.dead_links:
        print("  link refused:", link)
    if result.problems:
        listing = "\n".join(str(p) for p in result.problems)
        pytest.fail(f"{len(result.problems)} problems for {role}:\n{listing}", pytrace=False)


def test_the_crawl_reaches_every_download_and_every_page(demo_app):
    """Nothing escapes the crawl: every report page and every file route was downloaded in each
    of its formats, every report endpoint of the API in each declared format, and every page
    was visited, by at least one role. A report or page nobody links to fails here."""
    done: Counter = Counter()
    visited: set[str] = set()
    for role in ROLES:
        result = crawl(demo_app, role)
        done.update(result.downloads)
        visited |= result.endpoints
    wanted = {(endpoint, fmt) for endpoint, formats in REPORT_PAGES.items() for fmt in formats}
    doc = demo_app.test_client().get("/api/v1/openapi.json", buffered=True).get_json()
    adapter = demo_app.url_map.bind("localhost")
    for path, operations in doc["paths"].items():
        for param in operations.get("get", {}).get("parameters", []):
            if param["name"] == "format":
                # a record's download (a purchase request's PDF): any id names the route
                endpoint = adapter.match("/api/v1" + re.sub(r"\{\w+\}", "1", path))[0]
                formats = set(param.get("schema", {}).get("enum", [])) & set(DOWNLOADS)
                wanted |= {(endpoint, fmt) for fmt in formats}
    for rule in demo_app.url_map.iter_rules():
        suffix = rule.rule.rsplit(".", 1)[-1]
        if "GET" in rule.methods and suffix in DOWNLOADS:
            wanted.add((rule.endpoint, suffix))
    wanted.add(("labels.print_labels", "pdf"))
    missing = sorted(
        f"{endpoint} as {fmt}" for endpoint, fmt in wanted if not done[(endpoint, fmt)]
    )
    assert not missing, f"never downloaded: {missing}"
    pages = {
        rule.endpoint
        for rule in demo_app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static/"))
    }
    unvisited = sorted(pages - visited - NOT_LINKED)
    assert not unvisited, f"pages no role reached by following links: {unvisited}"


def test_typed_formulas_come_back_as_text_in_the_downloads(demo_app):
    """A formula typed as an item, drill or village name was met by the crawl as text,
    in a CSV (after a ') and in an XLSX (a string cell); the checks of every download above
    fail on any cell that would still run as a formula."""
    for role in ROLES:
        crawl(demo_app, role)
    seen = {value: sorted(SEEN_AS_TEXT.get(value, ())) for value in sorted(_FORMULAS)}
    assert seen == {value: ["csv", "xlsx"] for value in sorted(_FORMULAS)}


def test_every_page_reading_format_is_listed(demo_app):
    """A page whose view reads ``?format=`` is in REPORT_PAGES, so its files are checked."""
    import inspect

    unlisted = []
    for rule in demo_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        try:
            source = inspect.getsource(demo_app.view_functions[rule.endpoint])
        except (OSError, TypeError):
            continue
        source = re.sub(r"isoformat|\.format\(|format_\w+", "", source)
        if re.search(r"\bformat\b|_fmt\(", source) and rule.endpoint not in REPORT_PAGES:
            unlisted.append(rule.endpoint)
    assert not unlisted, f"views reading ?format= missing from REPORT_PAGES: {unlisted}"


def test_the_reach_check_finds_what_it_should(demo_app):
    """The leak check sees a unit outside the reach by name or code, even wrapped over two
    lines, and is not fooled by a longer name inside the reach or a code inside another."""
    clerk = reach_of(db.session, _user("clerk"))
    assert clerk.leaks("白坪派出所 1 卷") == ["unit 白坪派出所 (DF-BAIPING)"]
    assert clerk.leaks("白坪派\n出所") == ["unit 白坪派出所 (DF-BAIPING)"]
    assert clerk.leaks("DF-LUDIAN,3") == ["unit 卢店派出所 (DF-LUDIAN)"]
    assert clerk.leaks("大冶派出所 DF-DAYE 救生衣 6 PDF") == []
    assert clerk.leaks("应急物资中心仓库", "allocations.slip") == []
    assert clerk.leaks("应急物资中心仓库", "inventory.expiry_report")
    shitang = reach_of(db.session, _user("shitang"))
    assert shitang.leaks("石塘镇") == []
    assert shitang.leaks("城北街道") == ["unit 城北街道 (WL-CB)"]
    # command staff reach their own bureau: Dengfeng's command user, not Wenling's towns
    command = reach_of(db.session, _user("command"))
    assert command.leaks("白坪派出所 应急物资中心仓库") == []
    assert command.leaks("城北街道 白坪派出所") == ["unit 城北街道 (WL-CB)"]
    assert reach_of(db.session, _user("wenling")).leaks("白坪派出所") == [
        "unit 白坪派出所 (DF-BAIPING)"
    ]


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))

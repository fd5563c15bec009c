"""The catalog in English (issue 22): in the English UI every page, PDF and spreadsheet that
shows an item's name, category or unit of measure shows the English kept beside the Chinese;
the Chinese UI shows the Chinese; an item without English shows its Chinese in both; the JSON
API keeps the Chinese (a contract)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from flask_babel import refresh
from openpyxl import load_workbook
from sqlalchemy import select

from funding import purchases
from inventory import catalog, preseason, standard
from inventory import demo as inventory_demo
from inventory.models import Item, Lot, Position
from inventory.preseason_models import PreseasonItem
from labels import services as lab
from readiness.models import User
from readiness.permissions import SYSTEM
from tests.pdfcheck import pdf_text
from tests.readiness.test_i18n import CJK

TODAY = date.today()


def text(r) -> str:
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def section(html: str, ident: str, end: str = "</section>") -> str:
    """The part of a page inside the element with this id (up to its section's end)."""
    start = html.index(f'id="{ident}"')
    return html[start : html.index(end, start)]


@pytest.fixture
def world(session, city, make_unit, make_user, stock):
    """A station short of life jackets (kept in English too) and whistles (Chinese only),
    and a warehouse with life jackets to spare."""
    jackets = catalog.create_item(
        session,
        code="LJ",
        name="救生衣",
        category="防汛救生",
        uom="件",
        name_en="Life jacket",
        category_en="Flood rescue",
        uom_en="pcs",
        unit_cost="120.00",
        shelf_life_days=None,
        tracking="bulk",
        actor=SYSTEM,
    )
    whistles = catalog.create_item(
        session,
        code="WHISTLE",
        name="口哨",
        category="通讯",
        uom="个",
        unit_cost="5.50",
        shelf_life_days=None,
        tracking="bulk",
        actor=SYSTEM,
    )
    station = make_unit("ST", name="North Station", headcount=10)
    warehouse = make_unit("WH", name="Warehouse", kind="warehouse", headcount=2)
    standard.publish_standard(
        session,
        effective_from=TODAY - timedelta(days=30),
        lines=[
            standard.StandardLineInput("station", "LJ", "2", "1"),  # 12 for 10 officers
            standard.StandardLineInput("station", "WHISTLE", "0", "1"),  # 10
        ],
        actor=SYSTEM,
    )
    session.commit()
    stock(station, jackets, 2)
    stock(warehouse, jackets, 30)
    make_user("boss", "command", city, name="Boss")
    make_user("keeper1", "keeper", warehouse, name="Keeper")
    return {"station": station, "warehouse": warehouse, "jackets": jackets, "whistles": whistles}


def in_english(client):
    client.get("/?lang=en")
    return client


def test_the_shortfall_page_names_items_in_the_readers_language(world, login):
    client = login("boss")
    zh = text(client.get("/reports/shortfall?lang=zh"))
    for part in ("transfers", "budget", "rows"):
        assert "救生衣" in section(zh, part) and "Life jacket" not in section(zh, part)
    assert "救生衣 × 10 件" in section(zh, "transfers")
    en = text(in_english(client).get("/reports/shortfall"))
    for part in ("transfers", "budget", "rows"):
        assert "Life jacket" in section(en, part) and "救生衣" not in section(en, part)
    # the suggested transfer in English units; an item without English keeps its Chinese
    assert "Life jacket × 10 pcs" in section(en, "transfers")
    assert "口哨" in section(en, "rows") and "口哨" in section(en, "budget")


def test_shortfall_downloads_name_items_in_the_readers_language(world, login):
    client = login("boss")
    columns = {}
    for lang, jacket, other in (("zh", "救生衣", "Life jacket"), ("en", "Life jacket", "救生衣")):
        client.get(f"/?lang={lang}")
        raw = client.get("/reports/shortfall?format=csv").get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
        columns[lang] = [row[1] for row in rows[1:]]
        assert jacket in columns[lang] and "口哨" in columns[lang] and other not in raw
        book = load_workbook(io.BytesIO(client.get("/reports/shortfall?format=xlsx").data))
        cells = [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)]
        assert cells == columns[lang]
        pdf = pdf_text(client.get("/reports/shortfall?format=pdf").data)
        assert jacket in pdf and other not in pdf and "口哨" in pdf
    # the same rows in the same order in both languages, only the names read differently
    english = {"救生衣": "Life jacket"}
    assert [english.get(name, name) for name in columns["zh"]] == columns["en"]


def test_the_json_api_keeps_the_chinese_names(world, session, make_token, api):
    """The API is a contract: its names stay the records' own, whatever the user reads."""
    user = session.scalar(select(User).where(User.username == "boss"))
    user.language = "en"
    session.commit()
    answer = api(make_token(user)).get("/api/v1/items").get_json()
    jackets = next(i for i in answer["items"] if i["code"] == "LJ")
    assert (jackets["name"], jackets["category"], jackets["uom"]) == ("救生衣", "防汛救生", "件")


def test_standard_and_requirements_pages_show_the_english(world, login):
    client = login("boss")
    zh = text(client.get("/standard?lang=zh"))
    assert "救生衣" in zh and "Life jacket" not in zh
    en = text(in_english(client).get("/standard"))
    assert "Life jacket" in en and "救生衣" not in en
    assert re.search(r"<td>pcs</td>", en) and "口哨" in en
    page = section(text(client.get("/units/ST/requirements")), "requirements", "</table>")
    assert "Life jacket" in page and "救生衣" not in page and "口哨" in page and "pcs" in page


def test_a_purchase_request_and_its_document_show_the_english(world, session, city, login):
    boss = session.scalar(select(User).where(User.username == "boss"))
    request = purchases.create_request(
        session,
        city,
        title="Jackets",
        addressee="Finance",
        basis="Standard",
        lines=[purchases.LineInput("ST", "LJ", 5, "120")],
        actor=boss,
    )
    session.commit()
    client = login("boss")
    zh = text(client.get(f"/purchases/{request.id}?lang=zh"))
    assert "救生衣" in zh
    en = text(in_english(client).get(f"/purchases/{request.id}"))
    assert "Life jacket" in en and "救生衣" not in en
    assert re.search(r"5 pcs", en)
    pdf = pdf_text(client.get(f"/purchases/{request.id}/document.pdf").data)
    assert "Life jacket" in pdf and "pcs" in pdf and "救生衣" not in pdf


def test_the_header_search_finds_an_item_by_its_english_name(world, login):
    client = login("boss")
    zh = text(client.get("/search?q=jacket&lang=zh"))
    # found by its English name, named in Chinese in the Chinese UI
    assert "救生衣" in zh and "<code>LJ</code>" in zh
    en = text(in_english(client).get("/search", query_string={"q": "救生"}))
    assert "Life jacket" in en and "Flood rescue" in en and "<code>LJ</code>" in en
    assert "救生衣" not in en.replace('value="救生"', "")
    missing = text(client.get("/search?q=helmet"))
    assert "<code>LJ</code>" not in missing


def test_the_scan_page_and_the_phone_read_the_english(world, session, login):
    pos = session.scalar(select(Position).where(Position.unit_id == world["warehouse"].id))
    code = lab.label_for_position(session, pos).code
    session.commit()
    client = login("keeper1")
    zh = text(client.get(f"/l/{code}?lang=zh"))
    assert "救生衣" in zh and "30 件" in zh
    en = text(in_english(client).get(f"/l/{code}"))
    assert "Life jacket" in en and "30 pcs" in en and "救生衣" not in en
    looked_up = client.get(f"/scan/lookup/{code}").get_json()
    assert looked_up["item"] == {"code": "LJ", "name": "Life jacket", "uom": "pcs"}


def test_the_home_page_names_the_worst_gaps_in_english(world, login):
    client = login("boss")
    zh = text(client.get("/?lang=zh"))
    assert "救生衣" in zh
    en = text(in_english(client).get("/"))
    assert "Life jacket" in en and "救生衣" not in en and "口哨" in en


def test_what_a_preseason_check_wrote_reads_in_english(world, session, app, stock):
    """The check keeps what it generated in Chinese (the records' language); the English UI
    words it again with the item's English, and shows a checklist item as written."""
    stock(world["station"], world["jackets"], 3, lot_code="L-1", expires_on=TODAY)
    lot = session.scalar(select(Lot).where(Lot.code == "L-1"))
    check = SimpleNamespace(
        items=[
            PreseasonItem(
                position=1,
                kind="lot",
                item=f"救生衣 批次 L-1（3 件）{TODAY.isoformat()} 到期，汛前需处置",
                lot_id=lot.id,
            ),
            PreseasonItem(position=2, kind="count", item="汛前全面盘库（上次盘库 2026-01-02）"),
            PreseasonItem(position=3, kind="count", item="汛前全面盘库（从未盘库）"),
            PreseasonItem(position=4, kind="checklist", item="照明、通信设备电池电量充足"),
        ]
    )
    with app.test_request_context("/?lang=zh"):
        refresh()  # the test's app context would keep the locale of the first request
        assert preseason.shown_items(session, check) == {i.position: i.item for i in check.items}
    with app.test_request_context("/?lang=en"):
        refresh()
        shown = preseason.shown_items(session, check)
    assert shown[1].startswith("Life jacket") and "L-1" in shown[1] and "3 pcs" in shown[1]
    assert TODAY.isoformat() in shown[1] and not CJK.search(shown[1])
    assert "2026-01-02" in shown[2] and not CJK.search(shown[2])
    assert not CJK.search(shown[3])
    assert shown[4] == "照明、通信设备电池电量充足"


def test_the_demo_fills_in_the_english_of_its_own_items(session):
    """A demo database from before issue 22: the demo's items get their English; an English
    someone wrote stays, and an item that is not the demo's (another name) is left alone."""
    for code, name, name_en in (
        ("LJ", "救生衣", ""),
        ("LB", "救生圈", "Ring buoy"),
        ("ROPE", "绳", ""),
    ):
        catalog.create_item(
            session,
            code=code,
            name=name,
            category="防汛救生",
            uom="件",
            name_en=name_en,
            unit_cost="1",
            shelf_life_days=None,
            tracking="bulk",
            actor=SYSTEM,
        )
    session.commit()
    assert inventory_demo.load(session) is False
    items = {i.code: i for i in session.scalars(select(Item))}
    assert (items["LJ"].name_en, items["LJ"].category_en, items["LJ"].uom_en) == (
        "Life jacket",
        "Flood rescue",
        "pcs",
    )
    assert (items["LB"].name_en, items["LB"].uom_en) == ("Ring buoy", "pcs")
    assert (items["ROPE"].name_en, items["ROPE"].uom_en) == ("", "")
    assert set(items) == {"LJ", "LB", "ROPE"}  # nothing else is loaded into a used catalog

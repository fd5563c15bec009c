"""The inventory lists search, sort and filter as the URL says, and download as shown (issue
22): the catalog, the stock index, a unit's stock (with lots and pieces ticked for labels),
the ledger and the recent stocktakes, at the HTTP level. Another bureau's rows never appear."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from inventory import catalog
from inventory.counts import start_count
from inventory.models import Asset, Movement, Position
from readiness.permissions import SYSTEM
from tests.conftest import post_form

TODAY = date.today()


@pytest.fixture
def app_config() -> dict:
    # small pages, so that a list of a few rows pages
    return {"PAGE_SIZE": 2}


@pytest.fixture
def world(session, make_unit, make_user, make_item, stock):
    """Bureau A with two stations and its command staff and clerk; bureau B elsewhere,
    holding an item whose name A's searches would find."""
    a = make_unit("BA", name="甲区应急管理局", kind="bureau")
    s1 = make_unit("BA-S1", name="甲区城关派出所", parent=a)
    s2 = make_unit("BA-S2", name="甲区白坪派出所", parent=a)
    b = make_unit("BB", name="乙区应急管理局", kind="bureau")
    make_user("cmd_a", "command", a)
    clerk = make_user("clerk_s1", "clerk", s1)
    make_user("clerk_b", "clerk", b)
    jacket = catalog.create_item(
        session,
        code="JK",
        name="救生衣",
        category="防汛",
        uom="件",
        unit_cost="180.00",
        shelf_life_days=730,
        tracking="bulk",
        name_en="Life jacket",
        category_en="Flood control",
        uom_en="pc",
        actor=SYSTEM,
    )
    session.commit()
    tape = make_item("TP", name="警戒带", category="警戒", uom="盘", unit_cost="20.00")
    pump = make_item("PU", name="抽水泵", category="防汛", unit_cost="2500.00")
    gen = make_item("GEN", name="发电机", category="电力", unit_cost="9000.00", tracking="serial")
    old = make_item("OLD", name="旧式手电", category="照明", unit_cost="5.00")
    catalog.update_item(
        session,
        old,
        name=old.name,
        category=old.category,
        uom=old.uom,
        unit_cost=old.unit_cost,
        shelf_life_days=None,
        is_active=False,
        actor=SYSTEM,
    )
    session.commit()
    # distinct quantities: each ledger line is known by its quantity
    stock(s1, jacket, 6, lot_code="L-SOON", expires_on=TODAY + timedelta(days=30))
    stock(s1, jacket, 9, lot_code="L-LATE", expires_on=TODAY + timedelta(days=400))
    stock(s1, tape, 4, note="首批警戒带")
    stock(s1, gen, 2, serials="G-001,G-002")
    stock(s2, pump, 3)
    stock(s1, tape, 1, kind="issue", note="借出")
    stock(b, jacket, 7, lot_code="L-BB", note="乙区入库")
    # a document reference, as an allocation's lines carry
    line = session.scalar(select(Movement).where(Movement.qty == 3))
    line.document = "DB-2026-17"
    session.commit()
    return {"a": a, "s1": s1, "s2": s2, "b": b, "clerk": clerk}


def _html(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _href(page: str, pattern: str) -> str:
    match = re.search(r'href="([^"]*' + pattern + r'[^"]*)"', page)
    assert match, pattern
    return unescape(match.group(1))


# ---------------------------------------------------------------- the catalog


def _item_codes(page: str) -> list[str]:
    return re.findall(r"<td><code>([^<]+)</code></td>", page)


def test_the_catalog_search_finds_items_by_code_name_in_either_language_or_category(
    client, login, world
):
    login("cmd_a")
    assert _item_codes(_html(client.get("/items?q=救生"))) == ["JK"]
    assert _item_codes(_html(client.get("/items?q=life JACKET"))) == ["JK"]
    assert _item_codes(_html(client.get("/items?q=gen"))) == ["GEN"]
    assert sorted(_item_codes(_html(client.get("/items?q=防汛")))) == ["JK", "PU"]
    assert _item_codes(_html(client.get("/items?q=flood"))) == ["JK"]  # the English category
    # % and _ are letters, quotes are text; a search far too long is cut, not an error
    assert _item_codes(_html(client.get("/items?q=%25"))) == []
    assert _item_codes(_html(client.get("/items?q=_"))) == []
    assert _item_codes(_html(client.get("/items?q=%27%22"))) == []
    assert client.get("/items?q=" + "救" * 5000).status_code == 200


def test_the_catalog_sorts_by_each_column_both_ways_and_says_so(client, login, world, app):
    app.config["PAGE_SIZE"] = 50
    login("cmd_a")
    by_cost = _html(client.get("/items?sort=unit_cost&dir=desc"))
    assert _item_codes(by_cost) == ["GEN", "PU", "JK", "TP", "OLD"]
    assert re.search(r'<th class="num" aria-sort="descending"><a class="sort"', by_cost)
    assert "sort=unit_cost&amp;dir=asc" in by_cost  # the heading turns it round
    assert _item_codes(_html(client.get("/items?sort=unit_cost&dir=asc"))) == [
        "OLD",
        "TP",
        "JK",
        "PU",
        "GEN",
    ]
    assert _item_codes(_html(client.get("/items?sort=code"))) == ["GEN", "JK", "OLD", "PU", "TP"]
    # the default: by category, then code, as the catalog always read
    default = _item_codes(_html(client.get("/items")))
    assert default.index("JK") < default.index("PU")
    assert _item_codes(_html(client.get("/items?sort=shelf_life&dir=desc")))[0] == "JK"
    # an unknown sort or direction is the default order, not an error
    assert _item_codes(_html(client.get("/items?sort=password&dir=up"))) == default


def test_the_catalog_filters_stay_in_the_url_and_an_unknown_value_is_said(client, login, world):
    login("cmd_a")
    flood = _html(client.get("/items?category=防汛&sort=code&dir=desc"))
    assert _item_codes(flood) == ["PU", "JK"]
    # the category picker offers the categories in use; the filter form keeps the sort
    assert 'name="category" data-picker' in flood and 'value="电力"' in flood
    assert 'name="sort" value="code"' in flood and 'name="dir" value="desc"' in flood
    assert _item_codes(_html(client.get("/items?tracking=serial"))) == ["GEN"]
    assert _item_codes(_html(client.get("/items?status=inactive"))) == ["OLD"]
    active = _html(client.get("/items?status=active&sort=unit_cost"))
    assert _item_codes(active) == ["TP", "JK"]  # OLD, the cheapest, is inactive
    unknown = _html(client.get("/items?category=火星&tracking=sideways"))
    assert "火星" in unknown and "sideways" in unknown  # each unknown value is named
    assert len(_item_codes(unknown)) == 2  # and filters nothing (a page of two)


def test_the_catalog_pages_keep_the_filters(client, login, world):
    login("cmd_a")
    first = _html(client.get("/items?sort=code"))
    assert _item_codes(first) == ["GEN", "JK"]
    second = _html(client.get(_href(first, "page=2")))
    assert _item_codes(second) == ["OLD", "PU"]


def test_the_catalog_downloads_as_shown(client, login, world):
    login("cmd_a")
    shown = "/items?category=防汛&sort=unit_cost&dir=desc"
    page = _html(client.get(shown))
    link = _href(page, "format=csv")
    assert "category=" in link and "sort=unit_cost" in link
    rows = _csv(client.get(link))
    assert rows[0][:3] == ["代码", "名称", "类别"]
    assert [r[0] for r in rows[1:]] == ["PU", "JK"]  # the same items, in the same order
    every = _csv(client.get("/items?sort=code&format=csv"))
    assert [r[0] for r in every[1:]] == ["GEN", "JK", "OLD", "PU", "TP"]  # not only a page
    xlsx = client.get(link.replace("format=csv", "format=xlsx"))
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_catalog_shows_the_english_in_english_and_beside_the_chinese(client, login, world):
    login("cmd_a")
    chinese = _html(client.get("/items?q=JK"))
    assert "救生衣" in chinese and '<small class="muted" lang="en">Life jacket</small>' in chinese
    english = _html(client.get("/items?q=JK&lang=en"))
    assert "Life jacket" in english and "Flood control" in english and "救生衣" not in english
    # sorted by the name as the reader reads it: "Life jacket" before the Chinese-only names
    rows = _csv(client.get("/items?sort=name&format=csv"))
    assert rows[1][1] == "Life jacket"
    assert rows[0][:2] == ["Code", "Name"]
    down = _csv(client.get("/items?sort=name&dir=desc&format=csv"))
    assert [r[1] for r in down[1:]][-1] == "Life jacket"


# ---------------------------------------------------------------- the item form and API


def test_the_item_form_keeps_the_english_and_refuses_it_too_long(
    client, login, world, make_user, session
):
    make_user("root", "admin")
    login("root")
    base = {
        "code": "RB",
        "name": "救生圈",
        "category": "防汛",
        "uom": "个",
        "unit_cost": "60",
        "tracking": "bulk",
    }
    refused = post_form(client, "/items/new", base | {"name_en": "x" * 101})
    assert refused.status_code in (200, 422)
    assert re.search(r'has-error">\s*<label for="name_en"', refused.get_data(as_text=True))
    assert "<code>RB</code>" not in _html(client.get("/items?q=RB"))
    done = post_form(
        client,
        "/items/new",
        base | {"name_en": "  Life buoy ", "category_en": "Flood control", "uom_en": "pc"},
    )
    assert done.status_code == 302
    session.expire_all()
    buoy = catalog.get_item(session, "RB")
    assert (buoy.name_en, buoy.category_en, buoy.uom_en) == ("Life buoy", "Flood control", "pc")
    assert 'value="Life buoy"' in _html(client.get("/items/RB/edit"))
    saved = post_form(
        client,
        "/items/RB/edit",
        base | {"name_en": "Ring buoy", "category_en": "", "uom_en": "pc", "is_active": "y"},
    )
    assert saved.status_code == 302
    session.expire_all()
    buoy = catalog.get_item(session, "RB")
    assert (buoy.name_en, buoy.category_en) == ("Ring buoy", "")


def test_the_catalog_service_names_the_english_field_it_refuses(session, world):
    from readiness.errors import DomainError

    with pytest.raises(DomainError) as err:
        catalog.create_item(
            session,
            code="X1",
            name="测试",
            category="测试",
            uom="个",
            unit_cost="1",
            shelf_life_days=None,
            tracking="bulk",
            uom_en="u" * 21,
            actor=SYSTEM,
        )
    assert err.value.field == "uom_en" and "英文计量单位" in err.value.message


def test_the_items_api_gives_and_takes_the_english(api, make_token, make_user, world):
    root = make_user("root", "admin")
    call = api(make_token(root))
    listed = call.get("/api/v1/items?limit=1000").get_json()["items"]
    jacket = next(i for i in listed if i["code"] == "JK")
    assert (jacket["name_en"], jacket["category_en"], jacket["uom_en"]) == (
        "Life jacket",
        "Flood control",
        "pc",
    )
    assert next(i for i in listed if i["code"] == "TP")["name_en"] == ""
    made = call.post(
        "/api/v1/items",
        json={
            "code": "AX",
            "name": "消防斧",
            "category": "破拆",
            "uom": "把",
            "unit_cost": "80",
            "name_en": "Fire axe",
        },
    )
    assert made.status_code == 201 and made.get_json()["name_en"] == "Fire axe"
    assert made.get_json()["uom_en"] == ""
    too_long = call.post(
        "/api/v1/items",
        json={"code": "AY", "name": "斧", "category": "破拆", "uom": "把", "unit_cost": "8"}
        | {"category_en": "c" * 41},
    )
    assert too_long.status_code == 422 and too_long.get_json()["error"]["field"] == "category_en"
    # a replace keeps the English it does not name, and changes what it names
    edit = {"name": "救生衣", "category": "防汛", "uom": "件", "unit_cost": "190.00"}
    put = call.put("/api/v1/items/JK", json=edit | {"name_en": "Lifejacket"})
    assert put.status_code == 200, put.get_json()
    assert (put.get_json()["name_en"], put.get_json()["category_en"]) == (
        "Lifejacket",
        "Flood control",
    )
    assert put.get_json()["unit_cost"] == "190.00" and put.get_json()["is_active"] is True
    cleared = call.put("/api/v1/items/JK", json=edit | {"uom_en": ""}).get_json()
    assert (cleared["name_en"], cleared["uom_en"]) == ("Lifejacket", "")
    assert call.put("/api/v1/items/NOPE", json=edit).status_code == 404
    clerk = api(make_token(world["clerk"]))
    assert clerk.put("/api/v1/items/JK", json=edit).status_code == 403
    assert call.put("/api/v1/items/JK", json=edit | {"name_en": 5}).status_code == 422


# ---------------------------------------------------------------- stock


def _stock_units(page: str) -> list[str]:
    return re.findall(r'href="/stock/([^"/]+)">', page)


def test_the_stock_index_searches_and_sorts_the_units_in_reach(client, login, world):
    login("cmd_a")
    tree = _html(client.get("/stock"))
    assert _stock_units(tree) == ["BA", "BA-S1", "BA-S2"]  # the branch, as a tree
    assert _stock_units(_html(client.get("/stock?q=白坪"))) == ["BA-S2"]
    assert _stock_units(_html(client.get("/stock?q=ba-s&sort=code"))) == ["BA-S1", "BA-S2"]
    # by stock on the books: BA-S1 holds 6 + 9 + 4 - 1 + 2 = 20, BA-S2 3, BA none
    assert _stock_units(_html(client.get("/stock?sort=total&dir=desc"))) == ["BA-S1", "BA-S2"]
    assert _stock_units(_html(client.get("/stock?sort=total&dir=asc"))) == ["BA", "BA-S2"]
    assert _stock_units(_html(client.get("/stock?sort=code&dir=desc"))) == ["BA-S2", "BA-S1"]
    # another bureau's units are never found
    assert _stock_units(_html(client.get("/stock?q=乙区"))) == []
    assert client.get("/stock?sort=x&dir=y&q=%25_").status_code == 200


def test_a_clerk_who_sees_one_unit_goes_straight_to_its_stock(client, login, world):
    login("clerk_s1")
    assert client.get("/stock").location.endswith("/stock/BA-S1")


def _stock_rows(page: str) -> list[tuple[str, str]]:
    """(item code, lot) of each row of a unit's stock."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<code>([^<]+)</code></td>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>", body)


def test_a_units_stock_is_searched_filtered_and_sorted(client, login, world):
    login("cmd_a")
    assert _stock_rows(_html(client.get("/stock/BA-S1?q=late"))) == [("JK", "L-LATE")]
    assert _stock_rows(_html(client.get("/stock/BA-S1?q=Life"))) == [
        ("JK", "L-SOON"),
        ("JK", "L-LATE"),
    ]
    assert _stock_rows(_html(client.get("/stock/BA-S1?category=警戒"))) == [("TP", "—")]
    assert _stock_rows(_html(client.get("/stock/BA-S1?expiry=soon"))) == [("JK", "L-SOON")]
    later = _stock_rows(_html(client.get("/stock/BA-S1?expiry=ok")))
    assert ("JK", "L-SOON") not in later and ("JK", "L-LATE") in later
    by_qty = _html(client.get("/stock/BA-S1?sort=qty&dir=desc"))
    assert _stock_rows(by_qty)[:2] == [("JK", "L-LATE"), ("JK", "L-SOON")]
    assert 'aria-sort="descending"' in by_qty
    assert _stock_rows(_html(client.get("/stock/BA-S1?sort=qty&dir=asc")))[0][0] == "GEN"
    unknown = _html(client.get("/stock/BA-S1?expiry=yesterday&q=" + "%" * 300))
    assert "yesterday" in unknown
    # out of reach stays out of reach, searched or not
    assert client.get("/stock/BB?q=救生").status_code == 403


class _Forms(HTMLParser):
    """The forms of a page and the inputs that belong to each (by nesting or form=)."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict] = {}
        self.inputs: list[dict] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._open = a.get("id", f"form{len(self.forms)}")
            self.forms[self._open] = a
        elif tag in ("input", "button", "select"):
            self.inputs.append(a | {"_tag": tag, "_form": a.get("form") or self._open})

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def test_lots_and_pieces_ticked_on_the_stock_page_go_to_the_label_printing(
    client, login, world, session
):
    login("clerk_s1")
    page = _html(client.get("/stock/BA-S1"))
    parsed = _Forms()
    parsed.feed(page)
    form = parsed.forms["print-labels"]
    assert form["method"] == "get" and form["action"] == "/labels"
    sent = [i for i in parsed.inputs if i["_form"] == "print-labels"]
    assert {"name": "unit", "value": "BA-S1"}.items() <= next(
        i for i in sent if i.get("name") == "unit"
    ).items()
    positions = session.scalars(select(Position.id).where(Position.unit_id == world["s1"].id)).all()
    assets = session.scalars(select(Asset.id).where(Asset.unit_id == world["s1"].id)).all()
    assert sorted(int(i["value"]) for i in sent if i.get("name") == "position") == sorted(positions)
    assert sorted(int(i["value"]) for i in sent if i.get("name") == "asset") == sorted(assets)
    assert len(assets) == 2
    assert all(i["type"] == "checkbox" for i in sent if i.get("name") in ("position", "asset"))
    assert any("data-select-all" in i for i in sent) and "全选" in page
    assert any(i["_tag"] == "button" for i in sent) and "打印所选标签" in page
    # a search narrows what can be ticked: the piece G-001 alone
    found = _Forms()
    found.feed(_html(client.get("/stock/BA-S1?q=G-001")))
    ticks = [
        (i["name"], i["value"]) for i in found.inputs if i.get("name") in ("position", "asset")
    ]
    g001 = session.scalar(select(Asset.id).where(Asset.serial == "G-001"))
    assert ticks == [("asset", str(g001))]


def test_only_those_who_print_labels_see_the_selection(client, login, world):
    login("cmd_a")  # command staff do not print labels
    page = _html(client.get("/stock/BA-S1"))
    assert 'id="print-labels"' not in page and 'name="position"' not in page
    assert "打印所选标签" not in page


# ---------------------------------------------------------------- the ledger


def _ledger_qtys(page: str) -> list[int]:
    rows = re.findall(r'<tr><td class="nowrap">.*?</tr>', page, re.S)
    return [int(re.search(r'<td class="num">([+-]\d+)</td>', r).group(1)) for r in rows]


def test_the_ledger_search_finds_item_lot_note_and_document(client, login, world):
    login("cmd_a")
    assert _ledger_qtys(_html(client.get("/ledger?q=L-SOON"))) == [6]
    assert sorted(_ledger_qtys(_html(client.get("/ledger?q=life jacket")))) == [6, 9]
    assert _ledger_qtys(_html(client.get("/ledger?q=借出"))) == [-1]
    assert _ledger_qtys(_html(client.get("/ledger?q=db-2026"))) == [3]
    # another bureau's line holds the searched item and note, but is never found
    assert _ledger_qtys(_html(client.get("/ledger?q=乙区入库"))) == []
    assert _ledger_qtys(_html(client.get("/ledger?q=%25"))) == []


def test_the_ledger_filters_by_kind_and_item_in_the_url(client, login, world):
    login("cmd_a")
    assert _ledger_qtys(_html(client.get("/ledger?kind=issue"))) == [-1]
    tape = _html(client.get("/ledger?item=TP"))
    assert _ledger_qtys(tape) == [-1, 4]
    assert re.search(r'<select[^>]*(data-picker[^>]*name="item"|name="item"[^>]*data-picker)', tape)
    unknown = _html(client.get("/ledger?kind=theft&item=NOPE"))
    assert "theft" in unknown and "NOPE" in unknown
    assert len(_ledger_qtys(unknown)) == 6  # the unknown filters narrow nothing


def test_the_ledger_sorts_both_ways_and_pages_in_that_order(client, login, world):
    login("cmd_a")
    assert _ledger_qtys(_html(client.get("/ledger"))) == [-1, 3, 2, 4, 9, 6]  # newest first
    assert _ledger_qtys(_html(client.get("/ledger?sort=time&dir=asc"))) == [6, 9, 4, 2, 3, -1]
    by_qty = _html(client.get("/ledger?sort=qty&dir=desc"))
    assert _ledger_qtys(by_qty) == [9, 6, 4, 3, 2, -1]
    assert re.search(r'<th class="num" aria-sort="descending"><a class="sort"', by_qty)
    assert _ledger_qtys(_html(client.get("/ledger?sort=qty&dir=asc"))) == [-1, 2, 3, 4, 6, 9]
    by_unit = _ledger_qtys(_html(client.get("/ledger?sort=unit&dir=desc")))
    assert by_unit[0] == 3 or by_unit[-1] == 3  # BA-S2's one line at one end
    assert client.get("/ledger?sort=nonsense&dir=up").status_code == 200


def test_a_sorted_ledger_pages_by_its_next_link_and_a_new_sort_starts_at_the_top(
    client, login, world, monkeypatch
):
    from inventory import views

    monkeypatch.setattr(views, "PAGE_ROWS", 4)
    login("cmd_a")
    first = _html(client.get("/ledger?sort=qty&dir=desc"))
    assert _ledger_qtys(first) == [9, 6, 4, 3]
    following = _href(first, "after=")
    assert "sort=qty" in following
    second = _html(client.get(following))
    assert _ledger_qtys(second) == [2, -1]
    # the heading's link and the downloads leave the cursor behind (it marks another order)
    assert "after=" not in _href(second, "sort=time") and "after=" not in _href(
        second, "format=csv"
    )


def test_the_ledger_downloads_hold_the_lines_shown_in_their_order(client, login, world):
    login("cmd_a")
    for shown in ("/ledger", "/ledger?sort=qty&dir=asc", "/ledger?q=jacket&sort=time&dir=asc"):
        page = _html(client.get(shown))
        rows = _csv(client.get(_href(page, "format=csv")))
        assert [int(r[6]) for r in rows[1:]] == _ledger_qtys(page), shown
    xlsx = client.get("/ledger?kind=receipt&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    pdf = client.get("/ledger?kind=receipt&format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_the_ledger_names_items_in_english_in_the_english_ui(client, login, world):
    login("cmd_a")
    page = _html(client.get("/ledger?item=JK&lang=en"))
    assert "Life jacket" in page and "救生衣" not in page
    rows = _csv(client.get("/ledger?item=JK&format=csv"))
    assert {r[3] for r in rows[1:]} == {"Life jacket"}


# ---------------------------------------------------------------- counts


@pytest.fixture
def counted(world, session):
    """Three stocktakes in bureau A (one approved-state set by hand) and one in bureau B."""
    from readiness.models import User

    clerk = session.scalar(select(User).where(User.username == "clerk_s1"))
    first = start_count(session, world["s1"], actor=SYSTEM)
    first.status = "cancelled"
    session.commit()
    second = start_count(session, world["s1"], actor=clerk)
    third = start_count(session, world["s2"], actor=SYSTEM)
    start_count(session, world["b"], actor=SYSTEM)
    session.commit()
    return [first.id, second.id, third.id]


def _count_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/counts/(\d+)">', page)]


def test_the_recent_counts_are_searched_filtered_sorted_and_paged(client, login, counted):
    first, second, third = counted
    login("cmd_a")
    page = _html(client.get("/counts"))
    assert _count_ids(page) == [third, second]  # newest first, a page of two
    assert _count_ids(_html(client.get(_href(page, "page=2")))) == [first]
    assert _count_ids(_html(client.get("/counts?sort=date&dir=asc"))) == [first, second]
    assert _count_ids(_html(client.get("/counts?q=白坪"))) == [third]
    assert _count_ids(_html(client.get("/counts?unit=BA-S1"))) == [second, first]
    assert _count_ids(_html(client.get("/counts?status=cancelled"))) == [first]
    by_unit = _html(client.get("/counts?sort=unit&dir=desc"))
    assert 'aria-sort="descending"' in by_unit
    down = _count_ids(by_unit)
    up = _count_ids(_html(client.get("/counts?sort=unit&dir=asc")))
    # BA-S2's one count comes first one way round, after BA-S1's two the other
    assert (third in up) != (third in down)
    # bureau B's count is never listed, and naming B is said, not obeyed
    other = _html(client.get("/counts?unit=BB&q=乙区"))
    assert _count_ids(other) == [] and "BB" in other
    unknown = _html(client.get("/counts?status=lost"))
    assert "lost" in unknown and len(_count_ids(unknown)) == 2


def test_the_recent_counts_download_as_shown(client, login, counted):
    first, second, third = counted
    login("cmd_a")
    page = _html(client.get("/counts?sort=date&dir=asc"))
    rows = _csv(client.get(_href(page, "format=csv")))
    assert [int(r[0]) for r in rows[1:]] == [first, second, third]  # every page
    query = parse_qs(urlsplit(_href(page, "format=csv")).query)
    assert query["sort"] == ["date"] and query["dir"] == ["asc"]
    xlsx = client.get("/counts?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"

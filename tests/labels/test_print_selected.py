"""Printing the labels ticked on another page (issue 22): a unit's lot rows and serial
pieces, or every label of some shelter sites (their stock units). The sheet is read back by
a QR decoder and holds exactly the labels selected; a selection reaching outside the user's
reach prints nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from inventory.models import Asset, Item, Position
from labels import services as lab
from labels.models import LabelCode
from readiness.permissions import SYSTEM
from shelters import places, sites
from tests.conftest import PASSWORD, post_form
from tests.labels.test_services import decode_pages


def text(r) -> str:
    return r.get_data(as_text=True)


@pytest.fixture
def store(session, make_unit, make_item, make_user, stock):
    """Warehouse WA (keeper ka) with jackets, two lots of sandbags and two pumps; warehouse
    WB of another bureau with jackets."""
    a = make_unit("BA", name="甲局", kind="bureau")
    wa = make_unit("WA", name="甲仓库", kind="warehouse", parent=a)
    b = make_unit("BB", name="乙局", kind="bureau")
    wb = make_unit("WB", name="乙仓库", kind="warehouse", parent=b)
    jackets = make_item("LJ", name="救生衣")
    bags = make_item("SB", name="吸水沙袋")
    pumps = make_item("PUMP", name="排涝泵", tracking="serial")
    stock(wa, jackets, 10)
    stock(wa, bags, 5, lot_code="SB-A")
    stock(wa, bags, 5, lot_code="SB-B")
    stock(wa, pumps, 2, serials=["P-1", "P-2"])
    stock(wb, jackets, 3)
    make_user("ka", "keeper", wa)
    session.commit()

    def position(unit, item, lot=None) -> int:
        return next(
            p.id
            for p in session.scalars(
                select(Position).where(Position.unit_id == unit.id, Position.item_id == item.id)
            )
            if (p.lot.code if p.lot else None) == lot
        )

    return {
        "jackets": position(wa, jackets),
        "bags_a": position(wa, bags, "SB-A"),
        "bags_b": position(wa, bags, "SB-B"),
        "pump_2": session.scalar(select(Asset.id).where(Asset.serial == "P-2")),
        "other": position(wb, jackets),
    }


def printed(session, pdf: bytes) -> tuple[set[int], set[int]]:
    """The positions and pieces whose labels a sheet carries, read from its QR codes."""
    codes = [url.rsplit("/l/", 1)[1] for page in decode_pages(pdf) for url, _x, _y in page]
    rows = session.scalars(select(LabelCode).where(LabelCode.code.in_(codes))).all()
    assert len(rows) == len(codes)
    return (
        {r.position_id for r in rows if r.position_id},
        {r.asset_id for r in rows if r.asset_id},
    )


def label_count(session) -> int:
    return session.scalar(select(func.count()).select_from(LabelCode))


def test_the_rows_ticked_on_the_stock_page_print_exactly_those_labels(
    client, login, session, store
):
    login("ka")
    query = (
        f"unit=WA&position={store['jackets']}&position={store['bags_b']}&asset={store['pump_2']}"
    )
    page = text(client.get(f"/labels?{query}"))
    assert "已选 3 个标签" in page
    assert "救生衣" in page and "批次 SB-B" in page and "序列号 P-2" in page
    assert "SB-A" not in page  # only what was ticked
    assert "本单位全部货位和设备" not in page  # the selection replaces the choice
    assert 'name="what" value="selected"' in page
    assert f'name="position" value="{store["bags_b"]}"' in page
    # the printer, layout and skip choices stay
    assert 'name="layout"' in page and 'name="skip"' in page
    r = post_form(
        client,
        "/labels",
        {
            "what": "selected",
            "unit": "WA",
            "position": [str(store["jackets"]), str(store["bags_b"])],
            "asset": str(store["pump_2"]),
            "layout": "a4-3x8",
        },
    )
    assert r.mimetype == "application/pdf", text(r)[:500]
    assert printed(session, r.data) == ({store["jackets"], store["bags_b"]}, {store["pump_2"]})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("position={other}", "所选货位第 {other} 号不存在"),
        ("position={jackets}&position=999999", "所选货位第 999999 号不存在"),
        ("asset=999999", "所选设备第 999999 号不存在"),
        ("position=abc", "所选编号“abc”无效"),
        ("unit=WB&position={jackets}", "单位 WB 不存在或不在您的管辖范围内"),
    ],
)
def test_a_selection_reaching_outside_the_reach_prints_nothing(
    client, login, session, store, query, message
):
    login("ka")
    query, message = query.format(**store), message.format(**store)
    page = text(client.get(f"/labels?{query}"))
    assert message in page and "已选" not in page
    assert "乙仓库" not in page
    before = label_count(session)
    fields: dict = {"what": "selected", "layout": "a4-3x8"}
    for part in query.split("&"):
        name, value = part.split("=")
        fields.setdefault(name, []).append(value)
    r = post_form(client, "/labels", fields)
    assert r.mimetype == "text/html" and message in text(r)
    assert label_count(session) == before  # no code was issued


def test_a_selection_over_the_limit_is_refused(client, login, session, store, monkeypatch):
    login("ka")
    monkeypatch.setattr(lab, "MAX_TARGETS", 2)
    query = f"position={store['jackets']}&position={store['bags_a']}&position={store['bags_b']}"
    page = text(client.get(f"/labels?{query}"))
    assert "一次最多打印 2 张标签，本次选择了 3 张" in page
    two = text(client.get(f"/labels?position={store['jackets']}&position={store['bags_a']}"))
    assert "已选 2 个标签" in two


@pytest.fixture
def shelters(session, make_unit, make_item, make_user, stock):
    """Town CB (clerk cb) with two active sites holding relief supplies, town ST (clerk st)
    with one."""
    bureau = make_unit("WL", name="温岭市应急管理局", kind="bureau")
    towns = {}
    for code, name in (("CB", "城北街道"), ("ST", "石塘镇")):
        towns[code] = places.save_town(
            session,
            code=code,
            name=name,
            parent=bureau,
            villages=[places.VillageInput(f"{name}一村", 100, 10)],
            actor=SYSTEM,
        ).town
    session.commit()
    quilts = make_item("QB", name="棉被")
    lamps = make_item("LAMP", name="应急灯", tracking="serial")
    made = {}
    for town, name in (("CB", "城北礼堂"), ("CB", "城北小学"), ("ST", "石塘礼堂")):
        site = sites.create_shelter(
            session, sites.ShelterInput(name=name, town=towns[town], capacity=50), actor=SYSTEM
        )
        session.commit()
        made[name] = site
    stock(made["城北礼堂"].unit, quilts, 20)
    stock(made["城北礼堂"].unit, lamps, 2, serials=["L-1", "L-2"])
    stock(made["城北小学"].unit, quilts, 5, lot_code="QB-2024")
    stock(made["石塘礼堂"].unit, quilts, 8)
    make_user("cb", "clerk", towns["CB"])
    make_user("cmd", "command", bureau)
    session.commit()
    return made


def unit_labels(session, *units) -> tuple[set[int], set[int]]:
    """Every label a unit's stock has to print: its bulk positions and pieces in service."""
    ids = [u.id for u in units]
    bulk = select(Position.id).join(Item, Item.id == Position.item_id)
    positions = bulk.where(Position.unit_id.in_(ids), Item.tracking == "bulk")
    pieces = select(Asset.id).where(Asset.unit_id.in_(ids))
    return set(session.scalars(positions)), set(session.scalars(pieces))


def test_the_sites_ticked_print_every_label_of_their_supplies(client, login, session, shelters):
    hall, school = shelters["城北礼堂"], shelters["城北小学"]
    login("cb")
    picked = f"units={hall.unit.code}&units={school.unit.code}"
    page = text(client.get(f"/labels?{picked}"))
    assert "已选 4 个标签" in page  # quilts and two lamps; one lot of quilts
    assert "城北礼堂：3 个标签" in page and "城北小学：1 个标签" in page
    assert 'name="what" value="units"' in page
    # the site's own page leads to the print form with its stock unit chosen
    assert f"/labels?unit={hall.unit.code}" in text(client.get(f"/shelters/sites/{hall.id}"))
    english = text(client.get(f"/labels?units={hall.unit.code}&lang=en"))
    assert "3 labels selected" in english and "已选" not in english
    r = post_form(
        client,
        "/labels",
        {"what": "units", "units": [hall.unit.code, school.unit.code], "layout": "a4-3x8"},
    )
    assert r.mimetype == "application/pdf", text(r)[:500]
    assert printed(session, r.data) == unit_labels(session, hall.unit, school.unit)


def test_a_site_outside_the_reach_prints_nothing(client, login, session, shelters):
    hall, other = shelters["城北礼堂"], shelters["石塘礼堂"]
    login("cb")
    page = text(client.get(f"/labels?units={hall.unit.code}&units={other.unit.code}"))
    assert f"所选单位 {other.unit.code} 不存在" in page and "已选" not in page
    assert "石塘礼堂" not in page
    before = label_count(session)
    r = post_form(client, "/labels", {"what": "units", "units": [hall.unit.code, other.unit.code]})
    assert r.mimetype == "text/html" and f"所选单位 {other.unit.code} 不存在" in text(r)
    assert label_count(session) == before


def test_the_site_list_offers_the_sites_the_user_may_print(app, client, login, shelters):
    hall, school = shelters["城北礼堂"], shelters["城北小学"]
    login("cb")
    page = text(client.get("/shelters/sites"))
    assert 'id="print-sites"' in page and "打印所选场所的标签" in page
    assert 'action="/labels"' in page and 'data-select-all="print-sites"' in page
    for site in (hall, school):
        assert f'form="print-sites" name="units" value="{site.unit.code}"' in page
    assert 'name="units" value="{}"'.format(shelters["石塘礼堂"].unit.code) not in page
    # command staff do not print labels: no boxes
    command = app.test_client()
    post_form(command, "/login", {"username": "cmd", "password": PASSWORD})
    listing = text(command.get("/shelters/sites"))
    assert "城北礼堂" in listing and 'id="print-sites"' not in listing

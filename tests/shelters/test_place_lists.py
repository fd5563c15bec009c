"""The shelter-site, town and village lists search, filter and sort as the URL says, and the
site and village lists download the rows as shown; nothing outside the reach appears
(issue 22)."""

import csv
import io
import re

import pytest


def text(r) -> str:
    return r.get_data(as_text=True)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(text(response).lstrip("\ufeff"))))


@pytest.fixture
def places(county, make_site):
    """Sites in 城北 (CB) and 石塘 (ST); 横湖村 and 双峰村 are served by an accepted active
    site, 海山村 by a site not accepted."""
    make_site(
        county["cb"],
        "横湖礼堂",
        villages=["横湖村", "双峰村"],
        capacity=500,
        address="横湖路 1 号",
        is_standardized=True,
    )
    make_site(county["cb"], "上林小学", villages=["上林村"], capacity=80, address="上林街 9 号")
    make_site(county["st"], "海山祠堂", villages=["海山村"], capacity=200, address="海山岙")
    return county


def site_names(page: str) -> list[str]:
    return re.findall(r'/shelters/sites/\d+">([^<]+)</a>', page)


def test_the_site_list_searches_by_name_address_or_town(client, login, places):
    login("cmd1")
    assert site_names(text(client.get("/shelters/sites?q=礼堂"))) == ["横湖礼堂"]
    assert site_names(text(client.get("/shelters/sites?q=上林街"))) == ["上林小学"]
    assert sorted(site_names(text(client.get("/shelters/sites?q=城北")))) == [
        "上林小学",
        "横湖礼堂",
    ]
    for odd in ("%", "_", "'\"", "x" * 300):
        response = client.get("/shelters/sites", query_string={"q": odd})
        assert response.status_code == 200 and site_names(text(response)) == []


def test_the_site_list_sorts_both_ways_and_keeps_its_filters(client, login, places):
    login("cmd1")
    page = text(client.get("/shelters/sites?sort=capacity&dir=desc"))
    assert site_names(page) == ["横湖礼堂", "海山祠堂", "上林小学"]
    assert re.search(r'aria-sort="descending"><a class="sort" href="[^"]*sort=capacity', page)
    assert site_names(text(client.get("/shelters/sites?sort=capacity&dir=asc"))) == [
        "上林小学",
        "海山祠堂",
        "横湖礼堂",
    ]
    filtered = text(client.get("/shelters/sites?town=CB&sort=capacity&dir=asc"))
    assert site_names(filtered) == ["上林小学", "横湖礼堂"]
    assert 'name="sort" value="capacity"' in filtered
    # a heading's link keeps the filter
    assert re.search(r'href="[^"]*town=CB[^"]*sort=name', filtered)
    for bad in ("sort=secret&dir=up", "dir=sideways", "sort=%27"):
        assert client.get(f"/shelters/sites?{bad}").status_code == 200


def test_unknown_filter_values_are_said(client, login, places):
    login("cmd1")
    page = text(client.get("/shelters/sites?status=flooded"))
    assert "未知的状态：flooded。" in page and len(site_names(page)) == 3
    odd = text(client.get("/shelters/sites?standardized=maybe"))
    assert "未知的规范化情况：maybe。" in odd and len(site_names(odd)) == 3
    town = text(client.get("/shelters/sites?town=NOPE"))
    assert "镇/街道 NOPE 不存在或不在您的管辖范围内。" in town and site_names(town) == []


def test_a_town_clerk_finds_only_their_towns_sites(client, login, places):
    login("cbclerk")
    assert site_names(text(client.get("/shelters/sites?q=海山"))) == []
    page = text(client.get("/shelters/sites?town=ST"))
    assert "镇/街道 ST 不存在或不在您的管辖范围内。" in page and site_names(page) == []
    rows = csv_rows(client.get("/shelters/sites?format=csv"))
    assert sorted(r[0] for r in rows[1:]) == ["上林小学", "横湖礼堂"]


def test_the_site_download_holds_the_sites_as_shown(client, login, places):
    login("cmd1")
    shown = "/shelters/sites?q=%E5%A0%82&sort=name&dir=desc"  # 堂
    page = text(client.get(shown))
    assert "format=csv" in page and "format=xlsx" in page
    rows = csv_rows(client.get(shown + "&format=csv"))
    assert [r[0] for r in rows[1:]] == site_names(page) and len(rows) == 3
    assert {r[0]: r[2] for r in rows[1:]}["海山祠堂"] == "海山岙"  # the address
    xlsx = client.get(shown + "&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


# ---------------------------------------------------------------- towns


def town_codes(page: str) -> list[str]:
    return re.findall(r"<tr(?: class=\"inactive\")?><td>([A-Z]+)</td>", page)


def test_the_town_list_searches_and_sorts(client, login, places):
    login("cmd1")
    assert town_codes(text(client.get("/shelters/towns"))) == ["CB", "ST"]
    assert town_codes(text(client.get("/shelters/towns?q=石塘"))) == ["ST"]
    assert town_codes(text(client.get("/shelters/towns?q=cb"))) == ["CB"]
    # CB has four villages, ST two
    assert town_codes(text(client.get("/shelters/towns?sort=villages&dir=asc"))) == ["ST", "CB"]
    page = text(client.get("/shelters/towns?sort=villages&dir=desc"))
    assert town_codes(page) == ["CB", "ST"]
    assert 'aria-sort="descending"' in page
    assert town_codes(text(client.get("/shelters/towns?sort=to_relocate&dir=desc"))) == [
        "CB",
        "ST",
    ]
    assert town_codes(text(client.get("/shelters/towns?sort=code&dir=desc"))) == ["ST", "CB"]
    assert client.get("/shelters/towns?sort=nope&dir=x&q=%25").status_code == 200
    assert "/shelters/villages?town=CB" in page and 'href="/shelters/villages"' in page


# ---------------------------------------------------------------- villages


def village_names(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>([^<]+)</td>", page)


def test_the_village_list_filters_by_town_and_coverage(client, login, places):
    login("cmd1")
    everything = text(client.get("/shelters/villages"))
    assert len(village_names(everything)) == 6
    assert '<select id="town" name="town" data-picker>' in everything
    assert village_names(text(client.get("/shelters/villages?town=ST"))) == ["桂岙村", "海山村"]
    covered = village_names(text(client.get("/shelters/villages?covered=yes")))
    assert sorted(covered) == ["双峰村", "横湖村"]
    # a site not accepted covers nothing
    assert "海山村" in village_names(text(client.get("/shelters/villages?covered=no&town=ST")))
    assert village_names(text(client.get("/shelters/villages?q=社区"))) == ["三星社区"]
    unknown = text(client.get("/shelters/villages?covered=maybe"))
    assert "未知的覆盖情况：maybe。" in unknown and len(village_names(unknown)) == 6


def test_the_village_list_sorts_both_ways(client, login, places):
    login("cmd1")
    page = text(client.get("/shelters/villages?sort=population&dir=desc"))
    assert village_names(page)[:2] == ["三星社区", "横湖村"]  # 3000, 2000 people
    assert 'aria-sort="descending"' in page
    assert village_names(text(client.get("/shelters/villages?sort=population&dir=asc")))[:2] == [
        "上林村",  # 800
        "桂岙村",  # 900
    ]
    by_relocate = village_names(text(client.get("/shelters/villages?sort=to_relocate&dir=desc")))
    assert by_relocate[:2] == ["海山村", "横湖村"]  # 400, 300
    by_town = village_names(text(client.get("/shelters/villages?sort=town&dir=desc")))
    assert set(by_town[:2]) == {"海山村", "桂岙村"}  # ST first
    for bad in ("sort=nope&dir=x", "q=%25", "q=_", "town=%27"):
        assert client.get(f"/shelters/villages?{bad}").status_code == 200


def test_a_town_clerk_sees_only_their_towns_villages(client, login, places):
    login("cbclerk")
    page = text(client.get("/shelters/villages"))
    assert sorted(village_names(page)) == sorted(["横湖村", "双峰村", "三星社区", "上林村"])
    assert "石塘镇" not in page
    outside = text(client.get("/shelters/villages?town=ST"))
    assert "单位 ST 不存在或不在您的管辖范围内。" in outside and "海山村" not in outside
    assert "海山村" not in text(client.get("/shelters/villages?q=海山&format=csv"))


def test_the_village_download_holds_the_villages_as_shown(client, login, places):
    login("cmd1")
    shown = "/shelters/villages?sort=to_relocate&dir=desc&town=CB"
    page = text(client.get(shown))
    assert "format=csv" in page and "town=CB" in page
    rows = csv_rows(client.get(shown + "&format=csv"))
    assert (
        [r[0] for r in rows[1:]]
        == village_names(page)
        == ["横湖村", "双峰村", "上林村", "三星社区"]
    )
    assert rows[1][1] == "城北街道" and rows[1][5] == "横湖礼堂" and rows[1][6] == "已覆盖"
    xlsx = client.get(shown + "&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_town_page_links_to_its_villages(client, login, places):
    login("cmd1")
    assert "/shelters/villages?town=CB" in text(client.get("/shelters/towns/CB"))


def test_the_lists_are_in_english(client, login, places):
    login("cmd1")
    for path in ("/shelters/villages", "/shelters/towns", "/shelters/sites"):
        html = text(client.get(path + "?lang=en"))
        html = html.replace('lang="zh-CN">中文<', "")
        for phrase in ("村/社区列表", "已覆盖", "打印所选", "共 "):
            assert phrase not in html, (path, phrase)


def test_the_village_lists_covered_villages_are_the_coverage_reports(
    client, login, places, session
):
    """ "Covered" on the village list counts as the coverage report counts, town by town."""
    from decimal import Decimal

    from sqlalchemy import select

    from readiness.models import Unit
    from shelters.coverage import coverage

    login("cmd1")
    report = coverage(session, Decimal("0.6"))
    assert sum(t.covered for t in report.towns) > 0
    codes = {u.id: u.code for u in session.scalars(select(Unit))}
    for town in report.towns:
        code = codes[town.town_id]
        page = text(client.get(f"/shelters/villages?town={code}&covered=yes"))
        assert len(village_names(page)) == town.covered, code

"""The coverage page: figures, bars against the target, uncovered villages, candidates, files."""

import csv
import io
import re

import pypdfium2
import pytest
from openpyxl import load_workbook

from shelters.reports import percent, target_percent


@pytest.fixture
def sites(county, make_site):
    """CB: 3 of 4 villages covered (one with room for its people); ST: none, one suspended
    candidate. Overall 3/6 = 50%."""
    cb, st = county["cb"], county["st"]
    make_site(cb, "城北小学", ["横湖村", "双峰村"], capacity=400, is_standardized=True)
    make_site(cb, "三星社区中心", ["三星社区"], capacity=150, is_standardized=True)
    make_site(cb, "上林祠堂", ["上林村"], capacity=200)
    return make_site(
        st, "海山礼堂", ["海山村"], capacity=500, is_standardized=True, status="suspended"
    )


def tile(html: str, tile_id: str) -> str:
    match = re.search(rf'id="{tile_id}">([^<]*)<', html)
    assert match, tile_id
    return match.group(1).strip()


def test_percent_is_exact():
    assert percent(7, 12) == "58.3%"
    assert percent(1, 16) == "6.3%"  # half up, not the float's 6.2
    assert percent(0, 0) == "0.0%"
    assert percent(3, 3) == "100.0%"
    assert target_percent(__import__("decimal").Decimal("0.6")) == "60%"


def test_page_shows_figures_bars_and_uncovered_villages(login, client, sites):
    login("cmd1")
    r = client.get("/shelters/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert tile(html, "covered") == "3/6"
    assert tile(html, "coverage") == "50.0%"
    assert tile(html, "needed") == "1"  # ceil(0.6 × 6) − 3
    assert "目标 60%" in html
    # one bar per town, each with the target line at 60
    assert html.count('class="coverage-bar"') == 2
    assert html.count('x1="60.00"') == 2
    assert 'width="75.00"' in html and 'width="0.00"' in html
    assert "75.0%" in html and "(3/4)" in html and "(0/2)" in html
    uncovered = html[html.index('id="uncovered"') : html.index('id="candidates"')]
    assert "上林村" in uncovered and "桂岙村、海山村" in uncovered
    assert "横湖村" not in uncovered
    candidates = html[html.index('id="candidates"') :]
    assert "海山礼堂" in candidates and "上林祠堂" in candidates
    link = re.search(r'<a href="([^"]+)">海山礼堂</a>', candidates)
    assert link and link.group(1).endswith(f"/{sites.id}")
    for fmt in ("csv", "xlsx", "pdf"):
        assert f"format={fmt}" in html


def test_target_changes_what_is_needed(login, client, sites):
    login("cmd1")
    html = client.get("/shelters/?target=80").get_data(as_text=True)
    assert tile(html, "needed") == "2"  # ceil(4.8) − 3
    assert "目标 80%" in html and 'x1="80.00"' in html
    html = client.get("/shelters/?target=0.5").get_data(as_text=True)
    assert tile(html, "needed") == "0" and "已达标" in html
    assert 'name="target" inputmode="decimal" value="50"' in html
    # a 1% target is put back in the box as a fraction, not as "1" (which reads as 100%)
    html = client.get("/shelters/?target=0.01").get_data(as_text=True)
    assert 'value="0.01"' in html and "目标 1%" in html


@pytest.mark.parametrize("raw", ["abc", "0", "250", "-1"])
def test_bad_target_shows_a_chinese_error(login, client, sites, raw):
    login("cmd1")
    r = client.get(f"/shelters/?target={raw}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "覆盖率目标请填写百分数（如 60 或 60%），或 0 到 1 之间的小数（如 0.6）。" in html
    assert tile(html, "needed") == "1"  # shown against the default target meanwhile
    # the download is not made with a target the user did not mean
    r = client.get(f"/shelters/?target={raw}&format=csv")
    assert r.mimetype == "text/html"


def test_unit_filter_narrows_to_one_town(login, client, sites):
    login("cmd1")
    html = client.get("/shelters/?unit=ST").get_data(as_text=True)
    assert tile(html, "covered") == "0/2"
    assert html.count('class="coverage-bar"') == 1
    html = client.get("/shelters/?unit=NOPE").get_data(as_text=True)
    assert "不存在或不在您的管辖范围内" in html


def test_town_clerk_sees_only_their_town(login, client, sites):
    login("cbclerk")
    html = client.get("/shelters/").get_data(as_text=True)
    assert tile(html, "covered") == "3/4"
    assert "石塘镇" not in html
    html = client.get("/shelters/?unit=ST").get_data(as_text=True)
    assert "不存在或不在您的管辖范围内" in html and "海山村" not in html


def test_inspector_may_read_the_page(login, client, sites):
    login("insp1")
    assert client.get("/shelters/").status_code == 200


def test_downloads_from_the_page(login, client, sites):
    login("cmd1")
    r = client.get("/shelters/?format=csv&target=80")
    assert r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["CB", "ST", ""]
    assert rows[-1][1] == "合计" and rows[-1][4] == "50.0%" and rows[-1][8] == "2"

    r = client.get("/shelters/?format=xlsx&unit=CB")
    values = list(load_workbook(io.BytesIO(r.data)).active.values)
    assert [v[0] for v in values[1:]] == ["CB", None]
    assert values[1][4] == "75.0%"

    r = client.get("/shelters/?format=pdf")
    assert r.mimetype == "application/pdf"
    pdf = pypdfium2.PdfDocument(r.data)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()
    assert "避灾安置场所覆盖率统计表" in text and "桂岙村" in text and "海山礼堂" in text

"""Every page of every demo role, at a phone's 360 px and a desktop's 1366 px: the page never
scrolls sideways and no text overlaps another text or a form control.

The pages are the GET routes without arguments in the app's url_map, plus, for each route
with arguments, the first link to it found on those pages (one detail page each, from the
demo data). Downloads, JSON and the scan page's background endpoints are left out. Each
page is loaded once per role, checked at 1366 px, then resized to 360 px and checked again;
a screenshot of each width goes to tests/artifacts/layout/ (CI keeps it, git ignores it).
Every page is checked in Chinese and again in English, whose longer words break layouts
the Chinese fits; the screenshots are of the Chinese UI. A page answering 5xx fails.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from readiness import demo
from tests.browser.conftest import LiveServer
from tests.conftest import demo_app

pytestmark = pytest.mark.browser

# One account per kind of user: the five roles of Dengfeng, and Wenling's command and town
# clerk, whose pages hold the shelters and the towns.
ROLES = ("admin", "command", "inspector", "keeper", "clerk", "wenling", "shitang")
# Chinese first; English words are longer and break a layout that Chinese fits.
LANGUAGES = ("zh", "en")
WIDTHS = (1366, 360)
HEIGHT = 800
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "layout"

# Files and machine answers, not pages: by path ending, and by endpoint.
NOT_PAGES = re.compile(r"\.(pdf|csv|json|js|webmanifest|xlsx|zip|zpl|tspl)$")
SKIPPED_ENDPOINTS = {
    "static",
    "auth.login",  # a signed-in user is sent home; the test signs in through it
    "drill_attachments.download",
    "shelters.document_download",
    "funding.decision_minutes",
    "maintenance.photo",
    "labels.scan_lookup",
}

# Runs in the page: what scrolls sideways, and which visible texts overlap another text or
# a form control, nor squeezes one short word (a menu entry, a lot number) over several
# lines. A text's box is the union of its own text lines (Range rects), not its
# element's box, so a wide block does not "overlap" what sits beside its words. Boxes in the
# same ancestor chain (a label around its input, a link inside a cell) never count, nor
# anything inside an absolutely or fixed positioned element (decoration, hidden toggles).
CHECK_JS = r"""
() => {
  const problems = [];
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth) {
    problems.push(`scrolls sideways: ${root.scrollWidth}px content in ${window.innerWidth}px`);
  }
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
    const id = el.id ? "#" + el.id : "";
    const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
    return `${el.tagName.toLowerCase()}${id}${cls} "${text.slice(0, 30)}"`;
  };
  // a box of the page that scrolls sideways hides what is off its edge just as well
  document.querySelectorAll("body *").forEach((el) => {
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === "auto" || overflow === "scroll") && el.scrollWidth > el.clientWidth + 1
        && el.checkVisibility()) {
      problems.push(`${describe(el)} scrolls sideways: ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  });
  // not shown (display, visibility, opacity, a closed <details>), or decoration
  const hidden = (el) => {
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return true;
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const position = getComputedStyle(e).position;
      if (position === "absolute" || position === "fixed") return true;
    }
    return false;
  };
  const boxes = [];
  const textParents = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeValue.trim() && node.parentElement) textParents.add(node.parentElement);
  }
  for (const el of textParents) {
    if (["SCRIPT", "STYLE", "NOSCRIPT", "OPTION", "TEXTAREA"].includes(el.tagName)) continue;
    if (hidden(el)) continue;
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.nodeValue.trim()) continue;
      // the text itself, without the spaces around it (a space may end the line before)
      const text = node.nodeValue;
      const range = document.createRange();
      range.setStart(node, text.length - text.trimStart().length);
      range.setEnd(node, text.trimEnd().length);
      const rects = [...range.getClientRects()].filter((r) => r.width > 1 && r.height > 1);
      rects.forEach((r) => boxes.push({ el, r }));
      // one short word standing alone (a menu entry, a name, a code, a lot number) squeezed
      // over several lines; a sentence's words around a link may wrap as Chinese does
      const word = text.trim();
      const short = word.length <= 8 || (word.length <= 24 && /^[\x21-\x7e]+$/.test(word));
      const alone = el.textContent.trim() === word;
      if (short && alone && !/\s/.test(word) && new Set(rects.map((r) => r.top)).size > 1) {
        problems.push(`${describe(el)} broken over ${rects.length} lines`);
      }
    }
  }
  document.querySelectorAll("input, select, textarea, button").forEach((el) => {
    if (el.type === "hidden" || hidden(el)) return;
    const r = el.getBoundingClientRect();
    if (r.width > 1 && r.height > 1) boxes.push({ el, r });
  });
  boxes.sort((a, b) => a.r.top - b.r.top);
  const seen = new Set();
  const SLACK = 2;  // glyphs' line boxes may touch by a pixel or two
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].r.top < a.r.bottom - SLACK; j++) {
      const b = boxes[j];
      if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w <= SLACK || h <= SLACK) continue;
      const key = describe(a.el) + " overlaps " + describe(b.el);
      if (!seen.has(key)) { seen.add(key); problems.push(key); }
      if (seen.size > 5) return problems;
    }
  }
  return problems;
}
"""

# every link's address, the SVG charts' links (whose .href is no string) included
LINKS_JS = "els => els.map(e => new URL(e.getAttribute('href'), document.baseURI).href)"


@pytest.fixture(scope="module")
def demo_server(database_template, tmp_path_factory):
    """The app on one database holding the demo data, served for the whole module."""
    with demo_app(database_template, tmp_path_factory.mktemp("layout")) as app:
        server = LiveServer(app)
        server.start()
        yield app, server.url
        server.stop()


def plain_pages(app) -> list[str]:
    """The GET pages that take no argument."""
    paths = set()
    for rule in app.url_map.iter_rules():
        if (
            "GET" in rule.methods
            and not rule.arguments
            and rule.endpoint not in SKIPPED_ENDPOINTS
            and not rule.rule.startswith("/api/")
            and not NOT_PAGES.search(rule.rule)
        ):
            paths.add(rule.rule)
    return sorted(paths)


def detail_page(app, href: str, base: str, found: dict[str, str]) -> None:
    """Note ``href`` as the page of its route if it is the first link to a route with
    arguments (an id or a code from the demo data)."""
    parts = urlsplit(href)
    if parts.netloc and f"{parts.scheme}://{parts.netloc}" != base:
        return
    if not parts.path or NOT_PAGES.search(parts.path) or "format=" in parts.query:
        return
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, args = adapter.match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return
    if args and endpoint not in SKIPPED_ENDPOINTS and endpoint not in found:
        found[endpoint] = parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#password", demo.DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def check(page, shot_name: str | None, path: str) -> list[str]:
    """Each width's problems on the loaded page, and its screenshots (unless no name)."""
    problems = []
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", path.strip("/")) or "home"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        found = page.evaluate(CHECK_JS)
        problems += [f"{path} at {width}px: {problem}" for problem in found]
        if shot_name:
            # JPEG: a long page's PNG takes longer to encode than the page takes to load
            shot = ARTIFACTS / f"{shot_name}-{name}-{width}.jpg"
            page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=70)
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_or_overlaps_at_phone_and_desktop_width(
    browser, demo_server, role, language
):
    app, url = demo_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": WIDTHS[0], "height": HEIGHT},
        locale="zh-CN" if language == "zh" else "en-GB",
    )
    page = context.new_page()
    started = time.monotonic()
    problems: list[str] = []
    visited: list[str] = []
    details: dict[str, str] = {}

    def visit(path: str) -> None:
        response = page.goto(url + path)
        if response is not None and response.status >= 500:
            problems.append(f"{path}: HTTP {response.status}")
        if response is None or response.status != 200:
            return  # refused to this role: the route table's business
        if "text/html" not in (response.headers.get("content-type") or ""):
            return
        visited.append(path)
        # screenshots of the Chinese UI only: a third of the test's time goes to them
        problems.extend(check(page, role if language == "zh" else None, path))
        for href in page.eval_on_selector_all("a[href]", LINKS_JS):
            detail_page(app, href, url, details)

    try:
        sign_in(page, url, role)
        page.goto(f"{url}/?lang={language}")  # kept for the session
        assert page.locator("html").get_attribute("lang").startswith(language)
        for path in plain_pages(app):
            visit(path)
        for path in sorted(set(details.values())):
            visit(path)
    finally:
        context.close()
    print(f"{role} ({language}): {len(visited)} pages in {time.monotonic() - started:.1f} s")
    assert len(visited) > 10, visited
    assert not problems, "\n".join(problems)


GOOD = """<main style="width: 300px"><h1>库存</h1><p>应急物资中心仓库 <a href="#">明细</a></p>
<label>数量 <input name="qty"></label><details><summary>更多</summary><p>藏起来的字</p></details>
<span style="position: absolute; top: 0; left: 0">◆</span></main>"""
WIDE = """<main><table><tr><td style="white-space: nowrap">LJ-2027-06-000000000000000000000000000000
000000000000000000000000000000000000000000000000000000000000000000</td></tr></table></main>"""
OVERLAP = (
    """<main><p style="margin: 0">救生衣</p><p style="margin: -1.2em 0 0 0">警戒带</p></main>"""
)
COVERED = (
    """<main><p style="margin: 0">批次 LJ-2027-06</p><input style="margin-top: -1.2em"></main>"""
)
SQUEEZED = """<nav style="display: flex; width: 60px"><a href="#">首页</a><a href="#">库存</a>
<a href="#">LJ-2027-06</a></nav>"""
HIDDEN_AWAY = """<div style="overflow-x: auto; width: 200px"><table><tr>
<td style="white-space: nowrap">物资 批次 有效期至 账面数量 已预留 明细 物资 批次 有效期至</td>
</tr></table></div>"""


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (GOOD, None),
        (WIDE, "scrolls sideways: "),
        (OVERLAP, 'p "救生衣" overlaps p "警戒带"'),
        (COVERED, 'p "批次 LJ-2027-06" overlaps input'),
        (SQUEEZED, 'a "库存" broken over 2 lines'),
        (HIDDEN_AWAY, 'div "'),
    ],
    ids=["good", "wide", "overlap", "covered", "squeezed", "hidden-away"],
)
def test_the_check_fails_on_a_real_overlap_or_sideways_scroll_and_passes_a_good_page(
    browser, html, expected
):
    context = browser.new_context(viewport={"width": 360, "height": HEIGHT})
    page = context.new_page()
    try:
        page.set_content(html)
        problems = page.evaluate(CHECK_JS)
    finally:
        context.close()
    if expected is None:
        assert problems == []
    else:
        assert any(p.startswith(expected) for p in problems), problems


def test_a_units_stock_table_is_a_list_of_labelled_cards_on_a_phone(browser, demo_server):
    """/stock/DF-WH on a 360 px phone: each row a card whose cells name their column, lot
    numbers on one line, and 账面数量 and 明细 on screen, not off to the right."""
    _, url = demo_server
    context = browser.new_context(viewport={"width": 360, "height": HEIGHT}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, url, "keeper")
        page.goto(url + "/stock/DF-WH")
        table = page.locator("main table").first
        assert "cards" in table.get_attribute("class")
        row = table.locator("tbody tr").filter(has_text="SB-2024-A").first
        assert row.evaluate("r => getComputedStyle(r).display") == "block"
        labels = row.locator("td").evaluate_all("tds => tds.map(td => td.dataset.label || '')")
        assert labels == ["物资", "类别", "批次", "有效期至", "账面数量", "已预留", ""]
        lot = row.locator("td").nth(2)
        assert lot.evaluate("td => td.getClientRects().length") == 1
        line_height = lot.evaluate("td => parseFloat(getComputedStyle(td).lineHeight)")
        assert lot.bounding_box()["height"] < 2 * line_height  # the lot on one line
        for cell in (row.locator("td").nth(4), row.get_by_role("link", name="明细")):
            box = cell.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        page.set_viewport_size({"width": 1366, "height": HEIGHT})
        assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
    finally:
        context.close()


def test_a_sortable_list_keeps_its_sort_links_above_the_cards_on_a_phone(browser, demo_server):
    """/units on a phone: the column headings stay as sort links, and a card's labels carry
    the heading's words without the sort arrow."""
    _, url = demo_server
    context = browser.new_context(viewport={"width": 360, "height": HEIGHT}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, url, "command")
        page.goto(url + "/units?sort=code")
        sort_links = page.locator("main thead a.sort")
        assert sort_links.count() >= 3
        for i in range(sort_links.count()):
            assert sort_links.nth(i).is_visible()
        first_cell = page.locator("main tbody tr").first.locator("td").first
        assert first_cell.get_attribute("data-label") == "单位名称"
        assert page.locator("main thead th[aria-sort] a.sort").is_visible()
    finally:
        context.close()


def test_the_phones_open_menu_holds_the_search_box_and_nothing_overlaps(browser, demo_server):
    """On a phone the header's search box opens with the menu; at 1366 px it sits in the
    header's first row."""
    _, url = demo_server
    context = browser.new_context(viewport={"width": 360, "height": HEIGHT}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, url, "keeper")
        assert not page.locator("#header-q").is_visible()
        page.click("label[for=nav-toggle]")
        assert page.locator("#header-q").is_visible()
        assert page.evaluate(CHECK_JS) == []
        page.fill("#header-q", "救生衣")
        page.press("#header-q", "Enter")
        page.wait_for_url("**/search?q=*")
        assert page.locator("main").get_by_text("救生衣").first.is_visible()
        assert page.evaluate(CHECK_JS) == []
        page.set_viewport_size({"width": 1366, "height": HEIGHT})
        assert page.locator("#header-q").is_visible()
        assert page.evaluate(CHECK_JS) == []
    finally:
        context.close()

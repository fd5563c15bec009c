"""Chinese first, English complete: no UI string is left untranslated."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import post_form
from tests.test_route_permissions import EXPECTED

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _extracted_ids() -> set[str]:
    method_map = [
        ("readiness/**.py", "python"),
        ("rectification/**.py", "python"),
        ("inventory/**.py", "python"),
        ("labels/**.py", "python"),
        ("drills/**.py", "python"),
        ("shelters/**.py", "python"),
        ("overview/**.py", "python"),
        ("funding/**.py", "python"),
        ("templates/**.html", "jinja2"),
    ]
    keywords = {
        "_": None,
        "gettext": None,
        "_l": None,
        "lazy_gettext": None,
        "ngettext": (1, 2),
        "pgettext": ((1, "c"), 2),
    }
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_ui_string_has_an_english_translation():
    with open(ROOT / "readiness/translations/en/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(_extracted_ids() - set(translated))
    assert missing == [], "run `make messages` and translate these"
    for msgid, msgstr in translated.items():
        assert not CJK.search(msgstr), msgid
        assert sorted(re.findall(r"\{(\w*)\}", msgid)) == sorted(re.findall(r"\{(\w*)\}", msgstr))
        # A template's _() always formats with %: a lone % the Chinese has not ("Variance
        # above (%)") raised a ValueError on the English page.
        assert _formats(msgid) == _formats(msgstr), msgid


def _formats(text: str) -> bool:
    """Whether a template's _() can format the text (it does ``text % {}``)."""
    try:
        text % {}
    except (TypeError, ValueError):
        return False
    return True


def _get_pages(app) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        is_page = not rule.rule.startswith(("/api/", "/static"))
        if is_page and (rule.endpoint, "GET") in EXPECTED:
            pages.append(rule.rule)
    return pages


def test_every_page_in_english_shows_no_chinese(app, make_unit, make_user, login):
    """With ASCII-only data, an English page has no Chinese left but the language switch."""
    bureau = make_unit("HQ", name="Headquarters", kind="bureau")
    make_unit("ST1", name="Station One", parent=bureau)
    make_user("root", "admin", bureau, name="Root")
    client = login("root")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    for path in _get_pages(app):
        url = path.replace("<code>", "ST1").replace("<int:user_id>", "1")
        response = client.get(url)
        if response.status_code == 302:
            continue
        html = response.get_data(as_text=True)
        if response.mimetype == "text/html":
            html = html.replace('lang="zh-CN">中文<', "")
        leftover = CJK.findall(html)
        assert not leftover, f"{url}: {''.join(leftover)[:80]}"


def test_chinese_is_the_default_and_english_is_selectable_with_lang(client):
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Sign in" in english
    # The choice sticks for this browser.
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)

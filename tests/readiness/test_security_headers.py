"""Every response carries the security headers; no template runs inline script.

The walk visits every GET route of the permission table (pages, downloads, API answers) as
an administrator and as command staff, whatever each answers (page, download, 403, 404).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from readiness.extensions import db
from readiness.models import User
from tests import test_route_permissions as routes
from tests.conftest import PASSWORD, post_form
from tests.test_route_permissions import EXPECTED, served_routes, url_for_role

# One account per role and records in each role's reach, as the permission test builds them.
world = routes.world

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

CSP_DIRECTIVES = {
    "default-src": "'self'",
    # WebAssembly may be compiled (the scan page's QR decoder); JavaScript is never eval'd.
    "script-src": "'self' 'wasm-unsafe-eval'",
    "worker-src": "'self'",
    "connect-src": "'self'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob: mediastream:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# A script element without src runs inline, unless it is a JSON data block (never executed:
# the scan page's translated strings).
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE
)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript:", re.IGNORECASE)


def assert_secure_headers(response, what: str) -> None:
    headers = response.headers
    policy = dict(
        part.strip().split(" ", 1) for part in headers.get("Content-Security-Policy", "").split(";")
    )
    for directive, value in CSP_DIRECTIVES.items():
        assert policy.get(directive) == value, (what, directive, policy)
    tokens = policy["script-src"].split()
    assert "'unsafe-eval'" not in tokens and "'unsafe-inline'" not in tokens, what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") == "same-origin", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    # BASE_URL is http in the tests: HSTS would pin a browser to https the server lacks.
    assert "Strict-Transport-Security" not in headers, what


@pytest.mark.parametrize("role", ["admin", "command"])
def test_every_get_route_answers_with_the_security_headers(app, world, make_token, role):
    """Pages, downloads and API answers, allowed or refused, all carry the headers."""
    client = app.test_client()
    post_form(client, "/login", {"username": f"r-{role}", "password": PASSWORD})
    user = db.session.scalar(select(User).where(User.username == f"r-{role}"))
    bearer = {"Authorization": f"Bearer {make_token(user)}"}
    walked = 0
    for (endpoint, method), path in sorted(served_routes(app).items()):
        if method != "GET":
            continue
        assert (endpoint, method) in EXPECTED
        url = url_for_role(path, role, world)
        headers = bearer if path.startswith("/api/") else {}
        response = client.get(url, headers=headers)
        assert response.status_code < 500, (url, response.get_data(as_text=True)[:300])
        assert_secure_headers(response, f"{role} GET {url} ({response.status_code})")
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert not INLINE_SCRIPT.search(html), url
            assert not EVENT_HANDLER.search(html), url
        walked += 1
    assert walked > 50


def test_api_download_static_and_error_answers_carry_the_headers(app, world, make_token):
    """An API answer and refusal, a CSV download, static files, a 404 and a 405."""
    client = app.test_client()
    user = db.session.scalar(select(User).where(User.username == "r-command"))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {make_token(user)}"})
    assert me.status_code == 200 and me.is_json
    assert_secure_headers(me, "api answer")
    anonymous = client.get("/api/v1/me")
    assert anonymous.status_code == 401
    assert_secure_headers(anonymous, "api refusal")

    post_form(client, "/login", {"username": "r-command", "password": PASSWORD})
    download = client.get(served_routes(app)[("audit.export_csv", "GET")])
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert_secure_headers(download, "download")

    for name in ("app.css", "app.js", "favicon.svg"):
        static = client.get(f"/static/{name}")
        assert static.status_code == 200, name
        assert_secure_headers(static, name)
        static.close()

    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert_secure_headers(missing, "404")
    wrong_method = client.put("/login")
    assert wrong_method.status_code == 405
    assert_secure_headers(wrong_method, "405")


def test_a_server_error_page_carries_the_headers(client, monkeypatch):
    def boom(_next):
        raise RuntimeError("boom")

    # A fault inside a page's code: the error page is served with the headers too.
    monkeypatch.setattr("readiness.views.safe_next", boom)
    response = client.get("/login")
    assert response.status_code == 500
    assert_secure_headers(response, "500")


@pytest.mark.parametrize("app_config", [{"BASE_URL": "https://readiness.example.org"}])
def test_hsts_only_when_served_over_https(client):
    """With an https BASE_URL the browser is told to use https for a year."""
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_template_holds_inline_script_or_event_handler():
    """Behaviour lives in static/*.js, wired by data- attributes; the policy blocks inline JS."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates
    for path in templates:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(TEMPLATES)
        assert not INLINE_SCRIPT.search(text), f"{name}: inline <script>"
        assert not EVENT_HANDLER.search(text), f"{name}: inline event handler"
        assert not JS_URL.search(text), f"{name}: javascript: URL"

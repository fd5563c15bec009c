"""Security headers on every response: pages, API answers, downloads, static files, errors."""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script anywhere: behaviour lives in static/app.js, wired by data- attributes.
# Inline style attributes stay allowed: coverage bars and tree indents set a computed width
# or padding per row, which has no static-file equivalent short of a script.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # The scan page's QR decoder is WebAssembly (compiled, never eval'd from text).
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        "connect-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        # The camera's picture on the scan page.
        "media-src 'self' blob: mediastream:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def security_headers(base_url: str) -> dict[str, str]:
    """The headers every response carries; HSTS only when the app is served over https."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if base_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def init_app(app: Flask) -> None:
    # Behind N trusted reverse proxies the client address is the Nth from the right in
    # X-Forwarded-For; the sign-in throttle counts by it. Without proxies the header is
    # ignored: anyone could write it.
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
    headers = security_headers(app.config["BASE_URL"])

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

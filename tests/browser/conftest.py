"""A live server for the app and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    # Conftest hooks see every collected item, not only this directory's.
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: shutdown() waits for the loop to notice (0.5 s by default).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-test-deps (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def csp_violations(browser, monkeypatch):
    """Content-Security-Policy violations Chromium reports on the console of any page of the test.

    Every browser context a test opens is watched, the ``page`` fixtures' and those a test
    opens itself for a second user.
    """
    violations: list[str] = []
    new_context = browser.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)

        def on_console(message):
            if "Content Security Policy" in message.text:
                violations.append(f"{message.page.url if message.page else ''}: {message.text}")

        context.on("console", on_console)
        return context

    monkeypatch.setattr(browser, "new_context", watched_context)
    return violations


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Checked in the test's own phase, so a violation fails the journey that met it.
    result = yield
    violations = item.funcargs.get("csp_violations")
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))
    return result


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="zh-CN",
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(artifacts_dir, request):
    """Save the page as tests/artifacts/<test name>.png for review."""

    def shoot(page, suffix: str = ""):
        name = request.node.name.replace("/", "_") + (f"-{suffix}" if suffix else "")
        page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)

    return shoot


# ---------------------------------------------------------------- a phone with a fake camera

FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}


@pytest.fixture
def camera_phone(browser, csp_violations):
    """A factory: ``camera_phone(clip)`` opens a phone page in a Chromium of its own whose camera
    plays the Y4M clip (written before the launch: Chromium reads it when it starts). The
    browser is closed after the test; its pages are watched for CSP violations like the rest."""
    launched = []

    def open_phone(clip: Path):
        if not Path(clip).is_file():
            raise FileNotFoundError(clip)
        camera_browser = browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, *FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={clip}"],
        )
        launched.append(camera_browser)
        context = camera_browser.new_context(**PHONE)

        def on_console(message):
            if "Content Security Policy" in message.text:
                csp_violations.append(f"{message.page.url if message.page else ''}: {message.text}")

        context.on("console", on_console)
        return context.new_page()

    yield open_phone
    for camera_browser in launched:
        camera_browser.close()

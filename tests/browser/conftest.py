"""Real headless Chromium (Debian's ``chromium``) driven by Playwright against the app
served on a loopback port. Skips with a reason where Chromium is not installed."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _chromium_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    return None


@pytest.fixture(autouse=True)
def _release_sqlite_lock(session):
    """Outside a request, SQLite transactions begin IMMEDIATE (they take the write lock).
    The test's own session must not reopen one by reloading expired objects while the
    server thread writes, so committed objects stay loaded here."""
    session().expire_on_commit = False


@pytest.fixture
def live_server(app):
    """The test app served by werkzeug on 127.0.0.1 (a free port) in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The demo (``flask demo``) served once for the run: see tests/browser/demo_site.py."""
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)
    from tests.browser.demo_site import DemoSite

    site = DemoSite(tmp_path_factory.mktemp("demo"))
    yield site
    site.close()


@pytest.fixture
def phone(browser):
    """A page the size of a 360 px phone, in Chinese."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

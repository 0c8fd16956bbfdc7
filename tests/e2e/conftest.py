"""A live server of the test app and Debian's chromium driven by Playwright.

Every page a test opens is watched: a JavaScript error, an unhandled exception or a
Content-Security-Policy refusal in the browser fails the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import _test_app
from tests.e2e.support import BrowserErrors

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _closed_before_sending(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app`` with each response's body read whole and its iterable closed before
    werkzeug's development server sends it.

    When the browser drops a connection (a navigation cancels a script still loading),
    the server's clean-up can raise before it closes the response (werkzeug 3.1,
    ``run_wsgi``), and a static file left open then fails the test as an unraisable
    ``ResourceWarning``.  The product's servers (gunicorn) are not involved."""

    def served(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    return served


@pytest.fixture
def live_server(app, database_url: str) -> Iterator[str]:
    """Serve a second app on the test database from a thread; yield its base URL."""
    served = _test_app(database_url)
    server = make_server("127.0.0.1", 0, _closed_before_sending(served), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with served.app_context():
            from elicit.extensions import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless.  Missing chromium skips (and CI fails on skips)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_errors() -> Iterator[BrowserErrors]:
    """Collects the JavaScript errors of every page a test opens; any fails the test."""
    errors = BrowserErrors()
    yield errors
    errors.check()


@pytest.fixture
def new_page(browser, browser_errors: BrowserErrors):
    """Open a watched page in a fresh browser context (own cookies: another device)."""
    contexts = []

    def open_page(**context_options):
        context = browser.new_context(**context_options)
        # What the tests wait for is behaviour, not speed (timing targets live in
        # benchmarks/): CI runs three suites on two cores, and a page's first rendering
        # (the report draws every plot, cold) has taken 10 s there.
        context.set_default_timeout(20_000)
        context.set_default_navigation_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        browser_errors.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A fresh, watched browser page (own cookies) per test."""
    return new_page()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where a test writes screenshots; see :func:`tests.e2e.support.save_screenshot`."""
    directory = tmp_path / "artifacts"
    directory.mkdir()
    return directory

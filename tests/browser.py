"""A real browser for the tests: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches the system Chromium
(``CODEQR_CHROMIUM``, ``/usr/bin/chromium`` by default; ``.ci/run`` installs it). Every
hostname resolves to 127.0.0.1, so pages can be served as ``www.shop.test`` and get real
cookie domains. A test module uses the session-wide ``browser`` fixture by importing it::

    from tests.browser import browser_fixture  # noqa: F401  (the "browser" fixture)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = os.environ.get("CODEQR_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--host-resolver-rules=MAP * 127.0.0.1",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
]
# Headless Chromium says "HeadlessChrome", which the click capture rightly takes for a bot.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """One headless Chromium per test module (Playwright's sync API keeps an event loop
    running while it is open, which would stop `asyncio.run` in later modules)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium "
            "(apt-get install chromium) or set CODEQR_CHROMIUM; .ci/run does it.",
            pytrace=False,
        )
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class ConsoleErrors:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"uncaught: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"{message.text} ({message.location.get('url', '')})")


class PageServer:
    """A tiny web site in a thread: serves ``pages[path]`` as HTML for any host name."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                html = pages.get(self.path.split("?", 1)[0])
                body = (html or "not found").encode()
                self.send_response(200 if html is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, host: str, path: str) -> str:
        """The address of ``path`` as served under ``host``."""
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

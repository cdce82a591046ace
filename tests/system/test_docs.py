"""``/api/docs``: Swagger UI from the app's own static files, under a policy that says so."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Request

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

VENDORED = Path(__file__).resolve().parents[2] / "src/codeqr/dashboard/static/vendor/swagger-ui"


def test_the_page_loads_nothing_from_elsewhere(server: LiveServer) -> None:
    response = server.client().get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls
    for url in urls:
        assert url.startswith(("/static/", "data:")), url
    assert "url: '/api/openapi.json'" in html
    policy = response.headers["content-security-policy"]
    assert "http" not in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    # The one inline script (Swagger UI's start-up) is allowed by its hash, nothing else.
    [inline] = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'", f"'sha256-{digest}'"]


def test_the_vendored_files_are_served(server: LiveServer) -> None:
    client = server.client()
    html = client.get("/api/docs").text
    for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        [url] = [u for u in re.findall(r'(?:src|href)="([^"]*)"', html) if name in u]
        served = client.get(url)
        assert served.status_code == 200, url
        assert kind in served.headers["content-type"]
        assert served.content == (VENDORED / name).read_bytes()
    for notice in ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"):
        assert (VENDORED / notice).stat().st_size > 0


def test_swagger_ui_renders_under_its_policy(server: LiveServer, browser: Browser) -> None:
    context = browser.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    errors = ConsoleErrors(page)
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme != "data" and f"{parts.scheme}://{parts.netloc}" != server.base:
            elsewhere.append(request.url)

    page.on("request", note)
    page.goto(server.base + "/api/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    assert "CodeQR API" in page.locator(".info .title").inner_text()
    assert elsewhere == []
    assert errors.messages == []
    context.close()

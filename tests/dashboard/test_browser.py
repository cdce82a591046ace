"""The dashboard in a real browser (Debian's Chromium via Playwright): sign in, create a
link, scan its QR, follow it, watch the click arrive live, see the charts drawn; and a
screenshot of every page at desktop and phone widths in ``test-artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from codeqr.sdk.webhooks import verify
from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    PageServer,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer
from tests.webhook.conftest import Receiver

from .helpers import Account, make_account, seed
from .pages import PAGES, ids, open_page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOP = "www.shop.test"


@pytest.fixture
def shop() -> Iterator[PageServer]:
    with PageServer() as web:
        web.pages["/landing"] = (
            '<!doctype html><link rel="icon" href="data:,"><title>Shop</title>'
            "<h1>Welcome to the shop</h1>"
        )
        yield web


def _context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(user_agent=DESKTOP_UA, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context


def _sign_in(page: Page, server: LiveServer, account: Account) -> None:
    page.goto(server.base + "/")
    expect(page).to_have_url(server.base + "/login")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.base}/dashboard/{account.slug}/links")


def _charts(page: Page) -> dict[str, Any]:
    """What Chart.js holds for each canvas, and how many of its pixels are painted."""
    result: dict[str, Any] = page.evaluate(
        """() => {
          const out = {};
          for (const id of ["timeseries-chart", "funnel-chart"]) {
            const canvas = document.getElementById(id);
            const chart = window.Chart.getChart(canvas);
            const ctx = canvas.getContext("2d");
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
            out[id] = {
              sums: chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0)),
              points: chart.data.labels.length,
              painted,
            };
          }
          return out;
        }"""
    )
    return result


def test_sign_in_create_a_link_follow_it_and_see_it_everywhere(
    server: LiveServer, browser: Browser, shop: PageServer
) -> None:
    account = make_account(server)
    context = _context(browser, DESKTOP)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    expect(page.get_by_text("No links yet — create your first")).to_be_visible()

    page.click("text=Create your first link")
    page.fill("#f-url", shop.url(SHOP, "/landing"))
    page.fill("#f-key", "summer")
    page.click("button:has-text('Create link')")
    expect(page.locator(".notice")).to_have_text("Link created.")
    qr = page.locator("#qr-preview")
    expect(qr).to_be_visible()
    expect(qr).to_have_js_property("naturalWidth", 400)  # the PNG loaded and decoded
    short = page.locator("#short-link").get_attribute("href")
    assert short == f"{server.base}/summer"

    page.click("nav >> text=Live events")
    expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    visitor = context.new_page()
    visitor_errors = ConsoleErrors(visitor)
    visitor.goto(short)
    expect(visitor.locator("h1")).to_have_text("Welcome to the shop")
    event = page.locator("#feed .event-click").first
    expect(event).to_be_visible()
    expect(event).to_contain_text("/summer")
    expect(page.locator("#feed-empty")).to_be_hidden()

    page.click("nav >> text=Analytics")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    charts = _charts(page)
    assert charts["timeseries-chart"]["sums"][0] == 1  # the click, drawn
    assert charts["funnel-chart"]["sums"] == [1]
    for drawn in charts.values():
        assert drawn["points"] > 0
        assert drawn["painted"] > 500, charts
    expect(page.locator('[data-kpi="clicks"]')).to_have_text("1")
    expect(page.locator('[data-breakdown="top_links"] .bar-label')).to_have_text(
        f"127.0.0.1:{server.port}/summer"
    )
    # A breakdown row is a filter: the page reloads narrowed to it.
    page.locator('[data-breakdown="devices"] a.bar').first.click()
    expect(page.locator(".chip")).to_contain_text("Desktop")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    assert errors.messages == []
    assert visitor_errors.messages == []
    context.close()


def test_the_funnel_and_revenue_are_drawn_with_conversions(
    server: LiveServer, browser: Browser
) -> None:
    account = make_account(server)
    seed(server, account)
    context = _context(browser, DESKTOP)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/analytics?interval=24h")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    charts = _charts(page)
    assert charts["funnel-chart"]["sums"] == [5]  # 3 clicks + 1 lead + 1 sale
    assert charts["timeseries-chart"]["sums"] == [3]  # clicks first
    sums = []
    for tab in ("leads", "sales", "saleAmount"):
        page.click(f"#tab-{tab}")
        expect(page.locator("#timeseries-chart")).to_have_attribute("data-metric", tab)
        sums.append(_charts(page)["timeseries-chart"]["sums"])
    assert sums == [[1], [1], [49]]  # revenue drawn in dollars
    expect(page.locator('[data-kpi="saleAmount"]')).to_have_text("$49.00")
    expect(page.locator("#funnel-table tbody tr")).to_have_count(3)
    expect(page.locator("#funnel-table tbody tr").nth(1)).to_contain_text("33.3%")
    assert errors.messages == []
    context.close()


def test_a_range_the_plan_does_not_reach_says_so(server: LiveServer, browser: Browser) -> None:
    account = make_account(server, plan="free")
    context = _context(browser, DESKTOP)
    page = context.new_page()
    ConsoleErrors(page)  # the 403 of the data request is expected here
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/analytics?interval=1y")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "error")
    expect(page.locator("#analytics-error")).to_contain_text("requires a Pro plan")
    context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_every_page(
    server: LiveServer, browser: Browser, name: str, viewport: dict[str, int]
) -> None:
    account = make_account(server)
    named = ids(server, seed(server, account))
    context = _context(browser, viewport)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, path in PAGES:
        url = f"{server.base}/dashboard/{account.slug}" + path.format(**named)
        open_page(page, url, label)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= viewport["width"], f"{label} scrolls sideways at {name} width"
        page.screenshot(path=str(SCREENSHOTS / f"{label}-{name}.png"), full_page=True)
    if name == "phone":
        nav = page.locator("#sidebar")
        expect(nav).to_be_hidden()
        page.click(".menu-toggle")
        expect(nav).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "menu-phone.png"))
        page.click("#sidebar >> text=Links")
        expect(page.locator("h1")).to_have_text("Links")
    assert errors.messages == []
    context.close()


def test_a_webhook_from_creation_to_a_redelivered_test_event(
    hooked: LiveServer, browser: Browser, receiver: Receiver
) -> None:
    account = make_account(hooked)
    context = _context(browser, DESKTOP)
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of rotation
    _sign_in(page, hooked, account)
    page.click("nav >> text=Webhooks")
    expect(page.get_by_text("No webhook yet")).to_be_visible()
    page.fill("#f-name", "CRM")
    page.fill("#f-url", receiver.url)
    page.check("input[name=triggers][value='lead.created']")
    page.check("input[name=triggers][value='commission.created']")
    page.click("button:has-text('Add webhook')")
    expect(page.locator(".notice")).to_contain_text("Webhook created")
    secret = page.locator("#secret-token").inner_text()
    assert secret.startswith("whsec_")
    expect(page.locator("#webhook-state")).to_contain_text("Enabled")

    page.select_option("#f-trigger", "commission.created")
    page.click("#send-test")
    expect(page.locator(".notice")).to_contain_text("Test event queued")
    expect(page.locator("#secret-token")).to_have_count(0)  # shown once only
    receiver.wait(lambda: len(receiver.got) == 1)
    envelope = receiver.got[0].json()
    assert envelope["event"] == "commission.created"
    assert envelope["test"] is True
    assert verify(secret, receiver.got[0].body, receiver.got[0].headers)
    row = page.locator(f"tr[data-event-id='{envelope['id']}']")
    for _ in range(50):  # the worker writes the attempt just after the receiver answers
        if row.count():
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(row).to_contain_text("200")
    expect(row).to_contain_text("test")

    row.locator("button:has-text('Redeliver')").click()
    expect(page.locator(".notice")).to_contain_text("Event queued again")
    receiver.wait(lambda: len(receiver.got) == 2)
    assert receiver.got[1].body == receiver.got[0].body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "webhook-desktop.png"), full_page=True)

    page.click("#rotate")
    expect(page.locator(".notice")).to_contain_text("New signing secret")
    rotated = page.locator("#secret-token").inner_text()
    assert rotated.startswith("whsec_")
    assert rotated != secret
    page.click("a:has-text('Webhooks') >> nth=0")
    expect(page.locator("tr[data-webhook-id]")).to_contain_text("CRM")
    assert errors.messages == []
    context.close()

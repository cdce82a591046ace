"""A new user's first ten minutes, in headless Chromium (issue 18, "Must demonstrate" 1):
sign in, create a link, download its QR code (decoded by zxing-cpp: it encodes the short
link), tap the link on a phone, watch the click arrive on the live page without a reload
and in the analytics, track a lead and a sale with a secret key made in Settings, see the
funnel and the revenue move, then add a custom domain and follow a link made on it.

Each step is saved as ``test-artifacts/screenshots/first-ten-minutes-NN-<step>.png``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    PageServer,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer
from tests.qr.conftest import decode

from .helpers import VISITORS, make_account
from .test_browser import SCREENSHOTS, _sign_in

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
IPHONE_UA = VISITORS[1]
SHOP = "www.shop.test"
DOMAIN = "go.first.example"


class Steps:
    """Numbered screenshots of the walk."""

    def __init__(self) -> None:
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, page: Page, name: str) -> None:
        self.count += 1
        path = SCREENSHOTS / f"first-ten-minutes-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)


@pytest.fixture
def shop() -> Iterator[PageServer]:
    with PageServer() as web:
        web.pages["/landing"] = (
            '<!doctype html><link rel="icon" href="data:,"><title>Shop</title>'
            "<h1>Welcome to the shop</h1>"
        )
        yield web


def _analytics(page: Page, server: LiveServer, slug: str, clicks: str) -> None:
    """The analytics page once it counts ``clicks`` (clicks are written in batches)."""
    url = f"{server.base}/dashboard/{slug}/analytics?interval=24h"
    for _ in range(50):
        page.goto(url)
        expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
        if page.locator('[data-kpi="clicks"]').inner_text() == clicks:
            return
        page.wait_for_timeout(200)
    expect(page.locator('[data-kpi="clicks"]')).to_have_text(clicks)


def test_a_new_users_first_ten_minutes(
    server: LiveServer, browser: Browser, shop: PageServer
) -> None:
    account = make_account(server)
    steps = Steps()
    desk = browser.new_context(user_agent=DESKTOP_UA, viewport=DESKTOP, accept_downloads=True)  # type: ignore[arg-type]
    desk.set_default_timeout(15_000)
    page = desk.new_page()
    errors = ConsoleErrors(page)
    base = f"{server.base}/dashboard/{account.slug}"

    # 1. Sign in: an empty workspace says what to do first.
    _sign_in(page, server, account)
    expect(page.get_by_text("No links yet — create your first")).to_be_visible()
    steps.shot(page, "signed-in")

    # 2. Create a tracked link.
    page.click("text=Create your first link")
    page.fill("#f-url", shop.url(SHOP, "/landing"))
    page.fill("#f-key", "launch")
    page.check("input[name=track_conversion]")
    page.click("button:has-text('Create link')")
    expect(page.locator(".notice")).to_have_text("Link created.")
    short = page.locator("#short-link").get_attribute("href")
    assert short == f"{server.base}/launch"
    steps.shot(page, "link-created")

    # 3. Download its QR code: an independent decoder reads the short link from it.
    with page.expect_download() as downloading:
        page.click("#qr-png")
    download = downloading.value
    assert download.suggested_filename == "qr-launch.png"
    qr = decode(download.path().read_bytes(), "image/png")
    assert qr.text == short + "?qr=1"

    # 4. The live page is open on the desktop while a phone taps the link in a post.
    page.click("nav >> text=Live events")
    expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    steps.shot(page, "live-waiting")
    shop.pages["/post"] = (
        '<!doctype html><html lang="en"><link rel="icon" href="data:,"><title>Post</title>'
        f'<meta name="viewport" content="width=device-width"><p><a id="go" href="{short}">'
        "Our launch offer</a></p></html>"
    )
    phone_context = browser.new_context(
        user_agent=IPHONE_UA,
        viewport=PHONE,  # type: ignore[arg-type]
        is_mobile=True,
        has_touch=True,
    )
    phone_context.set_default_timeout(15_000)
    phone = phone_context.new_page()
    phone_errors = ConsoleErrors(phone)
    phone.goto(shop.url(SHOP, "/post"))
    phone.tap("#go")
    expect(phone.locator("h1")).to_have_text("Welcome to the shop")
    landed = urlsplit(phone.url)
    assert landed.hostname == SHOP
    click_id = parse_qs(landed.query)["cq_id"][0]  # handed to the site for conversions
    steps.shot(phone, "phone-landed")

    # 5. …and the click is on the live page, without a reload.
    event = page.locator("#feed .event-click").first
    expect(event).to_be_visible()
    expect(event).to_contain_text("/launch")
    steps.shot(page, "live-click")

    # 6. In the analytics: one click, from a phone.
    _analytics(page, server, account.slug, "1")
    expect(page.locator('[data-kpi="leads"]')).to_have_text("0")
    expect(page.locator('[data-breakdown="devices"]')).to_contain_text("Mobile")
    expect(page.locator("#funnel-table tbody tr").nth(1)).to_contain_text("0")
    steps.shot(page, "analytics-click")

    # 7. A secret key from Settings › API keys; the shop's server tracks a lead and a sale with it.
    page.goto(base + "/settings/keys")
    page.fill("#f-key_name", "Shop server")
    page.locator("form:has(#f-key_name) button[type=submit]").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("cq_")
    steps.shot(page, "api-key")
    page.goto(base + "/events")
    expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    api = server.client(token)
    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": "first-customer",
            "customerName": "Grace Hopper",
            "customerEmail": "grace@example.com",
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text
    sale = api.post(
        "/api/track/sale",
        json={
            "customerExternalId": "first-customer",
            "amount": 4900,
            "currency": "usd",
            "invoiceId": "in_first",
        },
    )
    assert sale.status_code == 200, sale.text
    expect(page.locator("#feed .event-lead").first).to_contain_text("Sign up")
    expect(page.locator("#feed .event-sale").first).to_contain_text("$49.00")
    steps.shot(page, "live-conversions")

    # 8. The funnel and the revenue moved.
    _analytics(page, server, account.slug, "1")
    expect(page.locator('[data-kpi="leads"]')).to_have_text("1")
    expect(page.locator('[data-kpi="sales"]')).to_have_text("1")
    expect(page.locator('[data-kpi="saleAmount"]')).to_have_text("$49.00")
    rows = page.locator("#funnel-table tbody tr")
    expect(rows.nth(1)).to_contain_text("100%")  # every click became a lead
    expect(rows.nth(2)).to_contain_text("$49.00")
    page.click("#tab-saleAmount")
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-total", "4900")
    steps.shot(page, "analytics-revenue")

    # 9. A custom domain, and a link on it that redirects when asked for by that host.
    page.goto(base + "/settings/domains")
    page.fill("#f-domain_slug", DOMAIN)
    page.click("button:has-text('Add domain')")
    expect(page.locator(f'[data-domain="{DOMAIN}"]')).to_be_visible()
    steps.shot(page, "domain-added")
    page.goto(base + "/links/new")
    page.fill("#f-url", shop.url(SHOP, "/landing"))
    page.fill("#f-key", "hello")
    page.select_option("#f-domain", DOMAIN)
    page.click("button:has-text('Create link')")
    expect(page.locator(".notice")).to_have_text("Link created.")
    on_domain = page.locator("#short-link").get_attribute("href")
    assert on_domain is not None
    assert urlsplit(on_domain).hostname == DOMAIN
    assert urlsplit(on_domain).path == "/hello"
    steps.shot(page, "domain-link")
    hit = server.client().get("/hello", headers={"Host": DOMAIN, "User-Agent": DESKTOP_UA})
    assert hit.status_code == 302
    assert hit.headers["location"] == shop.url(SHOP, "/landing")
    assert server.client().get("/hello", headers={"User-Agent": DESKTOP_UA}).status_code == 404
    # The phone follows it by name (every name resolves to this machine in these tests).
    phone.goto(f"http://{DOMAIN}:{server.port}/hello")
    expect(phone.locator("h1")).to_have_text("Welcome to the shop")
    assert urlsplit(phone.url).hostname == SHOP

    assert errors.messages == []
    assert phone_errors.messages == []
    phone_context.close()
    desk.close()

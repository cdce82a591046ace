"""The client-side script in a real browser: pages on ``www.shop.test`` load ``/_/script.js``
from the CodeQR server, keep the click id, decorate Stripe, and send leads (SPEC §7)."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    PageServer,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .test_client_endpoints import Site, allow_client_sales

SHOP = "www.shop.test"
FIRST_ID = "AAAAfirstClick01"
SECOND_ID = "BBBBsecondClick2"
DAY = 86_400


@pytest.fixture
def site(server: LiveServer) -> Site:
    return Site.on(server, [SHOP])


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as web:
        yield web


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(user_agent=DESKTOP_UA)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def script_page(site: Site, body: str = "", **data: str) -> str:
    """A page loading the script from the CodeQR server (another site) in its <head>."""
    attrs: dict[str, str] = {
        "src": f"http://cdn.codeqr.test:{site.shop.server.port}/_/script.js",
        "data-publishable-key": site.publishable_key,
        "data-cookie-options": json.dumps({"domain": ".shop.test"}),
    }
    attrs.update({f"data-{name.replace('_', '-')}": value for name, value in data.items()})
    tag = " ".join(f'{name}="{html.escape(value)}"' for name, value in attrs.items())
    return (
        '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<script {tag}></script></head><body>{body}</body></html>"
    )


def cq_cookie(context: BrowserContext) -> dict[str, Any] | None:
    found = [c for c in context.cookies() if c["name"] == "cq_id"]
    assert len(found) <= 1, found
    return dict(found[0]) if found else None


def test_the_landing_click_id_is_kept_in_a_first_party_cookie(
    site: Site, pages: PageServer, context: BrowserContext, page: Page
) -> None:
    pages.pages["/landing"] = script_page(site)
    errors = ConsoleErrors(page)
    page.goto(pages.url(SHOP, f"/landing?cq_id={FIRST_ID}"))
    cookie = cq_cookie(context)
    assert cookie is not None
    assert cookie["value"] == FIRST_ID
    assert cookie["domain"] == ".shop.test"
    assert cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # http page; https pages get Secure
    assert abs(cookie["expires"] - (time.time() + 90 * DAY)) < 120
    assert page.evaluate("codeqrAnalytics.getClickId()") == FIRST_ID
    stored = json.loads(page.evaluate("localStorage.getItem('cq_id')"))
    assert stored["clickId"] == FIRST_ID
    # The whole shop shares it: another subdomain reads the same id.
    pages.pages["/blog"] = script_page(site)
    page.goto(pages.url("blog.shop.test", "/blog"))
    assert page.evaluate("codeqrAnalytics.getClickId()") == FIRST_ID
    assert errors.messages == []


def test_cookie_lifetime_follows_the_options(
    site: Site, pages: PageServer, context: BrowserContext, page: Page
) -> None:
    options = json.dumps({"domain": ".shop.test", "expiresInDays": 30})
    pages.pages["/landing"] = script_page(site, cookie_options=options)
    page.goto(pages.url(SHOP, f"/landing?cq_id={FIRST_ID}"))
    cookie = cq_cookie(context)
    assert cookie is not None
    assert abs(cookie["expires"] - (time.time() + 30 * DAY)) < 120


@pytest.mark.parametrize(
    ("model", "expected"), [("first-click", FIRST_ID), ("last-click", SECOND_ID)]
)
def test_attribution_model(
    site: Site,
    pages: PageServer,
    context: BrowserContext,
    page: Page,
    model: str,
    expected: str,
) -> None:
    pages.pages["/landing"] = script_page(site, attribution_model=model)
    page.goto(pages.url(SHOP, f"/landing?cq_id={FIRST_ID}"))
    page.goto(pages.url(SHOP, f"/landing?cq_id={SECOND_ID}"))
    cookie = cq_cookie(context)
    assert cookie is not None
    assert cookie["value"] == expected
    assert page.evaluate("codeqrAnalytics.getClickId()") == expected


def test_a_lost_cookie_comes_back_from_local_storage(
    site: Site, pages: PageServer, context: BrowserContext, page: Page
) -> None:
    pages.pages["/landing"] = script_page(site)
    pages.pages["/pricing"] = script_page(site)
    page.goto(pages.url(SHOP, f"/landing?cq_id={FIRST_ID}"))
    context.clear_cookies()
    assert cq_cookie(context) is None
    page.goto(pages.url(SHOP, "/pricing"))
    cookie = cq_cookie(context)
    assert cookie is not None
    assert cookie["value"] == FIRST_ID
    assert cookie["domain"] == ".shop.test"
    assert abs(cookie["expires"] - (time.time() + 90 * DAY)) < 120  # the stored expiry
    assert page.evaluate("codeqrAnalytics.getClickId()") == FIRST_ID


def test_a_bad_click_id_is_ignored(
    site: Site, pages: PageServer, context: BrowserContext, page: Page
) -> None:
    pages.pages["/landing"] = script_page(site)
    page.goto(pages.url(SHOP, "/landing?cq_id=x%3B%20Domain%3Devil.test"))
    assert cq_cookie(context) is None
    assert page.evaluate("codeqrAnalytics.getClickId()") is None


STRIPE_BODY = """
<a id="pay" href="https://buy.stripe.com/test_4gw5mS">Buy</a>
<a id="donate" href="https://donate.stripe.com/abc?locale=fr">Donate</a>
<a id="own" href="https://buy.stripe.com/own?client_reference_id=mine">Own</a>
<a id="docs" href="https://stripe.com/docs">Docs</a>
<a id="app" href="https://app.other.test/signup">Sign up</a>
<stripe-buy-button id="button-own" client-reference-id="theirs"></stripe-buy-button>
<stripe-buy-button id="button"></stripe-buy-button>
"""

ADD_LATER = """() => {
  const table = document.createElement("stripe-pricing-table");
  table.id = "table";
  const wrapper = document.createElement("section");
  wrapper.innerHTML = '<a id="late" href="https://buy.stripe.com/late">Late</a>';
  document.body.append(table, wrapper);
}"""


def test_stripe_links_and_elements_get_the_click_id(
    site: Site, pages: PageServer, page: Page
) -> None:
    outbound = json.dumps({"outbound": ["other.test"]})
    pages.pages["/pricing"] = script_page(site, STRIPE_BODY, domains=outbound)
    errors = ConsoleErrors(page)
    page.goto(pages.url(SHOP, f"/pricing?cq_id={FIRST_ID}"))
    reference = f"codeqr_id_{FIRST_ID}"
    href = lambda selector: page.get_attribute(selector, "href")  # noqa: E731
    assert href("#pay") == f"https://buy.stripe.com/test_4gw5mS?client_reference_id={reference}"
    assert href("#donate") == (
        f"https://donate.stripe.com/abc?locale=fr&client_reference_id={reference}"
    )
    assert href("#own") == "https://buy.stripe.com/own?client_reference_id=mine"
    assert href("#docs") == "https://stripe.com/docs"
    assert href("#app") == f"https://app.other.test/signup?cq_id={FIRST_ID}"
    assert page.get_attribute("#button", "client-reference-id") == reference
    assert page.get_attribute("#button-own", "client-reference-id") == "theirs"

    page.evaluate(ADD_LATER)
    page.wait_for_function(
        "document.querySelector('#table').getAttribute('client-reference-id') !== null"
    )
    assert page.get_attribute("#table", "client-reference-id") == reference
    page.wait_for_function("document.querySelector('#late').href.includes('client_reference')")
    assert href("#late") == f"https://buy.stripe.com/late?client_reference_id={reference}"
    assert errors.messages == []


def test_stripe_decoration_can_be_turned_off(site: Site, pages: PageServer, page: Page) -> None:
    pages.pages["/pricing"] = script_page(site, STRIPE_BODY, stripe="false")
    page.goto(pages.url(SHOP, f"/pricing?cq_id={FIRST_ID}"))
    page.evaluate(ADD_LATER)
    page.evaluate("() => new Promise((done) => setTimeout(done, 100))")
    assert page.get_attribute("#pay", "href") == "https://buy.stripe.com/test_4gw5mS"
    assert page.get_attribute("#late", "href") == "https://buy.stripe.com/late"
    assert page.get_attribute("#button", "client-reference-id") is None
    assert page.get_attribute("#table", "client-reference-id") is None
    assert page.evaluate("codeqrAnalytics.getClickId()") == FIRST_ID


def test_nothing_is_decorated_without_a_click(site: Site, pages: PageServer, page: Page) -> None:
    pages.pages["/pricing"] = script_page(site, STRIPE_BODY)
    page.goto(pages.url(SHOP, "/pricing"))
    assert page.get_attribute("#pay", "href") == "https://buy.stripe.com/test_4gw5mS"
    assert page.get_attribute("#button", "client-reference-id") is None


def settle(page: Page, call: str) -> dict[str, Any]:
    """Run a promise-returning call in the page: ``{"ok": value}`` or ``{"err": reason}``."""
    result = page.evaluate(f"() => {call}.then((ok) => ({{ ok }}), (err) => ({{ err }}))")
    return dict(result)


def test_a_visitor_from_a_short_link_becomes_a_lead_and_a_sale(
    site: Site, pages: PageServer, context: BrowserContext, page: Page
) -> None:
    allow_client_sales(site.shop.server, site.shop.tenant.slug)
    pages.pages["/landing"] = script_page(site)
    link = site.shop.link(url=pages.url(SHOP, "/landing"), trackConversion=True)
    errors = ConsoleErrors(page)
    page.goto(link["shortLink"])  # the redirect hands the page its ?cq_id=
    assert page.url.startswith(pages.url(SHOP, "/landing?cq_id="))
    [click] = site.shop.clicks(link)
    assert page.evaluate("codeqrAnalytics.getClickId()") == click["id"]
    assert (cq_cookie(context) or {}).get("value") == click["id"]

    lead = settle(
        page,
        "codeqrAnalytics.trackLead({eventName: 'Sign up', customerExternalId: 'user_7',"
        " customerName: 'Ada', customerEmail: 'ada@shop.test', metadata: {plan: 'pro'}})",
    )
    assert "ok" in lead, lead
    assert lead["ok"]["click"]["id"] == click["id"]
    assert lead["ok"]["customer"]["externalId"] == "user_7"
    sale = settle(
        page,
        "codeqrAnalytics.trackSale({customerExternalId: 'user_7', amount: 2500,"
        " currency: 'eur', invoiceId: 'inv_1'})",
    )
    assert "ok" in sale, sale
    assert sale["ok"]["sale"]["amount"] == 2500
    assert site.counters(link) == {"clicks": 1, "leads": 1, "sales": 1}
    assert errors.messages == []


def test_a_page_on_a_host_not_allowed_is_refused(site: Site, pages: PageServer, page: Page) -> None:
    link = site.shop.link(trackConversion=True)
    click_id = site.shop.visit(link).headers["location"].rsplit("cq_id=", 1)[1]
    pages.pages["/landing"] = script_page(site)
    page.goto(pages.url("evil.test", f"/landing?cq_id={click_id}"))
    assert page.evaluate("codeqrAnalytics.getClickId()") == click_id  # stored, but useless

    lead = settle(
        page, "codeqrAnalytics.trackLead({eventName: 'Sign up', customerExternalId: 'u1'})"
    )
    assert lead["err"]["error"]["code"] == "forbidden"
    assert "evil.test" in lead["err"]["error"]["message"]
    sale = settle(page, "codeqrAnalytics.trackSale({customerExternalId: 'u1', amount: 100})")
    assert sale["err"]["error"]["code"] == "forbidden"
    api = f"http://cdn.codeqr.test:{site.shop.server.port}"
    status = page.evaluate(
        """async ([api, key, body]) => (await fetch(api + "/api/track/click", {
            method: "POST", body: JSON.stringify(body),
            headers: {Authorization: "Bearer " + key, "Content-Type": "application/json"},
        })).status""",
        [api, site.publishable_key, {"domain": link["domain"], "key": link["key"]}],
    )
    assert status == 403
    assert site.counters(link) == {"clicks": 1, "leads": 0, "sales": 0}

"""The short link's own pages in a real browser, under their security headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import (
    DESKTOP_UA,
    PageServer,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)

from .helpers import Shortener

SHOP = "www.shop.test"


@pytest.fixture
def shop() -> Iterator[PageServer]:
    with PageServer() as web:
        web.pages["/secret"] = "<!doctype html><title>Secret</title><h1>Behind the password</h1>"
        web.pages["/frame"] = "<!doctype html><title>Framer</title><iframe id=f></iframe>"
        yield web


def test_the_password_form_leads_to_the_destination(
    shortener: Shortener, browser: Browser, shop: PageServer
) -> None:
    """The page's policy leaves out ``form-action``: Chromium would apply it to the redirect
    chain the form starts, which ends on another site."""
    link = shortener.link(url=shop.url(SHOP, "/secret"), password="open sesame")
    context = browser.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    page.goto(link["shortLink"])
    page.fill("input[name=password]", "open sesame")
    page.click("button")
    expect(page.locator("h1")).to_have_text("Behind the password")
    assert page.url.startswith(shop.url(SHOP, "/secret"))
    context.close()


def test_another_site_cannot_frame_the_password_page(
    shortener: Shortener, browser: Browser, shop: PageServer
) -> None:
    link = shortener.link(url=shop.url(SHOP, "/secret"), password="open sesame")
    context = browser.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    page.goto(shop.url(SHOP, "/frame"))
    with page.expect_response(lambda r: r.url == link["shortLink"]):
        page.eval_on_selector("#f", "(f, url) => { f.src = url; }", link["shortLink"])
    frame = page.frame_locator("#f")
    expect(frame.locator("input[name=password]")).to_have_count(0)
    context.close()

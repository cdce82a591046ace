"""The Program pages and the partner portal in headless Chromium: an owner enrolls a
partner and sets a reward; the partner accepts the invitation and sees their earnings.
Screenshots at desktop and phone widths go to ``test-artifacts/screenshots/``; no console
error anywhere, and no page wider than the phone's screen."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer
from tests.dashboard.helpers import make_account

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _no_overflow(page: Page) -> None:
    wide = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} is {wide}px wider than the screen"


def test_program_pages_and_the_partner_portal(server: LiveServer, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    account = make_account(server)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport=SIZES["desktop"])  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(server.base + "/login")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.base}/dashboard/{account.slug}/links")

    page.click("nav .nav-program")
    expect(page.locator("h1")).to_have_text("Partner program")
    page.fill("#f-email", "ada@partners.example")
    page.fill("#f-name", "Ada Lovelace")
    page.fill("#f-url", "https://shop.example/pricing")
    page.click("text=Enroll partner")
    expect(page.locator("h1")).to_have_text("Ada Lovelace")
    invite = page.locator("#invite-link").inner_text()
    assert f"/app/partners/{account.slug}/invite?token=" in invite

    page.goto(f"{server.base}/dashboard/{account.slug}/program")
    page.select_option("#r-event", "sale")
    page.select_option("#r-type", "percentage")
    page.fill("#r-amount", "20")
    page.select_option("#r-duration", "recurring")
    page.fill("#r-months", "12")
    page.click("text=Save reward")
    expect(page.locator("#rewards-table tr[data-event=sale]")).to_contain_text("20%")
    expect(page.locator("#rewards-table tr[data-event=sale]")).to_contain_text("12 months")

    program = f"{server.base}/dashboard/{account.slug}/program"
    for label, viewport in SIZES.items():
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        for name, path in (("", ""), ("commissions", "/commissions"), ("payouts", "/payouts")):
            page.goto(program + path)
            _no_overflow(page)
            page.screenshot(
                path=str(SCREENSHOTS / f"program{'-' + name if name else ''}-{label}.png"),
                full_page=True,
            )

    partner = browser.new_context(user_agent=DESKTOP_UA, viewport=SIZES["phone"])  # type: ignore[arg-type]
    partner.set_default_timeout(15_000)
    portal = partner.new_page()
    portal_errors = ConsoleErrors(portal)
    portal.goto(invite.replace("http://", "http://", 1))
    expect(portal.locator("h1")).to_contain_text("partner program")
    portal.fill("#password", "partner-password-1")
    portal.click("button[type=submit]")
    expect(portal).to_have_url(f"{server.base}/app/partners/{account.slug}")
    expect(portal.locator("#portal-links")).to_contain_text("shop.example/pricing")
    for label, viewport in SIZES.items():
        portal.set_viewport_size(viewport)  # type: ignore[arg-type]
        _no_overflow(portal)
        portal.screenshot(path=str(SCREENSHOTS / f"portal-{label}.png"), full_page=True)
    portal.click("text=Sign out")
    expect(portal).to_have_url(f"{server.base}/app/partners/{account.slug}/login")
    portal.screenshot(path=str(SCREENSHOTS / "portal-login-phone.png"), full_page=True)
    assert not errors.messages, errors.messages
    assert not portal_errors.messages, portal_errors.messages
    context.close()
    partner.close()

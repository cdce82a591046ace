"""Accessibility: axe-core (vendored from its npm package in tests/fixtures/axe) run in
Chromium on every page, light and dark, at desktop and phone sizes; and plain tests of the
rules it checks: text contrast of the grey used for secondary text, and a skip link as the
first stop of the keyboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer
from tests.portal.test_portal import _enroll as enroll

from .helpers import Account, dash, make_account, seed
from .pages import PAGES, open_page

CSS = Path(__file__).parents[2] / "src/codeqr/dashboard/static/dashboard.css"
# The backgrounds grey text sits on: the page, cards, table heads, disabled fields, chips.
BACKGROUNDS = ["var(--bg)", "var(--card)", "#fafbfc", "#f8fafc", "#f1f5f9", "#eef2ff"]


def _luminance(color: str) -> float:
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_helper_knows_the_reported_failure() -> None:
    assert 4.44 <= contrast("#64748b", "#f6f7fb") < 4.45  # issue 18: axe-core said 4.44:1


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_grey_text_reaches_aa_contrast(background: str) -> None:
    css = CSS.read_text()
    variables = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{3,6})", css))
    colour = variables[background[6:-1]] if background.startswith("var(") else background
    ratio = contrast(variables["muted"], colour)
    assert ratio >= 4.5, f"--muted on {background}: {ratio:.2f}:1"


def test_the_first_thing_a_keyboard_reaches_is_a_skip_link(server: LiveServer) -> None:
    owner = dash(server)
    for path in ("/links", "/analytics", "/settings"):
        html = owner.get(path).text
        body = html.split("<body", 1)[1].split(">", 1)[1]
        first = re.search(r"<(a|button|input|select|textarea)\b[^>]*>", body)
        assert first is not None
        assert 'href="#main"' in first.group(0), first.group(0)
        assert 'id="main"' in html


# axe-core in the browser: every page of tests/dashboard/pages.py, the sign-in page and the
# partner portal, at a desktop and a phone size, and a few pages again in dark mode.
AXE = (Path(__file__).parents[1] / "fixtures" / "axe" / "axe.min.js").read_text()
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
DARK_PAGES = ("links", "link", "analytics", "events", "settings", "customers")
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 4).map(
      n => n.target.join(" ") + (n.any[0] ? " — " + n.any[0].message : "")).join(" | "));
}"""


def _axe_context(browser: Browser, size: str, scheme: str = "light") -> BrowserContext:
    context = browser.new_context(
        user_agent=DESKTOP_UA,
        viewport=SIZES[size],  # type: ignore[arg-type]
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    context.set_default_timeout(15_000)
    # An init script is put in by the browser itself, so the pages' CSP does not stop it.
    context.add_init_script(AXE)
    return context


def serious_violations(page: Page) -> list[str]:
    """What axe-core calls serious or critical on the page as it stands."""
    found: list[str] = page.evaluate(RUN_AXE)
    return found


def _sign_in(page: Page, server: LiveServer, account: Account) -> dict[str, list[str]]:
    page.goto(server.base + "/login")
    found = {"login": serious_violations(page)}
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.base}/dashboard/{account.slug}/links")
    return found


@pytest.mark.parametrize("size", list(SIZES))
def test_axe_finds_nothing_serious_on_any_page(
    server: LiveServer, browser: Browser, size: str
) -> None:
    account = make_account(server)
    seeded = seed(server, account)
    context = _axe_context(browser, size)
    page = context.new_page()
    errors = ConsoleErrors(page)
    found = _sign_in(page, server, account)
    for label, path in PAGES:
        url = f"{server.base}/dashboard/{account.slug}" + path.format(link_id=seeded.link_id)
        open_page(page, url, label)
        found[label] = serious_violations(page)
    assert {label: v for label, v in found.items() if v} == {}
    assert errors.messages == []
    context.close()


def test_axe_finds_nothing_serious_in_dark_mode(server: LiveServer, browser: Browser) -> None:
    account = make_account(server)
    seeded = seed(server, account)
    found: dict[str, list[str]] = {}
    for size in SIZES:
        context = _axe_context(browser, size, scheme="dark")
        page = context.new_page()
        errors = ConsoleErrors(page)
        found.update({f"{k}-{size}": v for k, v in _sign_in(page, server, account).items()})
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        for label, path in PAGES:
            if label not in DARK_PAGES:
                continue
            url = f"{server.base}/dashboard/{account.slug}" + path.format(link_id=seeded.link_id)
            open_page(page, url, label)
            found[f"{label}-{size}"] = serious_violations(page)
        assert errors.messages == []
        context.close()
    assert {label: v for label, v in found.items() if v} == {}


@pytest.mark.parametrize("size", list(SIZES))
def test_axe_finds_nothing_serious_in_the_partner_portal(
    server: LiveServer, browser: Browser, size: str
) -> None:
    owner = dash(server)
    _, invite = enroll(owner, "ada@partners.example", "Ada")
    context = _axe_context(browser, size)
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(server.base + invite)
    found = {"invite": serious_violations(page)}
    page.fill("#password", "partner-password-1")
    page.click("button[type=submit]")
    portal = f"{server.base}/app/partners/{owner.account.slug}"
    expect(page).to_have_url(portal)
    found["portal"] = serious_violations(page)
    page.click("text=Sign out")
    expect(page).to_have_url(portal + "/login")
    found["portal-login"] = serious_violations(page)
    assert {label: v for label, v in found.items() if v} == {}
    assert errors.messages == []
    context.close()


def test_the_axe_check_sees_a_serious_violation(browser: Browser) -> None:
    context = _axe_context(browser, "desktop")
    page = context.new_page()
    page.set_content(
        '<html lang="en"><title>t</title><main><p style="color:#aaa;background:#fff">grey</p>'
        '<div style="overflow:auto;height:2rem"><p>one</p><p>two</p><p>three</p></div>'
        '<img src="data:,"></main></html>'
    )
    found = " ".join(serious_violations(page))
    for rule in ("color-contrast", "scrollable-region-focusable", "image-alt"):
        assert rule in found, found
    context.close()

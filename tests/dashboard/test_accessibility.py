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

from .helpers import Account, dash, make_account, seed, viewer_of
from .pages import PAGES, ids, open_page
from .test_browser import SCREENSHOTS

CSS = Path(__file__).parents[2] / "src/codeqr/dashboard/static/dashboard.css"
# The surfaces text sits on, and the text colours that must reach AA (4.5:1) on each.
SURFACES = ["bg", "card", "raised", "subtle", "subtle-2", "head", "hover", "field", "field-off"]
TEXTS = ["ink", "ink-2", "muted"]
# Coloured text on its own tint.
PAIRS = [
    ("accent", "card"),
    ("accent", "bg"),
    ("accent", "accent-2"),
    ("on-ink", "ink"),
    ("on-ink", "danger"),
    ("ok", "ok-bg"),
    ("warn", "warn-bg"),
    ("danger", "danger-bg"),
    ("info", "info-bg"),
    ("c-clicks", "accent-2"),
    ("muted", "accent-2"),
    ("ink-2", "warn-bg"),
]


def palettes() -> dict[str, dict[str, str]]:
    """The light palette (``:root``) and the dark one, from the dashboard's CSS."""
    css = CSS.read_text()
    blocks = {
        "light": css.split(":root {", 1)[1].split("}", 1)[0],
        "dark-system": css.split(':root:not([data-theme="light"]) {', 1)[1].split("}", 1)[0],
        "dark-chosen": css.split(':root[data-theme="dark"] {', 1)[1].split("}", 1)[0],
    }
    return {
        name: dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\b", block))
        for name, block in blocks.items()
    }


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


@pytest.mark.parametrize("scheme", ["light", "dark-system"])
def test_every_text_colour_reaches_aa_contrast_on_every_surface(scheme: str) -> None:
    colours = palettes()[scheme]
    pairs = [(text, surface) for text in TEXTS for surface in SURFACES] + PAIRS
    low = {
        f"--{text} on --{surface}": round(contrast(colours[text], colours[surface]), 2)
        for text, surface in pairs
        if contrast(colours[text], colours[surface]) < 4.5
    }
    assert low == {}


def test_both_dark_palettes_are_the_same_and_name_every_light_colour() -> None:
    found = palettes()
    assert found["dark-system"] == found["dark-chosen"]
    assert set(found["dark-system"]) == set(found["light"])


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
# partner portal, at desktop, tablet and phone sizes, and a few pages again in dark mode.
AXE = (Path(__file__).parents[1] / "fixtures" / "axe" / "axe.min.js").read_text()
SIZES = {
    "desktop": {"width": 1440, "height": 900},
    "tablet": {"width": 768, "height": 1024},
    "phone": {"width": 390, "height": 844},
}
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
    named = ids(server, seed(server, account))
    context = _axe_context(browser, size)
    page = context.new_page()
    errors = ConsoleErrors(page)
    found = _sign_in(page, server, account)
    for label, path in PAGES:
        url = f"{server.base}/dashboard/{account.slug}" + path.format(**named)
        open_page(page, url, label)
        found[label] = serious_violations(page)
    assert {label: v for label, v in found.items() if v} == {}
    assert errors.messages == []
    context.close()


def test_axe_finds_nothing_serious_in_dark_mode(server: LiveServer, browser: Browser) -> None:
    account = make_account(server)
    named = ids(server, seed(server, account))
    found: dict[str, list[str]] = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size in ("desktop", "phone"):
        context = _axe_context(browser, size, scheme="dark")
        page = context.new_page()
        errors = ConsoleErrors(page)
        page.goto(server.base + "/login")
        page.screenshot(path=str(SCREENSHOTS / f"login-dark-{size}.png"))
        found.update({f"{k}-{size}": v for k, v in _sign_in(page, server, account).items()})
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        for label, path in PAGES:
            if label not in DARK_PAGES:
                continue
            url = f"{server.base}/dashboard/{account.slug}" + path.format(**named)
            open_page(page, url, label)
            found[f"{label}-{size}"] = serious_violations(page)
            page.screenshot(path=str(SCREENSHOTS / f"{label}-dark-{size}.png"), full_page=True)
        assert errors.messages == []
        context.close()
    assert {label: v for label, v in found.items() if v} == {}


@pytest.mark.parametrize(
    ("size", "scheme"), [("desktop", "light"), ("phone", "light"), ("phone", "dark")]
)
def test_axe_finds_nothing_serious_in_the_partner_portal(
    server: LiveServer, browser: Browser, size: str, scheme: str
) -> None:
    owner = dash(server)
    _, invite = enroll(owner, "ada@partners.example", "Ada")
    context = _axe_context(browser, size, scheme)
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


@pytest.mark.parametrize(("size", "scheme"), [("desktop", "light"), ("phone", "dark")])
def test_axe_finds_nothing_serious_on_the_no_workspace_page(
    server: LiveServer, browser: Browser, size: str, scheme: str
) -> None:
    """An account in no workspace signs in to the page that creates one, and a refused try
    shows its reason beside the field."""
    owner = dash(server)
    viewer = viewer_of(server, owner.account)
    left = viewer.post("/settings/members/leave", {}, viewer.csrf("/settings/members"))
    assert left.status_code == 303
    context = _axe_context(browser, size, scheme)
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(server.base + "/login")
    page.fill("#email", viewer.account.email)
    page.fill("#password", viewer.account.password)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.base + "/dashboard")
    found = {"no-workspace": serious_violations(page)}
    page.fill("#f-new_ws_name", "Mine")
    page.fill("#f-new_ws_slug", owner.account.slug)  # taken
    page.click("text=Create workspace")
    expect(page.locator("#e-new_ws_slug")).to_be_visible()
    found["no-workspace-refused"] = serious_violations(page)
    assert {label: v for label, v in found.items() if v} == {}
    # The refusal is the page's own 409, which the console reports; nothing else.
    assert [m for m in errors.messages if "status of 409" not in m] == []
    assert len(errors.messages) == 1
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


def test_a_table_scrolling_sideways_is_a_named_region_the_keyboard_reaches(
    server: LiveServer, browser: Browser
) -> None:
    account = make_account(server)
    seed(server, account)
    context = _axe_context(browser, "desktop")
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    wrap = page.locator(".table-wrap").first
    expect(wrap).not_to_have_attribute("tabindex", "0")  # nothing to scroll at 1440 px
    page.set_viewport_size({"width": 640, "height": 800})  # a tablet: no cards per row yet
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    expect(wrap).to_have_attribute("tabindex", "0")
    expect(wrap).to_have_attribute("role", "region")
    expect(wrap).to_have_attribute("aria-label", "Links")
    page.keyboard.press("Tab")
    for _ in range(30):
        if wrap.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(wrap).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(wrap).not_to_have_js_property("scrollLeft", 0)
    assert serious_violations(page) == []
    page.set_viewport_size(SIZES["desktop"])
    expect(wrap).not_to_have_attribute("tabindex", "0")
    assert errors.messages == []
    context.close()

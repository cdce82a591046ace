"""Dark mode: the system's choice through prefers-color-scheme, or the sidebar's toggle
(light, dark, system) kept in localStorage and put on <html> before the first paint; the
charts take their colours from the same CSS variables."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import make_account, seed
from .test_browser import SCREENSHOTS, _sign_in

LIGHT_BG = "rgb(246, 247, 251)"  # --bg
DARK_BG = "rgb(11, 17, 32)"  # --bg of the dark palette
SERIES = """() => {
  const chart = Chart.getChart(document.getElementById("timeseries-chart"));
  const funnel = Chart.getChart(document.getElementById("funnel-chart"));
  return [chart.data.datasets[0].borderColor, funnel.data.datasets[0].backgroundColor[0]];
}"""


def _background(page: Page) -> str:
    colour: str = page.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    return colour


def _css(page: Page, name: str) -> str:
    value: str = page.evaluate(
        f"getComputedStyle(document.documentElement).getPropertyValue('--{name}').trim()"
    )
    return value


def test_the_system_dark_scheme_is_followed(server: LiveServer, browser: Browser) -> None:
    account = make_account(server)
    context = browser.new_context(user_agent=DESKTOP_UA, color_scheme="dark")
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(server.base + "/login")
    assert _background(page) == DARK_BG  # the sign-in page too
    _sign_in(page, server, account)
    assert _background(page) == DARK_BG
    expect(page.locator("[data-theme-choice=system]")).to_have_attribute("aria-pressed", "true")
    page.click("[data-theme-choice=light]")  # the toggle wins over the system
    assert _background(page) == LIGHT_BG
    page.reload()
    assert _background(page) == LIGHT_BG
    assert errors.messages == []
    context.close()


def test_the_toggle_is_kept_applied_before_paint_and_recolours_the_charts(
    server: LiveServer, browser: Browser
) -> None:
    account = make_account(server)
    seed(server, account)
    context = browser.new_context(user_agent=DESKTOP_UA, color_scheme="light")
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/analytics?interval=24h")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    light = page.evaluate(SERIES)
    assert light == [_css(page, "c-clicks")] * 2 == ["#4f46e5"] * 2

    page.click("[data-theme-choice=dark]")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("[data-theme-choice=dark]")).to_have_attribute("aria-pressed", "true")
    assert _background(page) == DARK_BG
    dark = page.evaluate(SERIES)
    assert dark == [_css(page, "c-clicks")] * 2 != light  # redrawn without a reload
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "analytics-dark.png"), full_page=True)

    # The next page is dark from its very first paint: the attribute is there before the
    # stylesheet and the body are.
    seen: list[object] = []
    page.on(
        "domcontentloaded",
        lambda p: seen.append(p.evaluate("document.documentElement.dataset.theme")),
    )
    context.add_init_script(
        "document.addEventListener('readystatechange', () => {"
        " if (document.readyState === 'interactive')"
        " window.__themeAtParse = document.documentElement.dataset.theme; });"
    )
    page.goto(f"{server.base}/dashboard/{account.slug}/links")
    assert page.evaluate("window.__themeAtParse") == "dark"
    assert seen == ["dark"]
    assert _background(page) == DARK_BG
    page.screenshot(path=str(SCREENSHOTS / "links-dark.png"), full_page=True)

    page.click("[data-theme-choice=system]")
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
    assert _background(page) == LIGHT_BG
    assert page.evaluate("localStorage.getItem('codeqr-theme')") is None
    assert errors.messages == []
    context.close()

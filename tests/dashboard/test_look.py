"""How the dashboard looks: dark mode (the system's choice through prefers-color-scheme, or
the sidebar's toggle — light, dark, system — kept in localStorage and put on <html> before
the first paint; the charts take their colours from the same CSS variables), SVG icons
rather than emoji, and a favicon."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import dash, make_account, seed
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


SRC = Path(__file__).parents[2] / "src" / "codeqr"
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55]")


def test_no_template_draws_with_emoji() -> None:
    templates = [*SRC.glob("*/templates/*.html")]
    assert len(templates) > 20
    found = {t.name: EMOJI.findall(t.read_text()) for t in templates}
    assert {name: chars for name, chars in found.items() if chars} == {}


def test_the_menu_has_icons_and_every_page_a_favicon(server: LiveServer) -> None:
    owner = dash(server)
    html = owner.get("/links").text
    nav = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    items = re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)
    assert len(items) >= 7
    for item in items:
        assert item.startswith('<svg class="icon"'), item
        assert 'aria-hidden="true"' in item
    favicon = re.search(r'<link rel="icon" href="(/static/favicon\.svg\?v=\w+)"', html)
    assert favicon, html[:600]
    served = owner.client.get(favicon.group(1))
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert served.text.startswith("<svg")
    assert "<script" not in served.text
    login = server.client().get("/login").text
    assert '<link rel="icon" href="/static/favicon.svg"' in login

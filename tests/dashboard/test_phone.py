"""The dashboard on a phone (390×844, issue 18): no page scrolls sideways, nothing spills
out of its card, wide tables scroll in a labelled region the keyboard reaches, and what
matters on each page comes first and stays readable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import Account, Seeded, make_account, seed
from .pages import PAGES, ids, open_page
from .test_browser import _sign_in

PHONE = {"width": 390, "height": 844}

# Elements reaching past the right edge of their card, unless a scroll container (or a
# clipping one) holds them between.
SPILLS = """() => {
  const out = [];
  for (const card of document.querySelectorAll("main .card, main .kpi, main .chip")) {
    const edge = card.getBoundingClientRect().right + 1;
    for (const el of card.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (!box.width || box.right <= edge) continue;
      let held = false;
      for (let up = el.parentElement; up && up !== card; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== "visible") { held = true; break; }
      }
      if (!held) out.push(el.tagName + "." + el.className + ": " + el.textContent.slice(0, 40));
    }
  }
  return out;
}"""
PLAIN_LINKS = """() => [...document.querySelectorAll("main p a:not(.button)")]
  .filter(a => !getComputedStyle(a).textDecorationLine.includes("underline"))
  .map(a => a.textContent)"""


@pytest.fixture
def phone(server: LiveServer, browser: Browser) -> Iterator[tuple[Page, Account, Seeded]]:
    account = make_account(server)
    seeded = seed(server, account)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    yield page, account, seeded
    assert errors.messages == []
    context.close()


def _open(page: Page, server: LiveServer, account: Account, path: str, label: str = "") -> None:
    label = label or ("analytics" if path.startswith("/analytics") else "")
    open_page(page, f"{server.base}/dashboard/{account.slug}{path}", label)


def test_no_page_scrolls_sideways_or_spills_out_of_a_card(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = phone
    named = ids(server, seeded)
    for label, path in PAGES:
        _open(page, server, account, path.format(**named), label)
        wide = page.evaluate("document.scrollingElement.scrollWidth")
        assert wide <= page.evaluate("innerWidth"), f"{label} scrolls sideways"
        assert page.evaluate(SPILLS) == [], label
        assert page.evaluate(PLAIN_LINKS) == [], f"{label}: links told apart by colour only"


def test_the_funnel_table_shows_every_rate_and_the_keyboard_reaches_it(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = phone
    _open(page, server, account, "/analytics?interval=24h")
    region = page.locator("#funnel-table").locator("xpath=..")
    expect(region).to_have_attribute("role", "region")
    expect(region).to_have_attribute("tabindex", "0")
    expect(region).to_have_attribute("aria-label", "Funnel steps and rates")
    region.focus()
    expect(region).to_be_focused()
    # Each step is a card of its own on a phone: no rate column is cut off.
    assert region.evaluate("el => el.scrollWidth <= el.clientWidth")
    sales = page.locator("#funnel-table tbody tr").nth(2)
    for label, value in (("Conversion", "100%"), ("Drop-off", "0 (0%)")):
        cell = sales.locator(f'td[data-label="{label}"]')
        expect(cell).to_have_text(value)
        expect(cell).to_be_in_viewport()
        box = cell.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
    # A top link keeps its key whole when its host is shortened.
    bar = page.locator('[data-breakdown="top_links"] .bar').first
    key = bar.locator(".bar-key")
    expect(key).to_have_text("/spring")
    assert key.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    assert key.bounding_box()["x"] + key.bounding_box()["width"] <= (  # type: ignore[index]
        bar.bounding_box()["x"] + bar.bounding_box()["width"]  # type: ignore[index]
    )


def test_a_customer_reads_name_email_and_id_one_above_the_other(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = phone
    _open(page, server, account, "/customers")
    cell = page.locator("#customers-table td.who-cell").first
    tops = [
        cell.locator(part).first.bounding_box()["y"]  # type: ignore[index]
        for part in ("strong", ".dest:not(.mono)", ".dest.mono")
    ]
    assert tops == sorted(tops)
    assert tops[0] < tops[1] - 8
    assert tops[1] < tops[2] - 8
    expect(cell.locator("strong")).to_have_text("Grace Hopper")


def test_a_link_page_shows_its_qr_code_and_numbers_before_the_form(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = phone
    _open(page, server, account, f"/links/{seeded.link_id}?tab=edit")
    qr = page.locator(".qr-card").bounding_box()
    form = page.locator("form.form").bounding_box()
    assert qr is not None
    assert form is not None
    assert qr["y"] + qr["height"] <= form["y"]
    page.set_viewport_size({"width": 1280, "height": 800})  # side by side on a desktop
    qr = page.locator(".qr-card").bounding_box()
    form = page.locator("form.form").bounding_box()
    assert qr is not None
    assert form is not None
    assert qr["x"] > form["x"] + form["width"] - 1


def test_a_links_row_is_compact_with_its_sparkline(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = phone
    _open(page, server, account, "/links")
    row = page.locator(f'tr[data-link-id="{seeded.link_id}"]')
    # Leads, sales, revenue and the date stay on the link's own page: clicks and the
    # sparkline fit beside the link, in a card of a few lines.
    for label in ("Leads", "Sales", "Revenue", "Created"):
        expect(row.locator(f'td[data-label="{label}"]')).to_be_hidden()
    expect(row.locator("svg.spark")).to_be_visible()
    expect(row.locator(".host-badge")).to_have_text("S")  # shop.example, no image fetched
    box = row.bounding_box()
    assert box is not None
    assert box["height"] < 260, box
    assert box["x"] + box["width"] <= PHONE["width"]
    # Selecting on a phone: the count follows the boxes.
    row.locator("input[data-bulk-pick]").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("1 selected")


def test_members_with_an_open_invitation_fit_a_phone(
    server: LiveServer, phone: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = phone
    _open(page, server, account, "/settings/members")
    page.select_option("#f-invite-role", "viewer")
    page.click("text=Create invitation link")
    expect(page.locator(".invite-url")).to_contain_text("/app/invite/")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SPILLS) == []
    tabs = page.locator(".settings-tabs")
    box = tabs.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]
    expect(page.locator('.settings-tabs a[aria-current="page"]')).to_have_text("Members")

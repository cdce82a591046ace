"""The analytics charts draw the API's buckets (issue 18): the step comes from the chosen
range, never guessed from the rows; one measure at a time on one axis; money ticks in
whole units; an empty state when nothing happened; a lone point in the middle."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import Account, Seeded, backdate_click, make_account, seed
from .test_analytics import _copies_of_a_click
from .test_browser import _sign_in

ZONE = "Asia/Kolkata"  # not UTC, and half an hour off it
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
STEPS = {"24h": "hour", "30d": "day", "1y": "month", "all": "month"}


def _label(start: str, step: str) -> str:
    month = MONTHS[int(start[5:7]) - 1]
    if step == "hour":
        return start[11:16]
    if step == "month":
        return f"{month} {start[:4]}"
    return f"{month} {int(start[8:10])}"


def _drawn(page: Page) -> dict[str, Any]:
    """The time-series chart as Chart.js holds it, its y tick labels and where its first
    point sits in the plotting area."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const chart = window.Chart.getChart(document.getElementById("timeseries-chart"));
          const point = chart.getDatasetMeta(0).data[0];
          return {
            labels: chart.data.labels,
            values: chart.data.datasets[0].data,
            datasets: chart.data.datasets.length,
            axes: Object.keys(chart.scales).filter(id => chart.scales[id].axis === "y").length,
            ticks: chart.scales.y.ticks.map(t => t.label),
            x: point ? point.x : null,
            left: chart.chartArea.left,
            right: chart.chartArea.right,
          };
        }"""
    )
    return found


@pytest.fixture
def seeded_page(server: LiveServer, browser: Browser) -> Any:
    account = make_account(server)
    seeded = seed(server, account)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    yield page, account, seeded
    assert errors.messages == []
    context.close()


def _open(page: Page, server: LiveServer, account: Account, query: str) -> None:
    page.goto(f"{server.base}/dashboard/{account.slug}/analytics?{query}")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")


def test_the_buckets_drawn_are_the_apis_in_a_non_utc_zone(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = seeded_page
    api = server.client(seeded.token)
    for interval, step in STEPS.items():
        _open(page, server, account, f"interval={interval}&timezone={ZONE}")
        answer = api.get(
            "/api/analytics",
            params={"event": "clicks", "groupBy": "timeseries", "interval": interval,
                    "timezone": ZONE},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        drawn = _drawn(page)
        assert drawn["values"] == [row["clicks"] for row in rows], interval
        assert drawn["labels"] == [_label(row["start"], step) for row in rows], interval
        assert sum(drawn["values"]) == 3
        expect(page.locator("#timeseries-chart")).to_have_attribute("data-step", step)
        expect(page.locator("#granularity")).to_have_text(f"by {step} · {ZONE}")
        assert drawn["datasets"] == 1
        assert drawn["axes"] == 1
    # "All time" of a workspace whose events are all from today: one monthly bucket, this
    # month, its point in the middle of the chart rather than on the y-axis.
    assert len(rows) == 1
    middle = (drawn["left"] + drawn["right"]) / 2
    assert abs(drawn["x"] - middle) < 2, drawn


def test_each_measure_has_its_tab_and_money_ticks_are_whole(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    _open(page, server, account, "interval=24h&timezone=UTC")
    expect(page.locator("#tab-clicks")).to_have_attribute("aria-selected", "true")
    page.click("#tab-saleAmount")
    expect(page.locator("#tab-saleAmount")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-clicks")).to_have_attribute("aria-selected", "false")
    expect(page.locator("#over-time-title")).to_have_text("Revenue over time")
    drawn = _drawn(page)
    assert sum(drawn["values"]) == 49
    assert drawn["ticks"]
    assert all(t.startswith("$") and "." not in t for t in drawn["ticks"])
    # The keyboard moves between tabs with the arrow keys.
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-sales")).to_be_focused()
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-metric", "sales")
    assert sum(_drawn(page)["values"]) == 1


def test_an_empty_range_says_so_and_reads_whole_dollars(
    server: LiveServer, browser: Browser
) -> None:
    account = make_account(server)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    _open(page, server, account, "interval=30d&timezone=UTC")
    expect(page.locator("#chart-empty")).to_be_visible()
    expect(page.locator("#chart-empty")).to_have_text("No clicks in this period.")
    page.click("#tab-saleAmount")
    expect(page.locator("#chart-empty")).to_have_text("No revenue in this period.")
    ticks = _drawn(page)["ticks"]
    assert ticks
    assert all("." not in t for t in ticks), ticks  # not "$0.01, $0.01, $0.00"
    assert len(set(ticks)) == len(ticks), ticks
    assert errors.messages == []
    context.close()


def test_a_range_with_events_shows_no_empty_state(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    _open(page, server, account, "interval=7d")
    expect(page.locator("#chart-empty")).to_be_hidden()
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-empty", "false")


def test_cards_show_the_change_and_bars_their_share_and_a_csv_downloads(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    backdate_click(server, account.workspace_id, days=10)
    _open(page, server, account, f"interval=7d&timezone={ZONE}")
    clicks = page.locator('[data-change="clicks"]')
    expect(clicks).to_have_attribute("data-trend", "up")
    expect(clicks.locator("[aria-hidden]")).to_have_text("▲ 200%")  # 3 against 1
    expect(clicks.locator(".sr-only")).to_have_text("up 200% on the previous period")
    expect(page.locator('[data-change="leads"] [aria-hidden]')).to_have_text("new")
    shares = page.locator('[data-breakdown="referers"] .bar-share')
    expect(shares).to_have_text(["33.3%", "33.3%", "33.3%"])
    link = page.locator('[data-csv="devices"]')
    href = link.get_attribute("href")
    assert href is not None
    assert "format=csv" in href
    assert "interval=7d" in href
    assert "timezone=Asia%2FKolkata" in href
    with page.expect_download() as download:
        link.click()
    saved = download.value
    assert saved.suggested_filename == f"codeqr-{account.slug}-devices-7d.csv"
    text = Path(saved.path()).read_text()
    assert text.splitlines()[0].startswith("Device,Value,Clicks")
    assert "Desktop,Desktop,2,1,1,49.00,66.7%" in text.splitlines()  # this week's only
    # All time has nothing before it: no change shown.
    _open(page, server, account, "interval=all")
    expect(page.locator('[data-change="clicks"]')).to_have_attribute("data-trend", "none")
    expect(page.locator('[data-change="clicks"]')).to_have_text("")


def test_the_measure_chosen_survives_a_reload_and_a_new_period(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    _open(page, server, account, "interval=24h&timezone=UTC")
    page.click("#tab-sales")
    assert "metric=sales" in page.url
    page.reload()
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator("#tab-sales")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-metric", "sales")
    page.select_option("#interval", "7d")  # the form submits itself
    expect(page).to_have_url(re.compile(r"interval=7d"))
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-metric", "sales")
    page.click("#tab-leads")
    page.locator('[data-breakdown="devices"] a.bar').first.click()  # a filter keeps it too
    expect(page.locator(".chip")).to_contain_text("Desktop")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-metric", "leads")


def _custom_ranges() -> list[tuple[str, str, str]]:
    """Custom ranges ending today in ``ZONE`` (where the seeded events are), one per step:
    two days (hours), ten days (days), two hundred days (months)."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    return [
        ((today - timedelta(days=back)).isoformat(), today.isoformat(), step)
        for back, step in ((1, "hour"), (10, "day"), (200, "month"))
    ]


def test_a_custom_range_draws_the_apis_buckets_with_the_apis_step(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = seeded_page
    api = server.client(seeded.token)
    for start, end, step in _custom_ranges():
        _open(page, server, account, f"start={start}&end={end}&timezone={ZONE}")
        expect(page.locator("#range-start")).to_have_value(start)
        expect(page.locator("#range-end")).to_have_value(end)
        expect(page.locator("#interval")).to_have_value("")
        answer = api.get(
            "/api/analytics",
            params={"event": "clicks", "groupBy": "timeseries", "start": start, "end": end,
                    "timezone": ZONE},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        drawn = _drawn(page)
        assert drawn["values"] == [row["clicks"] for row in rows], step
        assert drawn["labels"] == [_label(row["start"], step) for row in rows], step
        assert sum(drawn["values"]) == 3
        expect(page.locator("#timeseries-chart")).to_have_attribute("data-step", step)
        # The CSV of a breakdown covers the same range.
        href = page.locator('[data-csv="devices"]').get_attribute("href") or ""
        assert f"start={start}" in href
        assert f"end={end}" in href
        assert "interval" not in href


def test_dates_picked_in_the_form_show_that_range_and_a_preset_replaces_it(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    start, end, _ = _custom_ranges()[1]
    _open(page, server, account, f"interval=7d&timezone={ZONE}")
    page.fill("#range-start", start)
    page.fill("#range-end", end)  # both dates given: the form submits itself
    expect(page).to_have_url(re.compile(rf"start={start}&end={end}"))
    assert "interval" not in page.url
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator("#timeseries-chart")).to_have_attribute("data-step", "day")
    assert len(_drawn(page)["values"]) == 11
    page.select_option("#interval", "24h")
    expect(page).to_have_url(re.compile(r"interval=24h"))
    assert "start=" not in page.url
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator("#range-start")).to_have_value("")


def test_a_range_ending_before_it_starts_says_so_without_loading(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    page.goto(f"{server.base}/dashboard/{account.slug}/analytics?start=2026-03-10&end=2026-03-01")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "error")
    expect(page.locator("#range-error")).to_contain_text("end: must be after start")
    expect(page.locator("#range-start")).to_have_attribute("aria-invalid", "true")


def test_new_breakdowns_filter_and_view_all_shows_every_row(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, _ = seeded_page
    _copies_of_a_click(
        server, account.workspace_id, referer=[f"r{n:02}.example" for n in range(12)]
    )
    _open(page, server, account, "interval=24h&timezone=UTC")
    referers = page.locator('[data-breakdown="referers"]')
    expect(referers.locator(".bar")).to_have_count(10)
    button = referers.locator("[data-view-all]")
    expect(button).to_be_visible()
    expect(page.locator('[data-breakdown="devices"] [data-view-all]')).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(referers.locator(".bar")).to_have_count(15)
    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(referers.locator(".bar")).to_have_count(10)
    # Cards of several breakdowns show one at a time; the others load when chosen.
    expect(page.locator('[data-breakdown="triggers"]')).to_be_hidden()
    expect(page.locator('[data-breakdown="triggers"] .skeleton-row')).to_have_count(3)
    page.click("#bdt-triggers")
    expect(page.locator("#bdt-triggers")).to_have_attribute("aria-selected", "true")
    expect(page.locator('[data-breakdown="devices"]')).to_be_hidden()
    triggers = page.locator('[data-breakdown="triggers"] a.bar')
    expect(triggers).to_have_count(1)
    expect(triggers.locator(".bar-label")).to_have_text("Link click")
    page.keyboard.press("ArrowLeft")  # the arrow keys move between a card's tabs
    expect(page.locator("#bdt-os")).to_be_focused()
    page.locator('[data-breakdown="os"] a.bar').first.click()
    expect(page.locator(".chip .chip-name")).to_have_text("OS")
    expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
    expect(page.locator('[data-breakdown="utm_sources"] .bar-label')).to_have_text("No UTM source")
    page.click("#bdt-cities")
    expect(page.locator('[data-breakdown="cities"] .bar-label')).to_have_text("Unknown")


def test_a_link_page_draws_that_links_buckets_and_its_qr_follows_the_style(
    server: LiveServer, seeded_page: tuple[Page, Account, Seeded]
) -> None:
    page, account, seeded = seeded_page
    api = server.client(seeded.token)
    other = api.post("/api/links", json={"url": "https://shop.example/other", "key": "other"})
    assert other.status_code == 200
    visit = server.client().get("/other", headers={"user-agent": DESKTOP_UA})
    assert visit.status_code == 302
    for interval, step in STEPS.items():
        page.goto(
            f"{server.base}/dashboard/{account.slug}/links/{seeded.link_id}"
            f"?interval={interval}&timezone={ZONE}"
        )
        expect(page.locator("#analytics")).to_have_attribute("data-state", "ready")
        rows = api.get(
            "/api/analytics",
            params={"event": "clicks", "groupBy": "timeseries", "interval": interval,
                    "timezone": ZONE, "linkId": seeded.link_id},
        ).json()  # fmt: skip
        drawn = _drawn(page)
        assert drawn["values"] == [row["clicks"] for row in rows], interval
        assert drawn["labels"] == [_label(row["start"], step) for row in rows], interval
        assert sum(drawn["values"]) == 3  # not the other link's click
    expect(page.locator('[data-kpi="leads"]')).to_have_text("1")
    expect(page.locator("#funnel-table tbody tr")).to_have_count(3)
    expect(page.locator('[data-breakdown="referers"] a.bar')).to_have_count(3)
    href = page.locator('[data-breakdown="referers"] a.bar').first.get_attribute("href") or ""
    assert href.startswith(f"/dashboard/{account.slug}/analytics?")
    assert f"linkId={seeded.link_id}" in href
    expect(page.locator(".recent-event")).to_have_count(5)
    # The QR code: the preview follows the style chosen, and the download has it.
    page.fill("#qr-fg", "#b91c1c")
    page.check("#qr-logo")
    expect(page.locator("#qr-preview")).to_have_attribute("src", re.compile(r"fg=%23b91c1c"))
    expect(page.locator("#qr-preview")).to_have_attribute("src", re.compile(r"logo=true"))
    page.select_option("#qr-size", "300")
    with page.expect_download() as download:
        page.click("#qr-png")
    saved = download.value
    assert saved.suggested_filename == "qr-spring.png"
    image = Image.open(saved.path()).convert("RGB")
    assert image.size == (300, 300)
    assert (0xB9, 0x1C, 0x1C) in {colour for _, colour in image.getcolors(100_000) or []}
    # The editor is one click away.
    page.click(".link-tabs >> text=Edit")
    expect(page.locator("form.form input[name=url]")).to_have_value("https://shop.example/p")

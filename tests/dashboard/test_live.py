"""The live events page (issue 18): the newest events on open, relative times, a filter by
type and a pause; the stream resumes after the newest event shown."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, expect

from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import dash, make_account, seed
from .test_browser import _sign_in


def _history(html: str) -> list[dict[str, object]]:
    found = re.search(r'<script type="application/json" id="history">(.*?)</script>', html, re.S)
    assert found, html
    items: list[dict[str, object]] = json.loads(found.group(1))
    return items


def _click(server: LiveServer, key: str, n: int) -> str:
    """A click by a visitor of its own (the dedupe counts one per visitor and hour)."""
    visit = server.client().get(f"/{key}", headers={"user-agent": f"{DESKTOP_UA} visitor/{n}"})
    assert visit.status_code == 302, visit.text
    return parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]


def test_the_page_comes_with_the_newest_fifty_events_of_its_workspace(
    server: LiveServer,
) -> None:
    owner, other = dash(server), dash(server)
    seeded = seed(server, owner.account)
    history = _history(owner.get("/events").text)
    assert [item["type"] for item in history] == ["click", "click", "click", "lead", "sale"]
    ids = [str(item["id"]) for item in history]
    assert ids == sorted(ids, key=str.encode)  # oldest first
    assert _history(other.get("/events").text) == []  # another workspace's are not shown
    for n in range(52):
        _click(server, seeded.key, n)
    history = _history(owner.get("/events").text)
    assert len(history) == 50
    assert all(item["type"] == "click" for item in history)  # the 52 newest clicks win


def test_history_cannot_close_its_script_element(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    api = server.client(seeded.token)
    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": _click(server, seeded.key, 99),
            "eventName": "</script><img src=x onerror=alert(1)>",
            "customerExternalId": "user-99",
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text
    html = owner.get("/events").text
    assert "<img src=x" not in html
    assert _history(html)[-1]["data"]["eventName"] == "</script><img src=x onerror=alert(1)>"  # type: ignore[index]


def test_a_plan_without_the_stream_gets_no_history(server: LiveServer) -> None:
    owner = dash(server, plan="free")
    html = owner.get("/events").text
    assert 'id="history"' not in html


def test_history_filter_pause_and_resume(server: LiveServer, browser: Browser) -> None:
    account = make_account(server)
    seeded = seed(server, account)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/events")
    events = page.locator("#feed .event")
    expect(events).to_have_count(5)  # before any new event, and before the stream opens
    expect(page.locator("#feed-empty")).to_be_hidden()
    expect(events.first).to_have_attribute("data-kind", "sale")
    expect(events.first.locator("time")).to_have_text("just now")
    expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    expect(events).to_have_count(5)  # the stream resumed after the newest: nothing twice

    page.click("[data-show=sale]")
    expect(page.locator("#feed .event:visible")).to_have_count(1)
    page.click("[data-show=refund]")
    expect(page.locator("#feed .event:visible")).to_have_count(0)
    expect(page.locator("#feed-none")).to_have_text("No refunds among the latest events.")
    page.click("[data-show=all]")
    expect(page.locator("#feed .event:visible")).to_have_count(5)

    page.click("#pause")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    _click(server, seeded.key, 1)
    expect(page.locator("#held")).to_have_text("1 new event held while paused")
    expect(events).to_have_count(5)
    page.click("#pause")
    expect(events).to_have_count(6)
    expect(events.first).to_have_attribute("data-kind", "click")
    expect(page.locator("#held")).to_have_text("")
    assert errors.messages == []
    context.close()


def test_the_empty_state_does_not_promise_a_repeat_click(
    server: LiveServer, browser: Browser
) -> None:
    account = make_account(server)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/events")
    empty = page.locator("#feed-empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("within an hour count once")
    context.close()


def test_the_feed_shows_one_link_at_a_time(server: LiveServer, browser: Browser) -> None:
    account = make_account(server)
    seeded = seed(server, account)
    made = {"url": "https://shop.example/q", "key": "autumn", "trackConversion": True}
    other = server.client(seeded.token).post("/api/links", json=made)
    assert other.status_code == 200, other.text
    _click(server, "autumn", 7)
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors(page)
    _sign_in(page, server, account)
    page.goto(f"{server.base}/dashboard/{account.slug}/events")
    expect(page.locator("#feed .event")).to_have_count(6)
    choices = page.locator("#feed-link option")
    expect(choices).to_have_count(3)  # all, and each link seen in the feed
    page.select_option("#feed-link", other.json()["id"])
    visible = page.locator("#feed .event:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text("/autumn")
    page.click("[data-show=sale]")
    expect(visible).to_have_count(0)
    none = "No sales of this link among the latest events."
    expect(page.locator("#feed-none")).to_have_text(none)
    page.select_option("#feed-link", "")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text("/spring")
    assert errors.messages == []
    context.close()

"""What is recorded for a click, and what is not (SPEC §3.3)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from codeqr.events.enrich import is_bot
from codeqr.kit.clock import now_ms

from .conftest import MakeServer
from .helpers import (
    BOTS,
    CHROME_WINDOWS,
    FIREFOX_LINUX,
    IPHONE_SAFARI,
    Shortener,
    browser_ua,
    cq_id_of,
    query_of,
)


@pytest.mark.parametrize("bot", BOTS.values(), ids=BOTS.keys())
def test_bots_are_redirected_but_not_counted(shortener: Shortener, bot: str) -> None:
    link = shortener.link(trackConversion=True)
    response = shortener.visit(link, user_agent=bot)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/landing"
    assert "cq_id" not in query_of(response.headers["location"])
    shortener.assert_counted(link, 0)


def test_missing_user_agent_is_not_counted(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    client = shortener.visitor()
    del client.headers["User-Agent"]
    response = client.get(f"/{link['key']}")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/landing"
    shortener.assert_counted(link, 0)


def test_head_is_redirected_but_not_counted(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    response = shortener.visit(link, method="HEAD")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/landing"
    shortener.assert_counted(link, 0)


def test_no_track_header_is_not_counted(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    response = shortener.visit(link, headers={"codeqr-no-track": "1"})
    assert response.status_code == 302
    assert "cq_id" not in query_of(response.headers["location"])
    shortener.assert_counted(link, 0)


def test_same_visitor_within_the_hour_is_one_click(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    first = cq_id_of(shortener.visit(link).headers["location"])
    second = cq_id_of(shortener.visit(link, params="again=1").headers["location"])
    assert second == first
    shortener.assert_counted(link, 1)


def test_a_repeat_within_the_hour_skips_the_bot_rules(
    shortener: Shortener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A repeat is answered from memory: its user agent was no bot's when its first click was
    # stored, so the bot rules (the dearest step of a redirect that stores nothing) stay idle.
    from codeqr.redirect import handler

    asked: list[str] = []

    def counting_is_bot(user_agent: str) -> bool:
        asked.append(user_agent)
        return is_bot(user_agent)

    monkeypatch.setattr(handler, "is_bot", counting_is_bot)
    link = shortener.link(trackConversion=True)
    first = cq_id_of(shortener.visit(link).headers["location"])
    again = [cq_id_of(shortener.visit(link).headers["location"]) for _ in range(3)]
    assert again == [first] * 3
    assert asked == [CHROME_WINDOWS]
    shortener.visit(link, user_agent=BOTS["googlebot"])
    assert asked == [CHROME_WINDOWS, BOTS["googlebot"]]
    shortener.assert_counted(link, 1)


def test_same_visitor_at_the_same_moment_is_one_click(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: shortener.visit(link), range(12)))
    ids = {cq_id_of(r.headers["location"]) for r in responses}
    assert len(ids) == 1
    assert [c["id"] for c in shortener.clicks(link)] == list(ids)
    shortener.assert_counted(link, 1)


def test_another_user_agent_is_another_click(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    first = cq_id_of(shortener.visit(link, user_agent=CHROME_WINDOWS).headers["location"])
    second = cq_id_of(shortener.visit(link, user_agent=FIREFOX_LINUX).headers["location"])
    assert second != first
    assert {c["id"] for c in shortener.clicks(link)} == {first, second}
    shortener.assert_counted(link, 2)


def test_same_visitor_on_another_link_is_another_click(shortener: Shortener) -> None:
    one = shortener.link(trackConversion=True)
    two = shortener.link(trackConversion=True)
    first = cq_id_of(shortener.visit(one).headers["location"])
    second = cq_id_of(shortener.visit(two).headers["location"])
    assert first != second
    shortener.assert_counted(one, 1)
    shortener.assert_counted(two, 1)


def test_dedupe_survives_a_restart(make_server: MakeServer) -> None:
    before = Shortener.on(make_server())
    link = before.link(trackConversion=True)
    first = cq_id_of(before.visit(link).headers["location"])
    before.server.stop()
    # Same database, fresh process memory: the events store has to answer.
    server = make_server(default_domain=link["domain"])
    after = Shortener(server, before.tenant, server.client(before.tenant.token))
    assert cq_id_of(after.visit(link).headers["location"]) == first
    after.assert_counted(link, 1)


def test_click_is_recorded_with_time_and_ownership(shortener: Shortener) -> None:
    link = shortener.link(url="https://example.com/a?x=1")
    before = now_ms()
    shortener.visit(link, params="y=2")
    after = now_ms()
    (click,) = shortener.clicks(link)
    assert re.fullmatch(r"[0-9A-Za-z]{16}", click["id"])
    assert before <= click["timestamp"] <= after
    assert click["workspace_id"] == shortener.tenant.workspace_id
    assert click["domain"] == link["domain"]
    assert click["key"] == link["key"]
    # The link's destination, not the visitor-merged Location.
    assert click["url"] == "https://example.com/a?x=1"


def test_trigger_is_link_by_default(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link)
    assert [c["trigger"] for c in shortener.clicks(link)] == ["link"]


def test_trigger_is_qr_with_qr_1(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link, params="qr=1")
    assert [c["trigger"] for c in shortener.clicks(link)] == ["qr"]


def test_trigger_needs_exactly_qr_1(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link, params="xqr=1", user_agent=browser_ua(1))
    shortener.visit(link, params="qr=10", user_agent=browser_ua(2))
    assert [c["trigger"] for c in shortener.clicks(link)] == ["link", "link"]


def test_chrome_on_windows_is_parsed(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link, user_agent=CHROME_WINDOWS)
    (click,) = shortener.clicks(link)
    assert (click["device"], click["browser"], click["os"]) == ("Desktop", "Chrome", "Windows")
    assert click["browser_version"].startswith("131")
    assert click["os_version"] == "10"
    assert click["engine"] == "Blink"
    assert click["ua"] == CHROME_WINDOWS


def test_iphone_safari_is_parsed(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link, user_agent=IPHONE_SAFARI)
    (click,) = shortener.clicks(link)
    assert (click["device"], click["browser"], click["os"]) == ("Mobile", "Mobile Safari", "iOS")
    assert click["os_version"].startswith("17.5")
    assert click["engine"] == "WebKit"


def test_referer_is_direct_without_a_referer(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link)
    (click,) = shortener.clicks(link)
    assert click["referer"] == "(direct)"
    assert click["referer_url"] == ""


def test_referer_host_drops_www_and_keeps_the_url(shortener: Shortener) -> None:
    link = shortener.link()
    referer = "https://www.News.example.org:8443/story?id=7#top"
    shortener.visit(link, headers={"Referer": referer})
    (click,) = shortener.clicks(link)
    assert click["referer"] == "news.example.org"
    assert click["referer_url"] == referer


def test_identity_hash_is_32_hex(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link)
    (click,) = shortener.clicks(link)
    assert re.fullmatch(r"[0-9a-f]{32}", click["identity_hash"])
    assert "127.0.0.1" not in click["identity_hash"]


def test_raw_ip_is_not_stored_by_default(shortener: Shortener) -> None:
    link = shortener.link()
    shortener.visit(link)
    (click,) = shortener.clicks(link)
    assert click["ip"] is None
    stored = {name: value for name, value in click.items() if name != "domain"}
    assert all("127.0.0" not in str(value) for value in stored.values())


def test_keep_ip_stores_the_ip_cut_to_24_bits(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(keep_ip=True))
    link = shortener.link()
    shortener.visit(link)
    (click,) = shortener.clicks(link)
    assert click["ip"] == "127.0.0.0"


def test_keep_ip_truncates_the_forwarded_client_ip(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(keep_ip=True, trusted_proxies=["127.0.0.1/32"]))
    link = shortener.link()
    shortener.visit(link, headers={"X-Forwarded-For": "81.2.69.142"})
    (click,) = shortener.clicks(link)
    assert click["ip"] == "81.2.69.0"


def test_counter_equals_stored_clicks_after_a_mixed_crowd(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    shortener.visit(link, user_agent=browser_ua(1))
    shortener.visit(link, user_agent=browser_ua(1))  # repeat
    shortener.visit(link, user_agent=browser_ua(2), params="qr=1")
    shortener.visit(link, user_agent=BOTS["googlebot"])
    shortener.visit(link, user_agent=browser_ua(3), method="HEAD")
    shortener.visit(link, user_agent=browser_ua(4), headers={"codeqr-no-track": "1"})
    shortener.visit(link, user_agent=IPHONE_SAFARI)
    shortener.assert_counted(link, 3)


def test_counter_equals_stored_clicks_under_concurrency(shortener: Shortener) -> None:
    link = shortener.link(trackConversion=True)
    # 40 distinct visitors, each twice, all at once: group commit and dedupe together.
    visitors = [browser_ua(n) for n in range(40)] * 2
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda ua: shortener.visit(link, user_agent=ua), visitors))
    assert all(r.status_code == 302 for r in responses)
    ids = {cq_id_of(r.headers["location"]) for r in responses}
    assert {c["id"] for c in shortener.clicks(link)} == ids
    shortener.assert_counted(link, 40)


def test_an_address_rotating_user_agents_is_recorded_up_to_the_ceiling(
    make_server: MakeServer,
) -> None:
    # The default ceiling: 20 clicks per address and link an hour.
    shortener = Shortener.on(make_server(trusted_proxies=["127.0.0.1/32"]))
    link = shortener.link(trackConversion=True)
    rotating = {"X-Forwarded-For": "81.2.69.142"}
    answers = [shortener.visit(link, user_agent=browser_ua(n), headers=rotating) for n in range(25)]
    assert [r.status_code for r in answers] == [302] * 25
    assert all(r.headers["location"].startswith("https://example.com/landing") for r in answers)
    assert all("cq_id=" in r.headers["location"] for r in answers[:20])
    assert all("cq_id=" not in r.headers["location"] for r in answers[20:])
    shortener.assert_counted(link, 20)
    # A visitor already recorded still gets their click id back; other addresses and other
    # links are counted on their own.
    again = shortener.visit(link, user_agent=browser_ua(0), headers=rotating)
    assert cq_id_of(again.headers["location"]) == cq_id_of(answers[0].headers["location"])
    other = shortener.visit(
        link, user_agent=browser_ua(99), headers={"X-Forwarded-For": "81.2.70.1"}
    )
    assert "cq_id=" in other.headers["location"]
    second = shortener.link(trackConversion=True)
    assert "cq_id=" in shortener.visit(second, headers=rotating).headers["location"]
    shortener.assert_counted(link, 21)


def test_the_click_ceiling_is_a_setting(make_server: MakeServer) -> None:
    shortener = Shortener.on(
        make_server(trusted_proxies=["127.0.0.1/32"], click_ceiling_per_hour=0)
    )
    link = shortener.link()
    for n in range(25):
        shortener.visit(link, user_agent=browser_ua(n), headers={"X-Forwarded-For": "81.2.69.142"})
    shortener.assert_counted(link, 25)

"""The user-agent rules behind a click's device, browser, OS and engine, and bot detection."""

from __future__ import annotations

import crawleruseragents
import pytest

from codeqr.events.enrich import Agent, IdentityHasher, is_bot, parse_agent

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/112.0 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/112.0 Mobile Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0"
IE = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"
OPERA = "Opera/9.80 (Windows NT 6.0) Presto/2.12.388 Version/12.14"
# WebKit and a Gecko/ token both: Gecko is named first, as it always was.
WEBKIT_AND_GECKO = (
    "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/535.19 "
    "(KHTML, like Gecko) Silk/3.4 Mobile Safari/535.19 Gecko/1"
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_WINDOWS, Agent("Desktop", "Chrome", "120.0", "Windows", "10", "Blink")),
        (SAFARI_IPHONE, Agent("Mobile", "Mobile Safari", "17.1", "iOS", "17.1", "WebKit")),
        (SAFARI_IPAD, Agent("Tablet", "Mobile Safari", "16.0", "iOS", "16.0", "WebKit")),
        (ANDROID_TABLET, Agent("Tablet", "Chrome", "112.0", "Android", "13", "Blink")),
        (ANDROID_PHONE, Agent("Mobile", "Chrome", "112.0", "Android", "13", "Blink")),
        (FIREFOX_LINUX, Agent("Desktop", "Firefox", "119.0", "Linux", "", "Gecko")),
        (IE, Agent("Desktop", "IE", "10.0", "Windows", "7", "Trident")),
        (OPERA, Agent("Desktop", "Opera", "12.14", "Windows", "Vista", "Presto")),
        (WEBKIT_AND_GECKO, Agent("Tablet", "Amazon Silk", "3.4", "Android", "4.0", "Gecko")),
        ("", Agent("Unknown", "Unknown", "", "Unknown", "", "Unknown")),
    ],
)
def test_a_user_agent_gives_its_device_browser_os_and_engine(
    user_agent: str, expected: Agent
) -> None:
    assert parse_agent(user_agent) == expected


def test_every_example_of_the_crawler_list_is_a_bot() -> None:
    examples = [
        example
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for example in entry.get("instances", [])
    ]
    assert len(examples) > 1000
    assert [ua for ua in examples if not is_bot(ua)] == []


@pytest.mark.parametrize(
    "user_agent",
    [CHROME_WINDOWS, SAFARI_IPHONE, SAFARI_IPAD, ANDROID_PHONE, FIREFOX_LINUX, IE, OPERA],
)
def test_browsers_are_not_bots(user_agent: str) -> None:
    assert not is_bot(user_agent)


@pytest.mark.parametrize(
    "user_agent",
    ["", "Mozilla/5.0", "MOZILLA/5.0", "Mozilla/5.0 HeadlessChrome/120", "Link Preview Bot"],
)
def test_empty_headless_and_preview_agents_are_bots(user_agent: str) -> None:
    assert is_bot(user_agent)


def test_a_bot_still_gets_its_own_name_when_parsed() -> None:
    # One pass of the rules tells bots from browsers; a bot's agent is worked out apart.
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert is_bot(googlebot)
    assert parse_agent(googlebot) == Agent("Desktop", "Googlebot", "2.1", "Unknown", "", "Unknown")


def test_a_visitors_identity_holds_for_a_utc_day_and_changes_with_it() -> None:
    hasher = IdentityHasher("secret")
    day = 20_000 * 86_400_000  # a UTC midnight, in ms
    morning = hasher("203.0.113.9", CHROME_WINDOWS, day + 1)
    assert hasher("203.0.113.9", CHROME_WINDOWS, day + 86_399_999) == morning
    assert hasher("203.0.113.9", CHROME_WINDOWS, day + 86_400_000) != morning
    assert hasher("203.0.113.9", CHROME_WINDOWS, day - 1) != morning
    assert hasher("203.0.113.9", CHROME_WINDOWS, day + 1) == morning  # back again: same key
    assert hasher("203.0.113.10", CHROME_WINDOWS, day + 1) != morning
    assert hasher("203.0.113.9", FIREFOX_LINUX, day + 1) != morning
    assert IdentityHasher("other")("203.0.113.9", CHROME_WINDOWS, day + 1) != morning
    assert hasher("203.0.113.9", CHROME_WINDOWS) == hasher("203.0.113.9", CHROME_WINDOWS)

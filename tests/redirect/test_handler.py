"""The redirect itself: lookup, cache, headers, expiry, and whatever a visitor sends (§3.2, §8)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from .helpers import CHROME_WINDOWS, RawResponse, Shortener, browser_ua, raw_get

PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()
FUTURE = (datetime.now(UTC) + timedelta(days=1)).isoformat()
# User agents whose parsed names or versions are longer than their click_events columns.
LONG_BROWSER_VERSION = CHROME_WINDOWS.replace("131.0.0.0", "1" * 100 + "." + "2" * 100)
LONG_OS_VERSION = (
    "Mozilla/5.0 (Linux; Android " + "9" * 80 + "." + "1" * 80 + "; Pixel) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
LONG_BROWSER_NAME = "A" * 300 + "/1.0 CFNetwork/1.0 Darwin/20.0"


def assert_not_found_page(status: int, content_type: str, body: str) -> None:
    assert status == 404
    assert content_type.startswith("text/html")
    assert "Link not found" in body


def assert_no_error_page(response: RawResponse) -> None:
    """Answered by the redirect (302 or one of its pages), never a server or framework error."""
    assert response.status < 500, response
    if response.status != 302:
        assert response.headers["content-type"].startswith("text/html"), response
        assert b"Internal Server Error" not in response.body
    assert response.headers["cache-control"] == "private, no-store"


def test_known_key_redirects_with_302(shortener: Shortener) -> None:
    link = shortener.link(url="https://example.com/landing")
    response = shortener.visit(link)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/landing"
    assert response.content == b""


def test_302_is_not_cacheable_and_not_indexed(shortener: Shortener) -> None:
    link = shortener.link()
    response = shortener.visit(link)
    assert response.status_code == 302
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-robots-tag"] == "noindex"


def test_unknown_key_gets_the_404_page_and_no_click(shortener: Shortener) -> None:
    response = shortener.visit("/does-not-exist")
    assert_not_found_page(response.status_code, response.headers["content-type"], response.text)
    assert response.headers["x-robots-tag"] == "noindex"
    assert shortener.clicks() == []


def test_key_lookup_is_case_insensitive(shortener: Shortener) -> None:
    link = shortener.link(key="Spring-Sale")
    for path in ("/Spring-Sale", "/spring-sale", "/SPRING-SALE"):
        response = shortener.visit(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == "https://example.com/landing"
    (click,) = shortener.clicks(link)  # one visitor, so one click
    assert click["key"] == "Spring-Sale"


def test_trailing_slash_reaches_the_link(shortener: Shortener) -> None:
    link = shortener.link()
    response = shortener.visit(f"/{link['key']}/")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/landing"


def test_unicode_key_reaches_its_link(shortener: Shortener) -> None:
    link = shortener.link(key="été-2026")
    response = shortener.visit("/" + quote("été-2026"))
    assert response.status_code == 302
    shortener.assert_counted(link, 1)


def test_expired_link_with_expired_url_redirects_there_without_a_click(
    shortener: Shortener,
) -> None:
    link = shortener.link(
        trackConversion=True, expiresAt=PAST, expiredUrl="https://example.com/too-late"
    )
    response = shortener.visit(link, params="a=1")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/too-late"
    assert response.headers["cache-control"] == "private, no-store"
    shortener.assert_counted(link, 0)


def test_expired_link_without_expired_url_gets_410_without_a_click(shortener: Shortener) -> None:
    link = shortener.link(expiresAt=PAST)
    response = shortener.visit(link)
    assert response.status_code == 410
    assert response.headers["content-type"].startswith("text/html")
    assert "expired" in response.text
    shortener.assert_counted(link, 0)


def test_link_expiring_later_still_redirects(shortener: Shortener) -> None:
    link = shortener.link(expiresAt=FUTURE, expiredUrl="https://example.com/too-late")
    response = shortener.visit(link)
    assert response.headers["location"] == "https://example.com/landing"
    shortener.assert_counted(link, 1)


def test_update_takes_effect_on_the_next_redirect(shortener: Shortener) -> None:
    link = shortener.link(url="https://example.com/old")
    assert shortener.visit(link).headers["location"] == "https://example.com/old"  # cached now
    for n in range(5):
        shortener.update(link, url=f"https://example.com/new-{n}")
        response = shortener.visit(link, user_agent=browser_ua(n))
        assert response.headers["location"] == f"https://example.com/new-{n}"


def test_expiry_set_later_takes_effect_on_the_next_redirect(shortener: Shortener) -> None:
    link = shortener.link()
    assert shortener.visit(link).status_code == 302
    shortener.update(link, expiresAt=PAST)
    assert shortener.visit(link).status_code == 410


def test_deleted_link_is_404_at_once(shortener: Shortener) -> None:
    link = shortener.link()
    assert shortener.visit(link).status_code == 302  # cached now
    assert shortener.api.delete(f"/api/links/{link['id']}").status_code == 200
    response = shortener.visit(link, user_agent=browser_ua(1))
    assert response.status_code == 404
    assert len(shortener.clicks(link)) == 1  # its click stays for analytics


def test_renamed_key_frees_the_old_one_at_once(shortener: Shortener) -> None:
    link = shortener.link(key="before")
    assert shortener.visit("/before").status_code == 302
    shortener.update(link, key="after")
    assert shortener.visit("/before", user_agent=browser_ua(1)).status_code == 404
    assert shortener.visit("/after", user_agent=browser_ua(2)).status_code == 302


def test_link_created_after_a_miss_is_found_at_once(shortener: Shortener) -> None:
    assert shortener.visit("/later").status_code == 404  # the miss is cached
    shortener.link(key="later")
    assert shortener.visit("/later").status_code == 302


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_and_no_click(shortener: Shortener, method: str) -> None:
    link = shortener.link()
    response = shortener.visit(link, method=method)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    shortener.assert_counted(link, 0)


def test_post_to_an_open_link_gets_405_and_no_click(shortener: Shortener) -> None:
    link = shortener.link()
    response = shortener.visitor().post(f"/{link['key']}", data={"password": "x"})
    assert response.status_code == 405
    shortener.assert_counted(link, 0)


@pytest.mark.parametrize(
    "target",
    [
        b"/" + b"k" * 191,
        b"/" + b"k" * 5000,
        b"/abc%00def",
        b"/%00",
        b"/%ff%fe",
        b"/%C3%A9t%C3%A9",
        b"/..",
        b"/../../etc/passwd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/a//b",
        b"/a%2Fb",
        b"/%0d%0aSet-Cookie:%20x=1",
        b"/<script>alert(1)</script>",
        b"/x?" + b"q=" + b"%" * 3000,
        b"/x?%zz=%gg&&&==&a",
    ],
)
def test_weird_paths_get_a_page_not_an_error(shortener: Shortener, target: bytes) -> None:
    response = raw_get(shortener.server, target)
    assert_no_error_page(response)
    assert response.status == 404
    assert b"Link not found" in response.body
    assert b"<script>" not in response.body
    assert b"Set-Cookie" not in response.body
    assert "set-cookie" not in response.headers
    assert shortener.clicks() == []


def test_huge_query_string_still_redirects_to_the_destination(shortener: Shortener) -> None:
    link = shortener.link(url="https://example.com/landing?a=1")
    query = "&".join(f"p{n}={'v' * 50}" for n in range(400))  # ~22 kB
    response = shortener.visit(link, params=query + "&qr=1")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://example.com/landing")
    assert len(location) < 10_000
    (click,) = shortener.clicks(link)
    assert click["trigger"] == "link"  # a query too big to read is not parsed for qr=1


@pytest.mark.parametrize(
    "host",
    [
        b"evil.example",
        b"",
        b"../../..",
        b"h" * 4000,
        b"\xff\xfe\xfd",
        b"[::1]:99999",
        b"127.0.0.1:1:2:3",
    ],
)
def test_garbage_host_header_is_answered(shortener: Shortener, host: bytes) -> None:
    link = shortener.link()
    response = raw_get(shortener.server, f"/{link['key']}".encode(), host=host)
    assert_no_error_page(response)
    # Any host that is not a custom domain is the instance's default domain.
    assert response.status == 302
    assert response.headers["location"] == "https://example.com/landing"


def test_ten_kilobyte_user_agent_is_stored_bounded(shortener: Shortener) -> None:
    link = shortener.link()
    user_agent = CHROME_WINDOWS + " " + "x" * 10_000
    response = raw_get(shortener.server, f"/{link['key']}".encode(), user_agent=user_agent.encode())
    assert response.status == 302
    (click,) = shortener.clicks(link)
    assert len(click["ua"]) <= 1024
    assert click["ua"] == user_agent[: len(click["ua"])]
    assert click["browser"] == "Chrome"


def test_huge_referer_is_stored_bounded(shortener: Shortener) -> None:
    link = shortener.link()
    referer = "https://www." + "r" * 9000 + ".example/" + "p" * 9000
    shortener.visit(link, headers={"Referer": referer})
    (click,) = shortener.clicks(link)
    assert len(click["referer_url"]) <= 2048
    assert len(click["referer"]) <= 255
    assert click["referer_url"] == referer[: len(click["referer_url"])]


@pytest.mark.parametrize(
    "user_agent",
    [LONG_BROWSER_VERSION, LONG_OS_VERSION, LONG_BROWSER_NAME],
    ids=["long-browser-version", "long-os-version", "long-browser-name"],
)
def test_crafted_user_agent_is_recorded_within_column_sizes(
    shortener: Shortener, user_agent: str
) -> None:
    link = shortener.link(trackConversion=True)
    response = shortener.visit(link, user_agent=user_agent)
    assert response.status_code == 302
    (click,) = shortener.clicks(link)
    assert "cq_id=" + click["id"] in response.headers["location"]
    assert len(click["browser"]) <= 64
    assert len(click["browser_version"]) <= 32
    assert len(click["os"]) <= 64
    assert len(click["os_version"]) <= 32


def test_crafted_user_agent_does_not_cost_other_visitors_their_clicks(
    shortener: Shortener,
) -> None:
    link = shortener.link(trackConversion=True)
    # In flight together, so they share group-commit batches with the crafted one.
    agents = [browser_ua(n) for n in range(20)] + [LONG_OS_VERSION]
    with ThreadPoolExecutor(max_workers=21) as pool:
        responses = list(pool.map(lambda ua: shortener.visit(link, user_agent=ua), agents))
    assert all("cq_id=" in r.headers["location"] for r in responses)
    shortener.assert_counted(link, 21)


def test_raw_non_ascii_request_target_is_refused_by_the_http_server(
    shortener: Shortener,
) -> None:
    # Not valid HTTP/1.1: the server's parser answers before the app is called.
    response = raw_get(shortener.server, b"/\xc3\xa9t\xc3\xa9")
    assert response.status == 400
    assert shortener.clicks() == []


@pytest.mark.parametrize("target", [b"//", b"//x", b"//api/links"])
def test_empty_first_segment_gets_the_error_envelope(shortener: Shortener, target: bytes) -> None:
    # Not a key: these reach the API, whose 404 is CodeQR's own envelope, not the framework's.
    response = raw_get(shortener.server, target)
    assert response.status == 404
    assert response.headers["content-type"].startswith("application/json")
    assert b'"code":"not_found"' in response.body
    assert shortener.clicks() == []


def test_short_link_pages_cannot_be_framed(shortener: Shortener) -> None:
    protected = shortener.link(password="open sesame")
    pages = {
        "not found": shortener.visit("/no-such-key"),
        "expired": shortener.visit(shortener.link(expiresAt=PAST)),
        "password": shortener.visit(protected),
        "wrong password": shortener.visitor().post(f"/{protected['key']}", data={"password": "x"}),
    }
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
        assert response.headers["x-frame-options"] == "DENY", name
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, name
        assert "default-src 'none'" in policy, name
        assert response.headers["x-content-type-options"] == "nosniff", name

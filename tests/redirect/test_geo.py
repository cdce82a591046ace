"""Where the visitor is: trusted proxy headers, MaxMind, the offline table (SPEC §3.2–3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FIXTURES, LiveServer

from .conftest import MakeServer
from .helpers import CHROME_WINDOWS, IPHONE_SAFARI, Shortener, raw_http

CITY_DB = FIXTURES / "geoip" / "GeoIP2-City-Test.mmdb"
PROXY = ["127.0.0.1/32"]
GEO = {
    "DE": "https://example.de/",
    "GB": "https://example.co.uk/",
    "US": "https://example.com/us",
}


def geo_link(shortener: Shortener, **fields: Any) -> dict[str, Any]:
    return shortener.link(url="https://example.com/world", geo=GEO, **fields)


def test_trusted_cf_ipcountry_picks_the_geo_target(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY))
    link = geo_link(shortener)
    response = shortener.visit(link, headers={"CF-IPCountry": "DE"})
    assert response.headers["location"] == "https://example.de/"
    (click,) = shortener.clicks(link)
    assert (click["country"], click["continent"]) == ("DE", "EU")
    assert click["url"] == "https://example.de/"


def test_trusted_forwarded_ip_is_located_with_the_mmdb(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY, geoip_database=CITY_DB))
    link = geo_link(shortener)
    response = shortener.visit(link, headers={"X-Forwarded-For": "81.2.69.142"})
    assert response.headers["location"] == "https://example.co.uk/"
    (click,) = shortener.clicks(link)
    assert (click["country"], click["city"], click["continent"]) == ("GB", "London", "EU")
    assert click["region"] == "GB-ENG"


def test_forwarded_chain_uses_the_rightmost_untrusted_hop(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY, geoip_database=CITY_DB))
    link = geo_link(shortener)
    # The left-most entry is whatever the visitor sent; the proxy appended the real peer.
    forwarded = "81.2.69.142, 216.160.83.56"
    response = shortener.visit(link, headers={"X-Forwarded-For": forwarded})
    assert response.headers["location"] == "https://example.com/us"
    (click,) = shortener.clicks(link)
    assert (click["country"], click["city"]) == ("US", "Milton")


def test_trusted_geo_header_wins_over_the_mmdb(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY, geoip_database=CITY_DB))
    link = geo_link(shortener)
    headers = {"X-Forwarded-For": "81.2.69.142", "CF-IPCountry": "de"}
    response = shortener.visit(link, headers=headers)
    assert response.headers["location"] == "https://example.de/"
    (click,) = shortener.clicks(link)
    # A city of another country would be wrong: the header's country comes alone.
    assert (click["country"], click["city"], click["region"]) == ("DE", "", "")


def test_unknown_country_header_is_ignored(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY, geoip_database=CITY_DB))
    link = geo_link(shortener)
    headers = {"X-Forwarded-For": "81.2.69.142", "CF-IPCountry": "XX"}
    response = shortener.visit(link, headers=headers)
    assert response.headers["location"] == "https://example.co.uk/"


def test_spoofed_headers_are_ignored_without_trusted_proxies(server: LiveServer) -> None:
    shortener = Shortener.on(server)
    link = geo_link(shortener)
    headers = {"X-Forwarded-For": "8.8.8.8", "CF-IPCountry": "DE"}
    response = shortener.visit(link, headers=headers)
    assert response.headers["location"] == "https://example.com/world"
    (click,) = shortener.clicks(link)
    assert click["country"] == ""


def test_spoofed_headers_are_ignored_from_an_untrusted_peer(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=["10.0.0.0/8"], keep_ip=True))
    link = geo_link(shortener)
    headers = {"X-Forwarded-For": "8.8.8.8", "CF-IPCountry": "DE"}
    response = shortener.visit(link, headers=headers)
    assert response.headers["location"] == "https://example.com/world"
    (click,) = shortener.clicks(link)
    assert (click["country"], click["ip"]) == ("", "127.0.0.0")


def test_offline_table_gives_the_country_without_an_mmdb(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY))
    link = geo_link(shortener)
    response = shortener.visit(link, headers={"X-Forwarded-For": "8.8.8.8"})
    assert response.headers["location"] == "https://example.com/us"
    (click,) = shortener.clicks(link)
    assert (click["country"], click["continent"], click["city"]) == ("US", "NA", "")


def test_device_target_comes_before_the_geo_target(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY))
    link = geo_link(shortener, ios="https://apps.apple.com/app/id1")
    response = shortener.visit(link, user_agent=IPHONE_SAFARI, headers={"CF-IPCountry": "DE"})
    assert response.headers["location"] == "https://apps.apple.com/app/id1"


def test_country_without_a_target_goes_to_the_main_url(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=PROXY))
    link = geo_link(shortener)
    response = shortener.visit(link, headers={"CF-IPCountry": "FR"})
    assert response.headers["location"] == "https://example.com/world"
    (click,) = shortener.clicks(link)
    assert click["country"] == "FR"


@pytest.mark.parametrize("country", [b"\xdfx", b"\xc4\xd6", b"D", b"DEU", b"1A", b""])
def test_malformed_country_header_is_ignored(make_server: MakeServer, country: bytes) -> None:
    # trust_geo_headers believes any peer, so this is what any visitor could send.
    server = make_server(trust_geo_headers=True)
    shortener = Shortener.on(server)
    link = geo_link(shortener, trackConversion=True)
    response = raw_http(
        server,
        b"GET /"
        + link["key"].encode()
        + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: "
        + CHROME_WINDOWS.encode()
        + b"\r\nCF-IPCountry: "
        + country
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert response.status == 302
    assert response.headers["location"].startswith("https://example.com/world?cq_id=")
    (click,) = shortener.clicks(link)
    assert click["country"] == ""

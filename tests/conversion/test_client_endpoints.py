"""The client tracking routes over plain HTTP: CORS, who may call, and what gets recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from codeqr.conversion.client_endpoints import CLIENT_PATHS
from codeqr.kit.ids import is_base62
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant
from tests.redirect.helpers import CHROME_WINDOWS, FIREFOX_LINUX, Shortener

ORIGIN = "http://www.shop.test:8080"


def allow_hostnames(server: LiveServer, slug: str, hostnames: list[str]) -> None:
    """Set the workspace's allowed hostnames straight in the database."""
    with server.services.db.transaction() as session:
        ws.get_workspace(session, slug).allowed_hostnames = hostnames


def allow_client_sales(server: LiveServer, slug: str, maximum: int = 100_000) -> None:
    """Turn client sales on for the workspace, up to ``maximum`` (off by default)."""
    with server.services.db.transaction() as session:
        ws.set_client_sales(session, ws.get_workspace(session, slug), True, maximum)


@dataclass
class Site:
    """A business workspace with a publishable key, allowing ``www.shop.test``."""

    shop: Shortener
    publishable_key: str

    @classmethod
    def on(cls, server: LiveServer, hostnames: list[str] | None = None) -> Site:
        shop = Shortener.on(server)
        allow_hostnames(server, shop.tenant.slug, hostnames or ["www.shop.test"])
        return cls(shop, make_key(server, shop.tenant, publishable=True))

    def browser(
        self, *, origin: str | None = ORIGIN, token: str | None = None, ua: str = CHROME_WINDOWS
    ) -> httpx.Client:
        """A client that sends what a page's ``fetch`` would."""
        client = self.shop.server.client(token or self.publishable_key)
        client.headers["User-Agent"] = ua
        if origin:
            client.headers["Origin"] = origin
        return client

    def counters(self, link: dict[str, Any]) -> dict[str, int]:
        data = self.shop.api.get(f"/api/links/{link['id']}").json()
        return {name: int(data[name]) for name in ("clicks", "leads", "sales")}


@pytest.fixture
def site(server: LiveServer) -> Site:
    return Site.on(server)


def click(site: Site, link: dict[str, Any], **kw: Any) -> httpx.Response:
    body = {"domain": link["domain"], "key": link["key"]}
    return site.browser(**kw).post("/api/track/click", json=body)


def assert_cors(response: httpx.Response, origin: str = ORIGIN) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert "Origin" in response.headers.get_list("vary")
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("path", sorted(CLIENT_PATHS))
def test_preflight_is_answered_without_a_key(server: LiveServer, path: str) -> None:
    response = server.client().options(
        path,
        headers={
            "Origin": "https://anything.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert_cors(response, "https://anything.example")
    assert response.headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert response.headers["access-control-max-age"] == "86400"


def test_other_api_routes_get_no_cors_headers(site: Site) -> None:
    response = site.shop.api.get("/api/links", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_script_is_served_cacheable_with_an_etag(server: LiveServer) -> None:
    client = server.client()
    response = client.get("/_/script.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert "max-age=" in response.headers["cache-control"]
    assert "codeqrAnalytics" in response.text
    etag = response.headers["etag"]
    again = client.get("/_/script.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_publishable_key_from_an_allowed_page_records_a_click(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    response = click(site, link)
    assert response.status_code == 200, response.text
    assert_cors(response)
    data = response.json()
    assert len(data["clickId"]) == 16
    assert is_base62(data["clickId"])
    assert data["link"] == {k: link[k] for k in ("id", "domain", "key", "url")}
    [stored] = site.shop.clicks(link)
    assert stored["id"] == data["clickId"]
    assert stored["trigger"] == "link"
    assert stored["browser"] == "Chrome"
    assert site.counters(link)["clicks"] == 1


def test_a_repeat_of_the_same_visitor_reuses_the_click(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    first = click(site, link).json()["clickId"]
    assert click(site, link).json()["clickId"] == first
    other = click(site, link, ua=FIREFOX_LINUX).json()["clickId"]
    assert other != first
    site.shop.assert_counted(link, 2)


def test_page_url_and_referrer_are_recorded(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    body = {
        "domain": link["domain"],
        "key": link["key"],
        "url": "https://www.shop.test/pricing?plan=pro",
        "referrer": "https://news.example.org/post/1",
    }
    assert site.browser().post("/api/track/click", json=body).status_code == 200
    [stored] = site.shop.clicks(link)
    assert stored["url"] == "https://www.shop.test/pricing?plan=pro"
    assert stored["referer"] == "news.example.org"


def test_bots_and_no_track_record_nothing(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    bot = click(site, link, ua="curl/8.5.0")
    assert bot.status_code == 200
    assert bot.json()["clickId"] is None
    body = {"domain": link["domain"], "key": link["key"]}
    quiet = site.browser().post("/api/track/click", json=body, headers={"codeqr-no-track": "1"})
    assert quiet.json()["clickId"] is None
    site.shop.assert_counted(link, 0)


def test_a_page_on_another_host_is_refused(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    response = click(site, link, origin="http://evil.test")
    assert response.status_code == 403
    assert_cors(response, "http://evil.test")
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "evil.test" in error["message"]
    assert "add the hostname in the workspace settings" in error["message"]
    site.shop.assert_counted(link, 0)


def test_a_request_without_origin_is_refused(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    for origin in (None, "null", "http://[::1", "file:///tmp/page.html"):
        response = click(site, link, origin=origin)
        assert response.status_code == 403
        assert "Origin" in response.json()["error"]["message"]
    site.shop.assert_counted(link, 0)


def test_an_empty_allow_list_allows_nothing(server: LiveServer) -> None:
    site = Site.on(server)
    allow_hostnames(server, site.shop.tenant.slug, [])
    response = click(site, site.shop.link(trackConversion=True))
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "allows no hostnames" in message
    assert "add the hostname www.shop.test in the workspace settings" in message


def test_a_wildcard_allows_subdomains_only(server: LiveServer) -> None:
    site = Site.on(server, ["*.shop.test"])
    link = site.shop.link(trackConversion=True)
    assert click(site, link, origin="https://a.b.shop.test").status_code == 200
    assert click(site, link, origin="https://shop.test").status_code == 403
    assert click(site, link, origin="https://notshop.test").status_code == 403


def test_a_secret_key_is_refused_on_client_routes(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    response = click(site, link, token=site.shop.tenant.token)
    assert response.status_code == 403
    assert_cors(response)
    assert "publishable key" in response.json()["error"]["message"]
    lead = site.browser(token=site.shop.tenant.token).post(
        "/api/track/lead/client", json={"eventName": "Sign up", "customerExternalId": "u1"}
    )
    assert lead.status_code == 403
    site.shop.assert_counted(link, 0)


def test_a_missing_or_unknown_key_is_unauthorized_and_readable(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    client = site.browser()
    del client.headers["Authorization"]
    response = client.post("/api/track/click", json={"domain": link["domain"], "key": "x"})
    assert response.status_code == 401
    assert_cors(response)
    unknown = click(site, link, token="cq_pk_unknown")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "unauthorized"


def test_a_publishable_key_cannot_use_the_server_routes(site: Site) -> None:
    response = site.browser().post(
        "/api/track/lead", json={"eventName": "Sign up", "customerExternalId": "u1"}
    )
    assert response.status_code == 403


def test_client_tracking_needs_the_business_plan(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="pro")
    allow_hostnames(server, tenant.slug, ["www.shop.test"])
    key = make_key(server, tenant, publishable=True)
    link = server.client(tenant.token).post("/api/links", json={"url": "https://e.com"}).json()
    client = server.client(key)
    client.headers.update({"Origin": ORIGIN, "User-Agent": CHROME_WINDOWS})
    for path, body in (
        ("/api/track/click", {"domain": link["domain"], "key": link["key"]}),
        ("/api/track/lead/client", {"eventName": "Sign up", "customerExternalId": "u1"}),
        ("/api/track/sale/client", {"customerExternalId": "u1", "amount": 100}),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 403, path
        assert_cors(response)
        assert "Business plan" in response.json()["error"]["message"]
    assert server.client(tenant.token).get(f"/api/links/{link['id']}").json()["clicks"] == 0


def test_another_workspaces_link_is_not_found(server: LiveServer) -> None:
    owner, other = Site.on(server), Site.on(server)
    link = owner.shop.link(trackConversion=True)
    response = click(other, link)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert_cors(response)
    unknown = click(owner, {"domain": link["domain"], "key": "no-such-key"})
    assert unknown.status_code == 404
    owner.shop.assert_counted(link, 0)


def test_a_password_protected_link_records_nothing_and_hides_its_url(site: Site) -> None:
    link = site.shop.link(url="https://example.com/secret-plans", password="open sesame")
    response = click(site, link)
    assert response.status_code == 403
    assert_cors(response)
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "password protected" in error["message"]
    assert "secret-plans" not in response.text
    site.shop.assert_counted(link, 0)


@pytest.mark.parametrize("expired_url", [None, "https://example.com/too-late"])
def test_an_expired_link_is_gone_and_records_nothing(site: Site, expired_url: str | None) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    link = site.shop.link(
        url="https://example.com/old-offer", expiresAt=past, expiredUrl=expired_url
    )
    response = click(site, link)
    assert response.status_code == 410
    assert_cors(response)
    assert response.json()["error"]["code"] == "gone"
    assert "expired" in response.json()["error"]["message"]
    assert "old-offer" not in response.text
    site.shop.assert_counted(link, 0)


def test_bad_bodies_are_refused_with_cors(site: Site) -> None:
    client = site.browser()
    missing = client.post("/api/track/click", json={"domain": "x"})
    assert missing.status_code == 422
    assert_cors(missing)
    bad_url = client.post("/api/track/click", json={"domain": "x", "key": "y", "url": "ftp://x"})
    assert bad_url.status_code == 422
    assert "url" in bad_url.json()["error"]["message"]
    nul = client.post("/api/track/click", json={"domain": "x", "key": "a\u0000b"})
    assert nul.status_code == 422
    # Refused before the API runs (the body limit), and still readable by the page.
    huge = client.post("/api/track/click", content=b"x" * 1_100_000)
    assert huge.status_code == 413
    assert_cors(huge)


def test_leads_and_sales_from_the_browser_are_recorded(site: Site) -> None:
    allow_client_sales(site.shop.server, site.shop.tenant.slug)
    link = site.shop.link(trackConversion=True)
    click_id = click(site, link).json()["clickId"]
    client = site.browser()
    lead = client.post(
        "/api/track/lead/client",
        json={"clickId": click_id, "eventName": "Sign up", "customerExternalId": "user_42"},
    )
    assert lead.status_code == 200, lead.text
    assert_cors(lead)
    assert lead.json()["click"]["id"] == click_id
    assert lead.json()["customer"]["externalId"] == "user_42"
    sale = client.post(
        "/api/track/sale/client",
        json={"customerExternalId": "user_42", "amount": 4900, "currency": "usd"},
    )
    assert sale.status_code == 200, sale.text
    assert_cors(sale)
    assert sale.json()["sale"]["amount"] == 4900
    assert site.counters(link) == {"clicks": 1, "leads": 1, "sales": 1}


def test_another_workspaces_click_cannot_be_claimed(server: LiveServer) -> None:
    owner, other = Site.on(server), Site.on(server)
    click_id = click(owner, owner.shop.link(trackConversion=True)).json()["clickId"]
    response = other.browser().post(
        "/api/track/lead/client",
        json={"clickId": click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    assert response.status_code == 404
    assert_cors(response)

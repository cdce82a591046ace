"""Plain helpers for driving the redirect over HTTP: visitors, links, stored clicks."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from codeqr.events.models import click_events
from codeqr.kit.ids import is_base62
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
BOTS = {
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebook": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.32.3",
    "empty": "",
}


def browser_ua(n: int) -> str:
    """A distinct, realistic desktop user agent per ``n`` (a distinct visitor per ``n``)."""
    return CHROME_WINDOWS.replace("131.0.0.0", f"131.0.{n}.0")


def query_of(location: str) -> dict[str, list[str]]:
    """The query parameters of a ``Location``, blank values kept."""
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def cq_id_of(location: str) -> str:
    """The single ``cq_id`` of a ``Location``, checked to be 16 base62 characters."""
    values = query_of(location)["cq_id"]
    assert len(values) == 1
    click_id = values[0]
    assert len(click_id) == 16
    assert is_base62(click_id)
    return click_id


@dataclass
class Shortener:
    """One workspace on a live server: creates links, visits them, reads what was stored."""

    server: LiveServer
    tenant: Tenant
    api: httpx.Client

    @classmethod
    def on(cls, server: LiveServer) -> Shortener:
        """A business-plan workspace (conversion tracking allowed) on ``server``."""
        tenant = make_tenant(server, plan="business")
        return cls(server, tenant, server.client(tenant.token))

    def link(self, **fields: Any) -> dict[str, Any]:
        """Create a link through ``POST /api/links``; ``fields`` use the API's camelCase."""
        fields.setdefault("url", "https://example.com/landing")
        response = self.api.post("/api/links", json=fields)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def update(self, link: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """``PATCH /api/links/{id}``."""
        response = self.api.patch(f"/api/links/{link['id']}", json=fields)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def visitor(self, user_agent: str = CHROME_WINDOWS) -> httpx.Client:
        """A browser that does not follow redirects (closed when the server stops)."""
        client = self.server.client()
        client.headers["User-Agent"] = user_agent
        return client

    def visit(
        self,
        link: dict[str, Any] | str,
        *,
        params: str = "",
        user_agent: str = CHROME_WINDOWS,
        headers: dict[str, str] | None = None,
        method: str = "GET",
    ) -> httpx.Response:
        """One request to a short link (``link`` is a created link or a raw path)."""
        path = f"/{link['key']}" if isinstance(link, dict) else link
        if params:
            path += "?" + params
        client = self.visitor(user_agent)
        return client.request(method, path, headers=headers)

    def counter(self, link: dict[str, Any]) -> int:
        """The link's ``clicks`` counter as the API reports it."""
        response = self.api.get(f"/api/links/{link['id']}")
        assert response.status_code == 200, response.text
        return int(response.json()["clicks"])

    def clicks(self, link: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Stored click rows, oldest first; of one link or of the whole database."""
        query = select(click_events).order_by(click_events.c.timestamp, click_events.c.id)
        if link is not None:
            query = query.where(click_events.c.link_id == link["id"])
        with self.server.services.db.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def assert_counted(self, link: dict[str, Any], expected: int) -> None:
        """The link has ``expected`` stored clicks and its counter says the same."""
        assert len(self.clicks(link)) == expected
        assert self.counter(link) == expected


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_http(server: LiveServer, request: bytes) -> RawResponse:
    """Send bytes exactly as given (no client-side normalisation) and read the answer.

    The request should say ``Connection: close``; the response is read until the server
    closes the connection.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def raw_get(
    server: LiveServer, target: bytes, *, host: bytes = b"", user_agent: bytes = b""
) -> RawResponse:
    """A raw ``GET target`` with a browser user agent unless one is given."""
    host = host or f"127.0.0.1:{server.port}".encode()
    user_agent = user_agent or CHROME_WINDOWS.encode()
    return raw_http(
        server,
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: "
        + host
        + b"\r\nUser-Agent: "
        + user_agent
        + b"\r\nConnection: close\r\n\r\n",
    )

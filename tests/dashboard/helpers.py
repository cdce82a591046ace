"""Accounts, memberships and signed-in clients for the dashboard tests."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from codeqr.events.models import click_events
from codeqr.kit.clock import now_ms
from codeqr.kit.ids import base62, click_id
from codeqr.workspace import service as ws
from codeqr.workspace.models import Membership, Role
from tests.auth.helpers import Account, csrf_of, make_account, sign_in
from tests.conftest import LiveServer

__all__ = ["Account", "Dash", "csrf_of", "dash", "join", "make_account", "seed", "viewer_of"]
PASSWORD = "correct horse battery"


@dataclass
class Dash:
    """A signed-in browser-like client of one account's workspace."""

    server: LiveServer
    account: Account
    client: httpx.Client

    @property
    def base(self) -> str:
        return f"/dashboard/{self.account.slug}"

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(self.base + path, **kwargs)  # type: ignore[arg-type]

    def csrf(self, path: str = "/links") -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    def post(self, path: str, data: dict[str, str], csrf: str | None = None) -> httpx.Response:
        token = self.csrf() if csrf is None else csrf
        return self.client.post(self.base + path, data={"csrf_token": token, **data})


def dash(server: LiveServer, plan: str = "business") -> Dash:
    """A new account with its own workspace, signed in."""
    account = make_account(server, plan=plan)
    client = server.client()
    sign_in(client, account)
    return Dash(server, account, client)


def join(server: LiveServer, owner: Account, role: Role) -> Dash:
    """A new user added to ``owner``'s workspace with ``role``, signed in there."""
    suffix = base62(8).lower()
    with server.services.db.transaction() as session:
        user = ws.create_user(session, f"{role}-{suffix}@example.com", PASSWORD, name=str(role))
        session.add(Membership(user_id=user.id, workspace_id=owner.workspace_id, role=role))
        account = Account(user.id, user.email, PASSWORD, owner.workspace_id, owner.slug)
    client = server.client()
    sign_in(client, account)
    return Dash(server, account, client)


def viewer_of(server: LiveServer, owner: Account) -> Dash:
    """A viewer of ``owner``'s workspace."""
    return join(server, owner, Role.viewer)


def field_error(html: str, field: str) -> str:
    """The message shown under a form field."""
    found = re.search(rf'<p class="field-error" id="e-{field}">([^<]*)</p>', html)
    assert found, html
    return found.group(1)


VISITORS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
]


@dataclass(frozen=True)
class Seeded:
    """A tracked link with clicks, a lead and a sale, made through the public API."""

    link_id: str
    key: str
    token: str


def api_key(server: LiveServer, account: Account) -> str:
    """A secret key of the account's workspace."""
    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, account.slug)
        return ws.create_api_key(session, workspace, name="tests").token


def seed(server: LiveServer, account: Account, *, url: str = "https://shop.example/p") -> Seeded:
    """Three clicks from three browsers, one lead and one sale of 49.00 USD."""
    token = api_key(server, account)
    api = server.client(token)
    created = api.post("/api/links", json={"url": url, "trackConversion": True, "key": "spring"})
    assert created.status_code == 200, created.text
    link = created.json()
    click_ids = []
    for n, agent in enumerate(VISITORS):
        visit = server.client().get(
            f"/{link['key']}",
            headers={"user-agent": agent, "referer": f"https://news{n}.example/post"},
        )
        assert visit.status_code == 302, visit.text
        click_ids.append(parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0])
    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": click_ids[0],
            "eventName": "Sign up",
            "customerExternalId": "user-42",
            "customerName": "Grace Hopper",
            "customerEmail": "grace@example.com",
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text
    sale = api.post(
        "/api/track/sale",
        json={
            "customerExternalId": "user-42",
            "amount": 4900,
            "currency": "usd",
            "invoiceId": "in_1",
        },
    )
    assert sale.status_code == 200, sale.text
    return Seeded(link["id"], link["key"], token)


def wait_for_clicks(dash: Dash, count: int, timeout: float = 10.0) -> dict[str, object]:
    """The analytics data once ``count`` clicks are counted (clicks are written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        data = dash.get("/analytics/data?interval=24h&timezone=UTC")
        assert data.status_code == 200, data.text
        body: dict[str, object] = data.json()
        totals = body["totals"]
        assert isinstance(totals, dict)
        if totals["clicks"] >= count or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def backdate_click(server: LiveServer, workspace_id: str, days: float) -> None:
    """Store a copy of one of the workspace's clicks as if made ``days`` ago (the redirect
    only stamps clicks with the present)."""
    at = now_ms() - int(days * 86_400_000)
    with server.services.db.transaction() as session:
        row = session.execute(
            select(click_events).where(click_events.c.workspace_id == workspace_id).limit(1)
        ).one()
        copy = {**row._mapping, "id": click_id(at), "timestamp": at}
        session.execute(click_events.insert(), [copy])

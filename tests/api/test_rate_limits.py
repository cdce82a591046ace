"""Rate limits over real HTTP (SPEC §9): API keys per plan, links per month, sign-in, link
passwords, client tracking, ``/api/qr``; 429 ``rate_limit_exceeded`` with ``Retry-After``
and ``X-RateLimit-*``. The redirect itself is never limited."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from codeqr.api import ratelimits
from codeqr.kit import passwords
from codeqr.kit.errors import RateLimited
from codeqr.link.models import Link
from codeqr.workspace.models import Plan
from tests.auth.helpers import csrf_of, make_account
from tests.conftest import LiveServer
from tests.conversion.test_client_endpoints import ORIGIN, Site
from tests.factories import make_tenant
from tests.redirect.helpers import Shortener, cq_id_of


def set_plan_limit(server: LiveServer, plan: str, **limits: int) -> None:
    with server.services.db.transaction() as session:
        session.execute(update(Plan).where(Plan.name == plan).values(**limits))


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) > 0


def test_an_api_key_gets_its_plans_rate_per_minute(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="free")
    api = server.client(tenant.token)
    answers = [api.get("/api/links") for _ in range(61)]
    assert [a.status_code for a in answers[:60]] == [200] * 60
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["59", "58", "57"]
    assert all(a.headers["x-ratelimit-limit"] == "60" for a in answers[:60])
    assert_limited(answers[60], 60)
    # Every route of the key shares the count; another workspace's key has its own.
    assert_limited(api.post("/api/links", json={"url": "https://a.example"}), 60)
    other = make_tenant(server, plan="free")
    assert server.client(other.token).get("/api/links").status_code == 200


def test_the_fast_tracking_path_counts_against_the_key_too(server: LiveServer) -> None:
    set_plan_limit(server, "business", api_rate_per_minute=5)
    shortener = Shortener.on(server)
    link = shortener.link(trackConversion=True)
    click_id = cq_id_of(shortener.visit(link).headers["location"])
    body = {"clickId": click_id, "eventName": "Sign up", "customerExternalId": "u1"}
    answers = [shortener.api.post("/api/track/lead", json=body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    # The link creation and the four leads: five calls of the minute, then refused.
    assert answers[-1].headers["x-ratelimit-remaining"] == "0"
    refused = shortener.api.post("/api/track/sale", json={"customerExternalId": "u1", "amount": 1})
    assert_limited(refused, 5)
    # Nothing was recorded for the refused call.
    with server.services.db.transaction() as session:
        assert session.get(Link, link["id"]).sales == 0  # type: ignore[union-attr]


def test_links_per_month_follow_the_plan_and_deleting_gives_nothing_back(
    server: LiveServer,
) -> None:
    set_plan_limit(server, "free", links_per_month=3)
    tenant = make_tenant(server, plan="free")
    api = server.client(tenant.token)
    made = [api.post("/api/links", json={"url": f"https://a.example/{i}"}) for i in range(3)]
    assert [m.status_code for m in made] == [200] * 3
    refused = api.post("/api/links", json={"url": "https://a.example/4"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "3 new links a month" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) > 0
    assert api.delete(f"/api/links/{made[0].json()['id']}").status_code == 200
    assert api.post("/api/links", json={"url": "https://a.example/5"}).status_code == 429
    bulk = api.post("/api/links/bulk", json=[{"url": "https://a.example/6"}])
    assert bulk.status_code == 200
    assert bulk.json()[0]["code"] == "rate_limit_exceeded"
    upsert = api.put("/api/links/upsert", json={"url": "https://a.example/7"})
    assert upsert.status_code == 429
    with server.services.db.transaction() as session:
        count = len(
            session.scalars(select(Link).where(Link.workspace_id == tenant.workspace_id)).all()
        )
    assert count == 2  # three made, one deleted, none over the quota


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": "/"},
    )


def test_sign_in_is_limited_per_account_even_for_the_right_password(
    server: LiveServer,
) -> None:
    account = make_account(server)
    attacker = server.client()
    wrong = [login(attacker, account.email, f"guess {i}") for i in range(10)]
    assert {w.status_code for w in wrong} == {400}
    refused = login(server.client(), account.email, account.password)
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert "cq_session" not in refused.headers.get("set-cookie", "")


def test_sign_in_is_limited_per_client_across_accounts(server: LiveServer) -> None:
    client = server.client()
    answers = [login(client, f"nobody-{i}@example.com", "x") for i in range(31)]
    assert {a.status_code for a in answers[:30]} == {400}
    assert answers[30].status_code == 429


def test_link_passwords_are_limited_per_client_and_per_link(server: LiveServer) -> None:
    shortener = Shortener.on(server)
    link = shortener.link(url="https://example.com/secret", password="open sesame")
    guesser = shortener.visitor()
    answers = [guesser.post(f"/{link['key']}", data={"password": f"no {i}"}) for i in range(10)]
    assert {a.status_code for a in answers} == {401}
    refused = guesser.post(f"/{link['key']}", data={"password": "open sesame"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert "set-cookie" not in refused.headers
    # The redirect itself is never limited.
    assert guesser.get(f"/{link['key']}").status_code == 200
    other = shortener.link(url="https://example.com/other")
    assert all(guesser.get(f"/{other['key']}").status_code == 302 for _ in range(30))


def test_the_link_total_stops_a_crowd_of_clients(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimits, "LINK_PASSWORD_PER_LINK", ratelimits.Quota(5, 60))
    shortener = Shortener.on(server)
    link = shortener.link(url="https://example.com/secret", password="open sesame")
    limits = server.services.rate_limits

    async def guesses() -> list[bool]:
        return [
            (await limits.link_password(link["id"], f"203.0.113.{i}")).allowed for i in range(6)
        ]

    assert asyncio.run(guesses()) == [True] * 5 + [False]


def test_client_tracking_is_limited_per_visitor(server: LiveServer) -> None:
    site = Site.on(server)
    link = site.shop.link()
    browser = site.browser()
    body: dict[str, Any] = {"domain": link["domain"], "key": link["key"]}
    answers = [browser.post("/api/track/click", json=body) for _ in range(61)]
    assert {a.status_code for a in answers[:60]} == {200}
    refused = answers[60]
    assert_limited(refused, 60)
    assert refused.headers["access-control-allow-origin"] == ORIGIN  # the page can read why
    # An unknown key from the same visitor is refused before it is even looked up.
    stranger = site.browser(token="cq_pk_unknown")
    assert stranger.post("/api/track/click", json=body).status_code == 429


def test_qr_codes_are_limited_per_client(server: LiveServer) -> None:
    client = server.client()
    answers = [
        client.get("/api/qr", params={"url": f"https://e.example/{i}", "size": 100})
        for i in range(121)
    ]
    assert {a.status_code for a in answers[:120]} == {200}
    assert answers[0].headers["x-ratelimit-limit"] == "120"
    assert_limited(answers[120], 120)


def test_concurrent_password_hashing_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHING_WAIT_S", 0.2)
    hashed = passwords.hash_password("pw")
    held = [passwords._hashing.acquire(blocking=False) for _ in range(passwords.HASHING_AT_ONCE)]
    try:
        assert all(held)
        with pytest.raises(RateLimited):
            passwords.verify_password(hashed, "pw")
    finally:
        for _ in held:
            passwords._hashing.release()
    assert passwords.verify_password(hashed, "pw")

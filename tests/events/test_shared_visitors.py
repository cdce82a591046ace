"""The one-hour click dedupe across processes (scale-out): the same visitor clicking through
two processes is one click; Redis going away loses no click and fails no redirect, and the
dedupe holds again once it is back; a click id handed out by a process that died before
storing it is stored by the process that answers it, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from codeqr.app import create_app
from codeqr.events.models import click_events
from codeqr.events.shared_visitors import SharedVisitors, VisitorsUnavailable
from codeqr.events.sql import SqlEventsStore
from codeqr.kit.clock import now_ms
from codeqr.kit.ids import click_id
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.events.helpers import stored_click
from tests.factories import Tenant, make_tenant
from tests.redirect.helpers import CHROME_WINDOWS, browser_ua, cq_id_of
from tests.redis_server import PrivateRedis, private_redis

pytestmark = pytest.mark.redis
HOST = "go.test"


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def pair(settings: Settings, redis: PrivateRedis) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two app processes on the same database, sharing ``redis``."""
    shared = settings.model_copy(update={"redis_url": redis.url})
    servers: list[LiveServer] = []
    try:
        for _ in range(2):
            live = LiveServer(create_app(shared, default_domain=HOST), free_port())
            live.start()
            servers.append(live)
        yield servers[0], servers[1]
    finally:
        for live in servers:
            live.stop()


def tracked_link(server: LiveServer, key: str) -> tuple[Tenant, httpx.Client, dict[str, Any]]:
    """A new workspace, its API client and a conversion-tracked link ``key`` of it."""
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    link = api.post(
        "/api/links", json={"url": "https://shop.example/", "key": key, "trackConversion": True}
    ).json()
    return tenant, api, link


def click(server: LiveServer, key: str, ua: str = CHROME_WINDOWS) -> httpx.Response:
    return server.client().get(f"/{key}", headers={"Host": HOST, "User-Agent": ua})


def stored_clicks(server: LiveServer, link_id: str, api: httpx.Client) -> tuple[int, int]:
    """The link's ``clicks`` counter and its stored click rows."""
    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).where(click_events.c.link_id == link_id)
        ).scalar_one()
    return int(api.get(f"/api/links/{link_id}").json()["clicks"]), int(rows)


def test_one_visitor_through_two_processes_is_one_click(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    _, api, link = tracked_link(a, "sale")
    ids = {cq_id_of(click(server, "sale").headers["location"]) for server in (a, b) * 10}
    assert len(ids) == 1  # the same click id handed out by both processes
    assert stored_clicks(a, link["id"], api) == (1, 1)
    ids = {
        cq_id_of(click((a, b)[n % 2], "sale", browser_ua(n)).headers["location"])
        for n in range(1, 21)  # browser_ua(0) is CHROME_WINDOWS: the first visitor
    }
    assert len(ids) == 20
    assert stored_clicks(a, link["id"], api) == (21, 21)


def test_redis_going_away_loses_no_click_and_the_dedupe_comes_back(
    pair: tuple[LiveServer, LiveServer], redis: PrivateRedis
) -> None:
    a, b = pair
    _, api, link = tracked_link(a, "up")
    answered = [click((a, b)[n % 2], "up", browser_ua(n)) for n in range(1, 11)]
    redis.kill()
    answered += [click((a, b)[n % 2], "up", browser_ua(n)) for n in range(11, 31)]
    assert all(r.status_code == 302 for r in answered)
    fallbacks = sum(s.services.redirector.shared_visitors.fallbacks for s in (a, b))
    assert fallbacks >= 20
    ids = {cq_id_of(r.headers["location"]) for r in answered}
    assert len(ids) == 30
    assert stored_clicks(a, link["id"], api) == (30, 30)  # every answered click stored

    redis.restart()
    # Back: a new visitor through both processes is one click again.
    ids = {
        cq_id_of(click(server, "up", browser_ua(1000)).headers["location"])
        for server in (a, b, a, b)
    }
    assert len(ids) == 1
    assert stored_clicks(a, link["id"], api) == (31, 31)


def test_a_click_claimed_by_a_process_that_died_before_storing_it_is_stored_once(
    pair: tuple[LiveServer, LiveServer], redis: PrivateRedis
) -> None:
    """A process claims a visitor in Redis and is killed before its click is stored; the
    visitor retries through another process, which is handed the dead one's click id. That
    id is answered, so it must be stored: by the process that answers it, once, and the
    link's counter agrees with its rows however many processes answer it afterwards."""
    a, b = pair
    _, api, link = tracked_link(a, "died")
    now = now_ms()
    identity = a.services.redirector.identity("127.0.0.1", CHROME_WINDOWS, now)
    lost = click_id(now)

    async def claim_and_die() -> None:
        dead = SharedVisitors(redis.url)
        try:
            assert await dead.claim(link["id"], identity, lost, now) is None
        finally:
            await dead.aclose()

    asyncio.run(claim_and_die())
    answers = [click(server, "died") for server in (b, a, b, a)]
    assert {cq_id_of(r.headers["location"]) for r in answers} == {lost}
    assert stored_clicks(a, link["id"], api) == (1, 1)
    with a.services.db.engine.connect() as conn:
        row = conn.execute(select(click_events.c.timestamp).where(click_events.c.id == lost)).one()
    assert row.timestamp == now, "stored as the click it was claimed as"


def test_an_adopted_click_id_already_taken_is_neither_stored_nor_counted_again(
    server: LiveServer,
) -> None:
    """The store's side of the race above: the process that handed the id out stores it
    while another adopts it (neither sees the other's row in its check). The id is stored
    once and the counter bumped once."""
    tenant, api, link = tracked_link(server, "race")
    now = now_ms()
    store = SqlEventsStore(server.services.db)
    try:
        first = stored_click(click_id(now), now, tenant.workspace_id, link["id"], "a" * 32)
        store.write_clicks([first])
        # The adopter's check looks for the visitor and misses (another identity here
        # stands for "not committed yet"); its insert then finds the id taken.
        adopted = first._replace(identity_hash="b" * 32)
        fresh = stored_click(click_id(now), now, tenant.workspace_id, link["id"], "c" * 32)
        repeats = store.write_clicks_once([adopted, fresh], now - 1000, {first.id})
    finally:
        store.close()
    assert repeats == {first.id: (first.id, now)}
    assert stored_clicks(server, link["id"], api) == (2, 2)


def test_a_group_of_claims_redis_cannot_answer_counts_each_click_as_a_fallback() -> None:
    """Claims waiting together go out as one call: when it fails, every click of the group is
    counted by the database's check, and the metric counts each of them."""

    async def claim_together() -> list[BaseException | tuple[str, int] | None]:
        shared = SharedVisitors(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
        try:
            claims = [
                shared.claim("link_a", f"visitor{n:02d}", click_id(now_ms()), now_ms())
                for n in range(7)
            ]
            return await asyncio.gather(*claims, return_exceptions=True)
        finally:
            assert shared.fallbacks == 7
            await shared.aclose()

    outcomes = asyncio.run(claim_together())
    assert len(outcomes) == 7
    assert all(isinstance(outcome, VisitorsUnavailable) for outcome in outcomes)

"""The one-hour click dedupe across processes (scale-out): the same visitor clicking through
two processes is one click; Redis going away loses no click and fails no redirect, and the
dedupe holds again once it is back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from codeqr.app import create_app
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.factories import make_tenant
from tests.redirect.helpers import CHROME_WINDOWS, browser_ua, cq_id_of
from tests.redis_server import PrivateRedis, private_redis

pytestmark = pytest.mark.redis
HOST = "go.test"


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


def two_processes(settings: Settings, url: str) -> list[LiveServer]:
    shared = settings.model_copy(update={"redis_url": url})
    servers = []
    for _ in range(2):
        live = LiveServer(create_app(shared, default_domain=HOST), free_port())
        live.start()
        servers.append(live)
    return servers


def click(server: LiveServer, key: str, ua: str = CHROME_WINDOWS) -> httpx.Response:
    return server.client().get(f"/{key}", headers={"Host": HOST, "User-Agent": ua})


def stored_clicks(server: LiveServer, link_id: str, api: httpx.Client) -> tuple[int, int]:
    """The link's ``clicks`` counter and its stored click rows."""
    from sqlalchemy import func, select

    from codeqr.events.models import click_events

    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).where(click_events.c.link_id == link_id)
        ).scalar_one()
    return int(api.get(f"/api/links/{link_id}").json()["clicks"]), int(rows)


def test_one_visitor_through_two_processes_is_one_click(
    settings: Settings, redis: PrivateRedis
) -> None:
    a, b = two_processes(settings, redis.url)
    try:
        tenant = make_tenant(a)
        api = a.client(tenant.token)
        link = api.post(
            "/api/links",
            json={"url": "https://shop.example/", "key": "sale", "trackConversion": True},
        ).json()
        ids = {cq_id_of(click(server, "sale").headers["location"]) for server in (a, b) * 10}
        assert len(ids) == 1  # the same click id handed out by both processes
        assert stored_clicks(a, link["id"], api) == (1, 1)
        ids = {
            cq_id_of(click((a, b)[n % 2], "sale", browser_ua(n)).headers["location"])
            for n in range(1, 21)  # browser_ua(0) is CHROME_WINDOWS: the first visitor
        }
        assert len(ids) == 20
        assert stored_clicks(a, link["id"], api) == (21, 21)
    finally:
        for server in (a, b):
            server.stop()


def test_redis_going_away_loses_no_click_and_the_dedupe_comes_back(
    settings: Settings, redis: PrivateRedis
) -> None:
    a, b = two_processes(settings, redis.url)
    try:
        tenant = make_tenant(a)
        api = a.client(tenant.token)
        link = api.post(
            "/api/links",
            json={"url": "https://shop.example/", "key": "up", "trackConversion": True},
        ).json()
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
    finally:
        for server in (a, b):
            server.stop()

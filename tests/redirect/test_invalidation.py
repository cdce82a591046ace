"""Scale-out: a link changed through one process is served in its new form by every other
within a second (Redis pub/sub); a process that lost Redis caches nothing until it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from codeqr.app import create_app
from codeqr.redirect.cache import MISSING
from codeqr.redirect.invalidation import CHANNEL
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.factories import make_tenant
from tests.redirect.helpers import CHROME_WINDOWS
from tests.redis_server import private_redis

pytestmark = pytest.mark.redis
HOST = "go.test"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis of this module's own: one test cuts every subscriber of it."""
    with private_redis() as server:
        yield server.url


@pytest.fixture
def pair(settings: Settings, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two app processes on one database and one Redis, answering for the same domain."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    servers = []
    for _ in range(2):
        port = free_port()
        live = LiveServer(create_app(shared, default_domain=HOST), port)
        live.start()
        servers.append(live)
    for live in servers:
        wait_until(lambda live=live: live.services.invalidations.subscribed.is_set())
    yield servers[0], servers[1]
    for live in servers:
        live.stop()


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - began


def visit(server: LiveServer, key: str) -> httpx.Response:
    return server.client().get(f"/{key}", headers={"Host": HOST, "User-Agent": CHROME_WINDOWS})


def test_an_edit_and_a_delete_reach_the_other_process_within_a_second(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    tenant = make_tenant(a)
    api = a.client(tenant.token)
    link = api.post("/api/links", json={"url": "https://old.example/", "key": "promo"}).json()
    assert visit(b, "promo").headers["location"] == "https://old.example/"  # cached on B now
    assert b.services.cache.get(HOST, "promo", int(time.time() * 1000)) is not None

    assert api.patch(f"/api/links/{link['id']}", json={"url": "https://new.example/"}).is_success
    took = wait_until(
        lambda: visit(b, "promo").headers.get("location") == "https://new.example/", 1.0
    )
    print(f"edit seen on the other process after {took * 1000:.0f} ms")

    assert api.delete(f"/api/links/{link['id']}").is_success
    wait_until(lambda: visit(b, "promo").status_code == 404, 1.0)
    assert visit(a, "promo").status_code == 404


def test_a_lost_subscription_drops_the_cache_until_it_is_back(
    pair: tuple[LiveServer, LiveServer], redis_url: str
) -> None:
    a, b = pair
    tenant = make_tenant(a)
    a.client(tenant.token).post("/api/links", json={"url": "https://x.example/", "key": "k1"})
    visit(b, "k1")
    invalidations = b.services.invalidations
    assert invalidations is not None
    resets = invalidations.resets
    # Redis drops every subscriber (as a restart or a network cut would).
    admin = redis.Redis.from_url(redis_url)
    admin.client_kill_filter(_type="pubsub")
    wait_until(lambda: invalidations.resets > resets)
    # What B held before was dropped: nothing it missed can be served.
    assert b.services.cache.get(HOST, "k1", int(time.time() * 1000)) is MISSING
    # Both processes subscribe again, each in its own time (under a loaded CI machine the
    # second can come after B's reset is seen).
    wait_until(invalidations.subscribed.is_set)
    assert visit(b, "k1").headers["location"] == "https://x.example/"
    wait_until(lambda: dict(admin.pubsub_numsub(CHANNEL))[CHANNEL.encode()] >= 2)
    admin.close()


def test_a_suspended_cache_keeps_nothing(pair: tuple[LiveServer, LiveServer]) -> None:
    a, _ = pair
    cache = a.services.cache
    cache.suspend()
    cache.put(HOST, "x", None, cache.generation())
    assert cache.get(HOST, "x", int(time.time() * 1000)) is MISSING
    cache.resume()
    cache.put(HOST, "x", None, cache.generation())
    assert cache.get(HOST, "x", int(time.time() * 1000)) is None


def test_a_custom_domain_change_reaches_the_other_process(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    api = a.client(make_tenant(a).token)
    brand = "go.brand.example"

    def on_brand(server: LiveServer, key: str) -> httpx.Response:
        headers = {"Host": brand, "User-Agent": CHROME_WINDOWS}
        return server.client().get(f"/{key}", headers=headers)

    assert on_brand(b, "nothing").status_code == 404  # B read its domain table: no brand yet
    created = api.post("/api/domains", json={"slug": brand, "notFoundUrl": "https://b.example/1"})
    assert created.status_code == 201
    link = api.post("/api/links", json={"url": "https://b.example/", "domain": brand, "key": "k"})
    assert link.status_code == 200
    wait_until(lambda: on_brand(b, "k").headers.get("location") == "https://b.example/", 1.0)
    assert on_brand(b, "nothing").headers["location"] == "https://b.example/1"

    api.patch(f"/api/domains/{brand}", json={"notFoundUrl": "https://b.example/2"})
    wait_until(lambda: on_brand(b, "nothing").headers.get("location") == "https://b.example/2", 1.0)
    api.delete(f"/api/domains/{brand}")
    wait_until(lambda: on_brand(b, "k").status_code == 404, 1.0)


def test_a_banned_partners_links_answer_404_on_every_process_at_once(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """Banning is not a change of the link row: the ban itself invalidates the partner's
    links everywhere, and a banned partner's link answers as a missing one."""
    a, b = pair
    tenant = make_tenant(a, plan="business")
    api = a.client(tenant.token)
    partner = api.post("/api/partners", json={"email": "ban@example.com"}).json()
    made = api.post(
        "/api/partners/links",
        json={"partnerId": partner["id"], "url": "https://shop.example/", "key": "ada"},
    )
    assert made.status_code == 201, made.text
    for server in (a, b):  # cached on both
        assert visit(server, "ada").status_code == 302
    banned = api.post("/api/partners/ban", json={"partnerId": partner["id"], "reason": "fraud"})
    assert banned.status_code == 200, banned.text
    assert visit(a, "ada").status_code == 404
    wait_until(lambda: visit(b, "ada").status_code == 404, 1.0)
    clicks = api.get("/api/partners/links", params={"partnerId": partner["id"]}).json()
    assert clicks[0]["clicks"] == 1  # one visitor's click before the ban; the 404s: none

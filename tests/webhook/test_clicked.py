"""``link.clicked`` to a real receiver on loopback: Dub's shape, one event per stored click,
``linkIds`` scoping, nothing for a repeat or a rolled-back batch, and a watch list that
follows the webhooks as they change."""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from dub.models.components import LinkClickedEvent
from sqlalchemy import func, select

from codeqr.app import create_app
from codeqr.events.models import click_events
from codeqr.events.store import Click
from codeqr.kit.ids import click_id
from codeqr.sdk.webhooks import verify
from codeqr.settings import Settings
from codeqr.webhook.clicks import ClickSubscriptions
from codeqr.webhook.models import DeliveryStatus, WebhookClickBatch, WebhookEvent
from codeqr.webhook.pacing import Pacer
from tests.conftest import LiveServer, free_port
from tests.factories import Tenant, make_tenant
from tests.redis_server import private_redis

from .conftest import BROWSER, Receiver, quick
from .test_delivery import deliveries, event_rows, subscribe

HOST = "go.test"


def visit(server: LiveServer, key: str, agent: str = BROWSER, host: str | None = None) -> str:
    """Follow a short link once as a browser; the click id handed to the destination."""
    headers = {"User-Agent": agent} | ({"Host": host} if host else {})
    answer = server.client().get(f"/{key}", headers=headers)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["cq_id"][0]


def tracked_link(server: LiveServer, tenant: Tenant, path: str) -> dict[str, str]:
    made = server.client(tenant.token).post(
        "/api/links", json={"url": f"https://shop.example/{path}", "trackConversion": True}
    )
    assert made.status_code == 200, made.text
    link: dict[str, str] = made.json()
    return link


def subscriptions(server: LiveServer) -> ClickSubscriptions:
    deliverer = server.services.deliverer
    assert deliverer is not None
    assert deliverer.subscriptions is not None
    return deliverer.subscriptions


def noted_batches(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(WebhookClickBatch.seq))) or 0)


def settle(server: LiveServer) -> None:
    """Whatever is noted is expanded and attempted (the worker's own rounds, done now)."""
    deliverer = server.services.deliverer
    assert deliverer is not None
    assert deliverer.clicks is not None
    deadline = time.monotonic() + 10
    while noted_batches(server) or any(
        d.status == DeliveryStatus.pending for d in deliveries(server)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_click_arrives_in_dubs_shape_signed_once(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    link = tracked_link(hooked, tenant, "p")
    hook = subscribe(hooked, tenant, receiver.url, ["link.clicked"])
    assert hook["triggers"] == ["link.clicked"]
    clicked = visit(hooked, link["key"])
    receiver.wait(lambda: len(receiver.events) == 1)

    (got,) = receiver.got
    assert verify(hook["secret"], got.body, got.headers)
    event = LinkClickedEvent.model_validate_json(got.body)
    assert event.event == "link.clicked"
    assert event.id == f"evt_{clicked}" == got.headers["CodeQR-Event-Id"]
    assert got.headers["CodeQR-Event"] == "link.clicked"
    assert event.data.click.id == clicked
    assert event.data.click.url == "https://shop.example/p"
    assert event.data.click.browser == "Chrome"
    assert event.data.click.qr is False
    assert event.data.link.id == link["id"]
    assert event.data.link.short_link == link["shortLink"]
    assert event.data.link.clicks == 1  # the link as it is after its click was counted
    assert set(got.json()) == {"id", "event", "createdAt", "data"}
    assert set(got.json()["data"]) == {"click", "link"}

    # The same visitor within the hour: the click is deduped, so nothing is sent.
    assert visit(hooked, link["key"]) == clicked
    # Another visitor: a second event.
    other = visit(hooked, link["key"], BROWSER + " Other/1")
    receiver.wait(lambda: len(receiver.events) == 2)
    settle(hooked)
    assert event_rows(hooked) == 2
    assert sorted(receiver.events) == sorted([f"evt_{clicked}", f"evt_{other}"])
    assert len(receiver.got) == 2  # each once


def test_only_the_links_in_scope(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    watched = tracked_link(hooked, tenant, "w")
    ignored = tracked_link(hooked, tenant, "i")
    made = hooked.client(tenant.token).post(
        "/api/webhooks",
        json={
            "name": "Scoped",
            "url": receiver.url,
            "triggers": ["link.clicked", "link.updated"],
            "linkScope": "links",
            "linkIds": [watched["id"]],
        },
    )
    assert made.status_code == 201, made.text
    assert not subscriptions(hooked).watches(tenant.workspace_id, ignored["id"])
    visit(hooked, ignored["key"])
    hit = visit(hooked, watched["key"])
    receiver.wait(lambda: len(receiver.events) == 1)
    settle(hooked)
    assert list(receiver.events) == [f"evt_{hit}"]
    # Another workspace's clicks are no one's business here.
    stranger = make_tenant(hooked)
    visit(hooked, tracked_link(hooked, stranger, "s")["key"])
    settle(hooked)
    assert event_rows(hooked) == 1


def test_the_watch_list_follows_the_webhooks(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    link = tracked_link(hooked, tenant, "f")
    http = hooked.client(tenant.token)
    watch = subscriptions(hooked)
    assert not watch.watches(tenant.workspace_id, link["id"])
    visit(hooked, link["key"], BROWSER + " A")
    assert noted_batches(hooked) == 0  # nothing is noted while no endpoint listens

    hook = subscribe(hooked, tenant, receiver.url, ["link.clicked"])
    assert watch.watches(tenant.workspace_id, link["id"])  # as soon as the answer is back
    first = visit(hooked, link["key"], BROWSER + " B")
    receiver.wait(lambda: list(receiver.events) == [f"evt_{first}"])

    assert http.patch(f"/api/webhooks/{hook['id']}", json={"disabled": True}).is_success
    assert not watch.watches(tenant.workspace_id, link["id"])
    visit(hooked, link["key"], BROWSER + " C")
    assert noted_batches(hooked) == 0

    assert http.patch(f"/api/webhooks/{hook['id']}", json={"disabled": False}).is_success
    again = visit(hooked, link["key"], BROWSER + " D")
    receiver.wait(lambda: len(receiver.events) == 2)
    assert f"evt_{again}" in receiver.events

    # Narrowed to other triggers, then deleted: clicks are not noted any more.
    assert http.patch(f"/api/webhooks/{hook['id']}", json={"triggers": ["link.created"]})
    assert not watch.watches(tenant.workspace_id, link["id"])
    assert http.patch(f"/api/webhooks/{hook['id']}", json={"triggers": ["link.clicked"]})
    assert watch.watches(tenant.workspace_id, link["id"])
    assert http.delete(f"/api/webhooks/{hook['id']}").is_success
    assert not watch.watches(tenant.workspace_id, link["id"])
    visit(hooked, link["key"], BROWSER + " E")
    assert noted_batches(hooked) == 0
    settle(hooked)
    assert len(receiver.got) == 2


def test_a_410_stops_noting_the_workspaces_clicks(hooked: LiveServer, receiver: Receiver) -> None:
    receiver.answers = [410]
    tenant = make_tenant(hooked)
    link = tracked_link(hooked, tenant, "g")
    subscribe(hooked, tenant, receiver.url, ["link.clicked"])
    visit(hooked, link["key"])
    watch = subscriptions(hooked)
    receiver.wait(lambda: not watch.watches(tenant.workspace_id, link["id"]))


def test_a_rolled_back_batch_notes_nothing(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    link = tracked_link(hooked, tenant, "r")
    subscribe(hooked, tenant, receiver.url, ["link.clicked"])
    stored = visit(hooked, link["key"])
    receiver.wait(lambda: len(receiver.events) == 1)
    settle(hooked)
    with hooked.services.db.transaction() as session:
        row = session.execute(select(click_events).where(click_events.c.id == stored)).first()
    assert row is not None
    assert row[0] == stored
    repeat = Click(*row)
    fresh = repeat._replace(id=click_id(), identity_hash="someone-else")
    # The batch holds a new click and one whose id is taken: it fails whole.
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        hooked.services.events.write_clicks([fresh, repeat])
    assert noted_batches(hooked) == 0
    assert hooked.services.events.get_click(fresh.id) is None
    # The same batch without the taken id goes through, and is sent.
    hooked.services.events.write_clicks([fresh])
    receiver.wait(lambda: len(receiver.events) == 2)
    assert f"evt_{fresh.id}" in receiver.events
    settle(hooked)
    with hooked.services.db.transaction() as session:
        assert session.scalar(select(func.count(WebhookEvent.id))) == 2


def test_the_pacer_yields_to_a_busy_loop() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    spinning = threading.Event()

    def spin() -> None:  # a loop with work queued: 20 ms of it at a time, again and again
        until = time.perf_counter() + 0.02
        while time.perf_counter() < until:
            pass
        if spinning.is_set():
            loop.call_soon(spin)

    try:
        assert thread.ident is not None
        # The CPU-share signal is left out (idle_below > 1): other tests share the cores.
        pacer = Pacer(window=0.0, idle_below=2.0, lag_above=0.002)
        pacer.watch(thread.ident, loop)
        assert pacer.rest_after(0.01) == 0.0
        assert pacer.lag < 0.002
        spinning.set()
        loop.call_soon_threadsafe(spin)
        time.sleep(0.05)
        assert pacer.share() == pacer.floor
        assert pacer.lag > 0.002
        assert pacer.rest_after(0.01) == pytest.approx(0.01 * (1 / pacer.floor - 1))
        spinning.clear()
        time.sleep(0.05)
        assert pacer.share() == 1.0
    finally:
        spinning.clear()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@pytest.mark.redis
def test_the_watch_list_of_another_process_follows_through_redis(
    private_settings: Settings, receiver: Receiver
) -> None:
    with private_redis() as redis_server:
        shared = private_settings.model_copy(update={"redis_url": redis_server.url})
        a, b = (
            quick(LiveServer(create_app(shared, default_domain=HOST), free_port())) for _ in "ab"
        )
        a.start()
        b.start()
        try:
            for live in (a, b):
                invalidations = live.services.invalidations
                assert invalidations is not None
                receiver.wait(invalidations.subscribed.is_set)
            tenant = make_tenant(a)
            link = tracked_link(a, tenant, "two")
            watch_b = subscriptions(b)
            receiver.wait(lambda: not watch_b.watches(tenant.workspace_id, link["id"]))
            hook = subscribe(a, tenant, receiver.url, ["link.clicked"])
            began = time.monotonic()
            receiver.wait(lambda: watch_b.watches(tenant.workspace_id, link["id"]), 2.0)
            print(f"seen by the other process after {(time.monotonic() - began) * 1000:.0f} ms")
            clicked = visit(b, link["key"], host=HOST)
            receiver.wait(lambda: list(receiver.events) == [f"evt_{clicked}"])

            http = a.client(tenant.token)
            assert http.patch(f"/api/webhooks/{hook['id']}", json={"disabled": True}).is_success
            receiver.wait(lambda: not watch_b.watches(tenant.workspace_id, link["id"]), 2.0)

            # Redis drops its subscribers: a change B cannot hear of is possible, so B
            # notes every click until it has read the webhooks again.
            invalidations = b.services.invalidations
            assert invalidations is not None
            resets = invalidations.resets
            admin = redis.Redis.from_url(redis_server.url)
            admin.client_kill_filter(_type="pubsub")
            admin.close()
            receiver.wait(lambda: not invalidations.subscribed.is_set(), 2.0)
            assert watch_b.watches(tenant.workspace_id, link["id"])  # until it is back
            receiver.wait(lambda: invalidations.resets > resets)
            receiver.wait(lambda: not watch_b.watches(tenant.workspace_id, link["id"]), 2.0)
        finally:
            a.stop()
            b.stop()
    assert len(receiver.got) == 1


def test_the_pacer_yields_while_many_clicks_are_written() -> None:
    written = [0]
    pacer = Pacer(window=0.05, writer=lambda: written[0])
    pacer.watch(threading.get_ident())  # this thread: idle while it sleeps below
    time.sleep(0.06)
    assert pacer.share() == 1.0
    written[0] += 200  # 200 clicks in about 0.06 s: over 1,000 a second
    time.sleep(0.06)
    assert pacer.share() == pacer.floor
    assert pacer.clicks > pacer.clicks_above
    time.sleep(0.06)
    assert pacer.share() == 1.0  # none since

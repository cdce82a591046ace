"""Deliveries to a real receiver on loopback: Dub's shapes, valid signatures, retries,
410, timeouts, rolled-back changes, restarts, private addresses."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from dub.models.components import LeadCreatedEvent, LinkWebhookEvent, SaleCreatedEvent
from sqlalchemy import func, select, update

from codeqr.kit.clock import utcnow
from codeqr.link.schemas import LinkCreate
from codeqr.sdk.webhooks import verify
from codeqr.settings import Settings
from codeqr.webhook.delivery import Claimed, Deliverer
from codeqr.webhook.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from codeqr.webhook.transport import is_public
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant

from .conftest import BROWSER, Receiver, serve

ALL = ["link.created", "link.updated", "link.deleted", "lead.created", "sale.created"]


def subscribe(server: LiveServer, tenant: Tenant, url: str, triggers: list[str]) -> dict[str, str]:
    made = server.client(tenant.token).post(
        "/api/webhooks", json={"name": "Receiver", "url": url, "triggers": triggers}
    )
    assert made.status_code == 201, made.text
    hook: dict[str, str] = made.json()
    return hook


def deliveries(server: LiveServer) -> list[WebhookDelivery]:
    with server.services.db.transaction() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at)))


def event_rows(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(WebhookEvent.id))) or 0)


def test_every_event_arrives_in_dubs_shape_signed_once(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ALL)
    http = hooked.client(tenant.token)
    link = http.post(
        "/api/links", json={"url": "https://shop.example/p", "trackConversion": True}
    ).json()
    assert http.patch(f"/api/links/{link['id']}", json={"title": "Spring"}).status_code == 200
    visit = hooked.client().get(f"/{link['key']}", headers={"User-Agent": BROWSER})
    click_id = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    lead = http.post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": "user-1",
            "customerEmail": "ada@example.com",
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text
    sale = http.post(
        "/api/track/sale",
        json={
            "customerExternalId": "user-1",
            "amount": 4900,
            "currency": "EUR",
            "invoiceId": "in_1",
        },
    )
    assert sale.status_code == 200, sale.text
    other = http.post("/api/links", json={"url": "https://shop.example/gone"}).json()
    assert http.delete(f"/api/links/{other['id']}").status_code == 200
    receiver.wait(lambda: len(receiver.events) == 6)

    for got in receiver.got:
        assert verify(hook["secret"], got.body, got.headers), got.headers
        assert got.headers["CodeQR-Event-Id"] == got.json()["id"]
        assert got.headers["CodeQR-Event"] == got.json()["event"]
    assert not verify("whsec_not_the_secret", receiver.got[0].body, receiver.got[0].headers)
    assert len(receiver.got) == 6  # each event once: nothing sent twice in normal operation

    created = LinkWebhookEvent.model_validate(receiver.of_type("link.created")[0])
    assert created.data.id == link["id"]
    assert created.data.track_conversion is True
    updated = receiver.of_type("link.updated")[0]
    assert updated["data"]["title"] == "Spring"
    LinkWebhookEvent.model_validate(updated)
    deleted = LinkWebhookEvent.model_validate(receiver.of_type("link.deleted")[0])
    assert deleted.data.id == other["id"]

    lead_event = LeadCreatedEvent.model_validate(receiver.of_type("lead.created")[0])
    assert lead_event.data.event_name == "Sign up"
    assert lead_event.data.customer.external_id == "user-1"
    assert lead_event.data.click.id == click_id
    assert lead_event.data.link.id == link["id"]
    assert lead_event.data.link.leads == 1  # the link as it is after the lead

    sale_event = SaleCreatedEvent.model_validate(receiver.of_type("sale.created")[0])
    assert sale_event.data.sale.amount == 4900
    assert sale_event.data.sale.currency == "eur"
    assert sale_event.data.sale.invoice_id == "in_1"
    assert sale_event.data.click.id == click_id
    assert sale_event.data.link.sales == 1
    for event in receiver.events.values():
        assert event["id"].startswith("evt_")
        assert set(event) == {"id", "event", "createdAt", "data"}
    # The receiver answers before the worker writes down that it did.
    receiver.wait(lambda: all(d.status == DeliveryStatus.delivered for d in deliveries(hooked)))


def test_only_subscribed_triggers_and_scoped_links(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    http = hooked.client(tenant.token)
    watched = http.post("/api/links", json={"url": "https://shop.example/w"}).json()
    ignored = http.post("/api/links", json={"url": "https://shop.example/i"}).json()
    made = http.post(
        "/api/webhooks",
        json={
            "name": "Scoped",
            "url": receiver.url,
            "triggers": ["link.updated"],
            "linkScope": "links",
            "linkIds": [watched["id"]],
        },
    )
    assert made.status_code == 201, made.text
    http.patch(f"/api/links/{ignored['id']}", json={"title": "no"})
    http.patch(f"/api/links/{watched['id']}", json={"title": "yes"})
    http.post("/api/links", json={"url": "https://shop.example/new"})  # link.created: not wanted
    receiver.wait(lambda: len(receiver.events) == 1)
    assert [e["data"]["id"] for e in receiver.events.values()] == [watched["id"]]
    assert event_rows(hooked) == 1  # nothing noted for what no endpoint wants


def test_a_receiver_failing_three_times_gets_it_on_the_fourth(
    hooked: LiveServer, receiver: Receiver
) -> None:
    receiver.answers = [500, 502, 503]
    tenant = make_tenant(hooked)
    subscribe(hooked, tenant, receiver.url, ["link.created"])
    hooked.client(tenant.token).post("/api/links", json={"url": "https://shop.example/r"})
    receiver.wait(lambda: deliveries(hooked)[0].status == DeliveryStatus.delivered)
    assert len(receiver.got) == 4
    assert len({r.json()["id"] for r in receiver.got}) == 1  # the same event each time
    assert len({r.body for r in receiver.got}) == 1  # byte for byte
    (delivery,) = deliveries(hooked)
    assert delivery.status == DeliveryStatus.delivered
    assert delivery.attempts == 4
    assert delivery.last_status == 200
    assert delivery.last_response == "ok"
    hook = hooked.client(tenant.token).get("/api/webhooks").json()[0]
    assert hook["consecutiveFailures"] == 0
    assert hook["disabledAt"] is None


def test_410_disables_the_endpoint(hooked: LiveServer, receiver: Receiver) -> None:
    receiver.answers = [410]
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    http = hooked.client(tenant.token)
    http.post("/api/links", json={"url": "https://shop.example/a"})
    receiver.wait(lambda: len(receiver.got) == 1)

    def disabled() -> bool:
        return http.get(f"/api/webhooks/{hook['id']}").json()["disabledAt"] is not None

    receiver.wait(disabled)
    shown = http.get(f"/api/webhooks/{hook['id']}").json()
    assert "410" in shown["disabledReason"]
    assert deliveries(hooked)[0].status == DeliveryStatus.failed
    http.post("/api/links", json={"url": "https://shop.example/b"})
    assert event_rows(hooked) == 1  # a disabled endpoint is noted nothing more
    # Turned back on, it gets events again.
    assert http.patch(f"/api/webhooks/{hook['id']}", json={"disabled": False}).status_code == 200
    http.post("/api/links", json={"url": "https://shop.example/c"})
    receiver.wait(lambda: len(receiver.events) == 1)


def test_failing_in_a_row_disables_with_the_reason(hooked: LiveServer, receiver: Receiver) -> None:
    deliverer = hooked.services.deliverer
    assert deliverer is not None
    deliverer.disable_after, deliverer.disable_after_age = 3, timedelta(0)
    receiver.answers = [500] * 10
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    http = hooked.client(tenant.token)
    http.post("/api/links", json={"url": "https://shop.example/x"})
    receiver.wait(lambda: http.get(f"/api/webhooks/{hook['id']}").json()["disabledAt"] is not None)
    shown = http.get(f"/api/webhooks/{hook['id']}").json()
    assert shown["consecutiveFailures"] == 3
    assert "3 deliveries in a row failed" in shown["disabledReason"]
    assert "HTTP 500" in shown["disabledReason"]
    assert deliveries(hooked)[0].status == DeliveryStatus.cancelled
    assert len(receiver.got) == 3


def test_a_hanging_receiver_is_timed_out_and_retried(
    hooked: LiveServer, receiver: Receiver
) -> None:
    receiver.answers = [-3]  # hangs 3 s; the server's timeout is 1 s
    tenant = make_tenant(hooked)
    subscribe(hooked, tenant, receiver.url, ["link.created"])
    hooked.client(tenant.token).post("/api/links", json={"url": "https://shop.example/h"})
    receiver.wait(lambda: len(receiver.got) >= 2, timeout=15)
    receiver.wait(lambda: deliveries(hooked)[0].status == DeliveryStatus.delivered, timeout=15)
    (delivery,) = deliveries(hooked)
    assert delivery.attempts == 2
    assert delivery.last_duration_ms is not None
    assert delivery.last_duration_ms < 1000


def test_a_rolled_back_change_delivers_nothing(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    subscribe(hooked, tenant, receiver.url, ["link.created"])
    services = hooked.services

    class Refused(Exception):
        pass

    def change_then_fail() -> None:
        with services.db.transaction() as session:
            workspace = ws.get_workspace(session, tenant.slug)
            data = LinkCreate.model_validate({"url": "https://shop.example/x"})
            services.links.create(session, workspace, data, None)
            session.flush()
            assert session.scalar(select(func.count(WebhookEvent.id))) == 1  # noted, in here
            raise Refused

    with pytest.raises(Refused):
        change_then_fail()
    # A failed request through the API writes nothing either (its key is taken).
    http = hooked.client(tenant.token)
    assert (
        http.post("/api/links", json={"url": "https://a.example", "key": "k1"}).status_code == 200
    )
    assert (
        http.post("/api/links", json={"url": "https://b.example", "key": "k1"}).status_code == 409
    )
    receiver.wait(lambda: len(receiver.events) == 1)
    assert services.deliverer is not None
    assert services.deliverer.run_once() == 0
    assert event_rows(hooked) == 1
    (only,) = receiver.events.values()
    assert only["data"]["url"] == "https://a.example"


def test_pending_deliveries_go_out_after_a_restart(
    private_settings: Settings, receiver: Receiver
) -> None:
    first = serve(private_settings)
    deliverer = first.services.deliverer
    assert deliverer is not None
    deliverer.base_delay = deliverer.max_delay = 3600.0  # the retry is far away
    receiver.answers = [503]
    tenant = make_tenant(first)
    subscribe(first, tenant, receiver.url, ["link.created"])
    first.client(tenant.token).post("/api/links", json={"url": "https://shop.example/1"})
    receiver.wait(lambda: deliveries(first)[0].attempts == 1)
    # A second event that a worker had claimed when its process died (kill -9): the claim
    # was never given back, and has run out by the next start.
    deliverer.stop()
    first.client(tenant.token).post("/api/links", json={"url": "https://shop.example/2"})
    with first.services.db.transaction() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.attempts == 0)
            .values(claimed_by="dead-process", claimed_until=utcnow() - timedelta(seconds=1))
        )
        # and the first one's retry is due now
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
    first.stop()
    assert len(receiver.events) == 0

    second = serve(private_settings)
    try:
        # Generous waits: what is tested is that both go out and are written down after the
        # restart, not how fast a loaded CI machine does it (it once took over 10 s).
        receiver.wait(lambda: len(receiver.events) == 2, timeout=30)
        assert {e["data"]["url"] for e in receiver.events.values()} == {
            "https://shop.example/1",
            "https://shop.example/2",
        }
        receiver.wait(
            lambda: all(d.status == DeliveryStatus.delivered for d in deliveries(second)),
            timeout=30,
        )
    finally:
        second.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_addresses_are_refused_by_default(
    server: LiveServer, receiver: Receiver, host: str
) -> None:
    # ``server`` runs on the default settings: no CODEQR_WEBHOOKS_ALLOW_PRIVATE.
    assert server.services.settings.webhooks_allow_private is False
    tenant = make_tenant(server)
    url = receiver.url.replace("127.0.0.1", host)
    subscribe(server, tenant, url, ["link.created"])  # saved: the check is at connect time
    server.client(tenant.token).post("/api/links", json={"url": "https://shop.example/p"})
    deliverer = server.services.deliverer
    assert deliverer is not None

    def attempted() -> bool:
        found = deliveries(server)
        return bool(found) and found[0].attempts >= 1

    receiver.wait(attempted)
    (delivery,) = deliveries(server)
    assert delivery.last_status is None
    assert "not a public address" in (delivery.last_response or "")
    assert receiver.got == []


def test_the_setting_allows_them(private_settings: Settings, receiver: Receiver) -> None:
    body = '{"id":"evt_1","event":"link.created"}'
    item = Claimed(
        "whd_1", "wh_1", "evt_1", "link.created", receiver.url, "whsec_x", body, 0, utcnow()
    )
    db = private_settings.database()  # attempts alone touch no table
    allowed = Deliverer(db, allow_private=True, timeout=1.0)
    refused = Deliverer(db, allow_private=False, timeout=1.0)
    try:
        assert allowed.attempt(item).status == 200
        attempt = refused.attempt(item)
    finally:
        allowed.stop()
        refused.stop()
        db.dispose()
    assert attempt.status is None
    assert "127.0.0.1" in attempt.excerpt
    assert "not a public address" in attempt.excerpt
    assert len(receiver.got) == 1


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address judged, not bound
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_backoff_doubles_with_jitter_and_spans_more_than_a_day(hooked: LiveServer) -> None:
    defaults = Deliverer(hooked.services.db, jitter=lambda: 0.5)
    try:
        delays = [defaults.backoff(n) for n in range(1, 30)]
        assert delays[:3] == [30.0, 60.0, 120.0]
        assert max(delays) == defaults.max_delay
        # Retried until the window closes, and never disabled before 24 hours of failures.
        assert defaults.retry_window >= timedelta(hours=24)
        assert defaults.disable_after_age >= timedelta(hours=24)
        assert sum(delays[: defaults.disable_after]) > 24 * 3600
        defaults.jitter = lambda: 0.0
        low = defaults.backoff(3)
        defaults.jitter = lambda: 0.999
        high = defaults.backoff(3)
        assert low == 90.0
        assert 149.0 < high < 150.0
    finally:
        defaults.stop()


def test_the_body_is_the_stored_text(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    subscribe(hooked, tenant, receiver.url, ["link.created"])
    hooked.client(tenant.token).post("/api/links", json={"url": "https://shop.example/ü"})
    receiver.wait(lambda: len(receiver.events) == 1)
    with hooked.services.db.transaction() as session:
        body = session.scalar(select(WebhookEvent.body))
    assert body is not None
    assert receiver.got[0].body == body.encode()
    assert json.loads(body)["data"]["url"].endswith("/%C3%BC") or "ü" in body


def test_two_workers_never_claim_the_same_delivery(hooked: LiveServer) -> None:
    running = hooked.services.deliverer
    assert running is not None
    running.stop()  # the two below are the only workers
    tenant = make_tenant(hooked)
    subscribe(hooked, tenant, "https://receiver.example/hooks", ["link.created"])
    http = hooked.client(tenant.token)
    for n in range(30):
        assert http.post("/api/links", json={"url": f"https://shop.example/{n}"}).is_success
    workers = [Deliverer(hooked.services.db, batch=30) for _ in range(2)]
    claimed: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def claim(index: int) -> None:
        start.wait()
        for _ in range(5):
            claimed[index] += [c.delivery_id for c in workers[index].claim(f"worker-{index}")]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.stop()
    everything = claimed[0] + claimed[1]
    assert len(everything) == 30
    assert len(set(everything)) == 30
    with hooked.services.db.transaction() as session:
        owners = dict(session.execute(select(WebhookDelivery.id, WebhookDelivery.claimed_by)).all())
    assert all(owners[i] == "worker-0" for i in claimed[0])
    assert all(owners[i] == "worker-1" for i in claimed[1])

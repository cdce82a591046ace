"""The delivery log (one row per attempt), test events and redeliveries through the API,
delivered by the real worker to a receiver on loopback."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from dub.models.components import (
    CommissionCreatedEvent,
    LeadCreatedEvent,
    LinkWebhookEvent,
    PartnerEnrolledEvent,
    SaleCreatedEvent,
)
from pydantic import BaseModel
from sqlalchemy import func, select, update

from codeqr.kit.clock import utcnow
from codeqr.sdk.webhooks import verify
from codeqr.webhook import log
from codeqr.webhook.delivery import KEEP_FINISHED
from codeqr.webhook.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.conftest import LiveServer
from tests.factories import make_tenant

from .conftest import Receiver
from .test_delivery import subscribe

MODELS: dict[str, type[BaseModel]] = {
    "link.created": LinkWebhookEvent,
    "link.updated": LinkWebhookEvent,
    "link.deleted": LinkWebhookEvent,
    "lead.created": LeadCreatedEvent,
    "sale.created": SaleCreatedEvent,
    "partner.enrolled": PartnerEnrolledEvent,
    "commission.created": CommissionCreatedEvent,
}


def _log(server: LiveServer, webhook_id: str, page: int = 1) -> log.LogPage:
    with server.services.db.transaction() as session:
        webhook = session.get(Webhook, webhook_id)
        assert webhook is not None
        return log.log_page(session, webhook, page)


def _logged(server: LiveServer, webhook_id: str, count: int) -> log.LogPage:
    """The log once it holds ``count`` attempts (the worker writes each after its POST)."""
    deadline = time.monotonic() + 10
    while len((shown := _log(server, webhook_id)).attempts) < count:
        assert time.monotonic() < deadline, shown
        time.sleep(0.02)
    return shown


def test_a_test_event_of_each_type_parses_with_dubs_models(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked)
    triggers = log.test_triggers()
    assert set(MODELS) <= set(triggers)
    hook = subscribe(hooked, tenant, receiver.url, triggers)
    api = hooked.client(tenant.token)
    queued: list[dict[str, Any]] = []
    for trigger in triggers:
        answer = api.post(f"/api/webhooks/{hook['id']}/test", json={"trigger": trigger})
        assert answer.status_code == 202, answer.text
        queued.append(answer.json())
        assert answer.json()["test"] is True
        assert answer.json()["event"] == trigger
    receiver.wait(lambda: len(receiver.events) == len(triggers))
    for got in receiver.got:
        assert verify(hook["secret"], got.body, got.headers)
        envelope = got.json()
        assert envelope["test"] is True
        model = MODELS.get(envelope["event"])
        if model is not None:
            model.model_validate(envelope)
    assert {q["eventId"] for q in queued} == set(receiver.events)
    # The first trigger by default; nothing sent to the workspace's other endpoints.
    default = api.post(f"/api/webhooks/{hook['id']}/test")
    assert default.status_code == 202
    assert default.json()["event"] == triggers[0]
    shown = _logged(hooked, hook["id"], len(triggers) + 1)
    assert all(a.test for a in shown.attempts)


def test_the_log_keeps_every_attempt(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    receiver.answers = [500, 503]
    api = hooked.client(tenant.token)
    link = api.post("/api/links", json={"url": "https://example.com/logged"}).json()
    receiver.wait(lambda: len(receiver.events) == 1)
    shown = _logged(hooked, hook["id"], 3)
    assert [a.status for a in shown.attempts] == [200, 503, 500]  # newest first
    assert {a.event_type for a in shown.attempts} == {"link.created"}
    assert len({a.event_id for a in shown.attempts}) == 1
    assert shown.attempts[0].ok
    assert not shown.attempts[1].ok
    assert shown.attempts[0].response == "ok"
    assert all(a.duration_ms >= 0 for a in shown.attempts)
    assert not any(a.test for a in shown.attempts)
    assert shown.queued_total == 0
    assert link["id"]


def test_a_redelivery_sends_the_same_event_again(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    api = hooked.client(tenant.token)
    api.post("/api/links", json={"url": "https://example.com/again"})
    receiver.wait(lambda: len(receiver.got) == 1)
    first = receiver.got[0]
    event_id = first.json()["id"]
    # Until the worker has written the attempt down, the delivery is still claimed and a
    # redelivery is refused with 409 (being sent right now): the log shows it in the same
    # transaction that lets the claim go.
    _logged(hooked, hook["id"], 1)
    again = api.post(f"/api/webhooks/{hook['id']}/redeliver", json={"eventId": event_id})
    assert again.status_code == 202, again.text
    assert again.json() == {
        "eventId": event_id,
        "event": "link.created",
        "webhookId": hook["id"],
        "status": "pending",
        "test": False,
    }
    receiver.wait(lambda: len(receiver.got) == 2)
    assert receiver.got[1].body == first.body  # same id, same bytes
    assert verify(hook["secret"], receiver.got[1].body, receiver.got[1].headers)
    assert len(receiver.events) == 1  # a receiver deduping on the id sees it once
    assert [a.event_id for a in _logged(hooked, hook["id"], 2).attempts] == [event_id] * 2

    # An endpoint subscribed later can be sent an earlier event of its workspace.
    later = subscribe(hooked, tenant, receiver.url + "/later", ["sale.created"])
    sent = api.post(f"/api/webhooks/{later['id']}/redeliver", json={"eventId": event_id})
    assert sent.status_code == 202, sent.text
    receiver.wait(lambda: len(receiver.got) == 3)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"eventId": "evt_doesnotexist"}, 404),
        ({"eventId": ""}, 422),
        ({}, 422),
        ({"eventId": "x" * 101}, 422),
        ({"eventId": "evt\x00"}, 422),
    ],
)
def test_redelivering_what_is_not_there(server: LiveServer, body: Any, status: int) -> None:
    tenant = make_tenant(server)
    hook = subscribe(server, tenant, "https://hooks.example/in", ["link.created"])
    answer = server.client(tenant.token).post(f"/api/webhooks/{hook['id']}/redeliver", json=body)
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()


def test_test_events_and_redeliveries_are_refused_while_disabled(server: LiveServer) -> None:
    tenant = make_tenant(server)
    hook = subscribe(server, tenant, "https://hooks.example/in", ["link.created"])
    api = server.client(tenant.token)
    assert api.post(f"/api/webhooks/{hook['id']}/test", json={"trigger": "x"}).status_code == 422
    api.patch(f"/api/webhooks/{hook['id']}", json={"disabled": True})
    refused = api.post(f"/api/webhooks/{hook['id']}/test")
    assert refused.status_code == 409
    assert "enable it again" in refused.json()["error"]["message"]
    api.patch(f"/api/webhooks/{hook['id']}", json={"disabled": False})
    assert api.post(f"/api/webhooks/{hook['id']}/test").status_code == 202


def test_another_workspace_cannot_test_or_redeliver(hooked: LiveServer, receiver: Receiver) -> None:
    a, b = make_tenant(hooked), make_tenant(hooked)
    hook_a = subscribe(hooked, a, receiver.url, ["link.created"])
    hook_b = subscribe(hooked, b, receiver.url + "/b", ["link.created"])
    hooked.client(a.token).post("/api/links", json={"url": "https://example.com/a"})
    receiver.wait(lambda: len(receiver.got) == 1)
    event_a = receiver.got[0].json()["id"]
    api_b = hooked.client(b.token)
    assert api_b.post(f"/api/webhooks/{hook_a['id']}/test").status_code == 404
    named = api_b.post(f"/api/webhooks/{hook_a['id']}/redeliver", json={"eventId": event_a})
    assert named.status_code == 404
    # B's own webhook naming A's event: not found either, and nothing is sent.
    own = api_b.post(f"/api/webhooks/{hook_b['id']}/redeliver", json={"eventId": event_a})
    assert own.status_code == 404
    assert _log(hooked, hook_b["id"]).queued_total == 0
    assert len(receiver.got) == 1


def test_free_plan_and_publishable_keys_are_refused(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="free")
    answer = server.client(tenant.token).post("/api/webhooks/wh_x/test")
    assert answer.status_code == 403


def test_pruning_finished_deliveries_takes_their_attempts(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    receiver.answers = [500]
    hooked.client(tenant.token).post("/api/links", json={"url": "https://example.com/pruned"})
    _logged(hooked, hook["id"], 2)
    deliverer = hooked.services.deliverer
    assert deliverer is not None
    deliverer.prune(now=utcnow())  # nothing is old enough yet
    assert len(_log(hooked, hook["id"]).attempts) == 2
    deliverer.prune(now=utcnow() + KEEP_FINISHED + timedelta(days=1))
    assert _log(hooked, hook["id"]).attempts == []
    with hooked.services.db.transaction() as session:
        assert session.scalar(select(func.count(WebhookAttempt.id))) == 0
        assert session.scalar(select(func.count(WebhookEvent.id))) == 0


def test_an_event_under_way_is_not_queued_twice(hooked: LiveServer, receiver: Receiver) -> None:
    tenant = make_tenant(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    api = hooked.client(tenant.token)
    api.post("/api/links", json={"url": "https://example.com/under-way"})
    receiver.wait(lambda: len(receiver.got) == 1)
    event_id = receiver.got[0].json()["id"]
    _logged(hooked, hook["id"], 1)
    with hooked.services.db.transaction() as session:  # as a worker holding it would
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.event_id == event_id)
            .values(
                status="pending",
                claimed_by="another-worker",
                claimed_until=utcnow() + timedelta(minutes=5),
                next_attempt_at=utcnow() + timedelta(minutes=5),
            )
        )
    path = f"/api/webhooks/{hook['id']}/redeliver"
    busy = api.post(path, json={"eventId": event_id})
    assert busy.status_code == 409
    assert "right now" in busy.json()["error"]["message"]
    with hooked.services.db.transaction() as session:  # the claim expired
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.event_id == event_id)
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert api.post(path, json={"eventId": event_id}).status_code == 202
    receiver.wait(lambda: len(receiver.got) == 2)

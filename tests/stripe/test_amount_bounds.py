"""Stripe's events are bounded like the API's (SPEC §9): a refund never takes back more than
what is left of its sale, whatever ``amount_refunded`` says, and a sale past the per-event
maximum is not counted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codeqr.money.bounds import AMOUNT_MAX
from tests.conftest import LiveServer
from tests.conversion.helpers import customers, link_counters, sales
from tests.factories import Tenant, make_tenant
from tests.stripe.helpers import click_with_id, connect, deliver, event_bytes, refunds, tracked_link
from tests.stripe.test_events import expected

PAID = "checkout.session.completed.payment_link_client_reference_id"
FULL, PARTIAL = "charge.refunded", "charge.refunded.partial"


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    tenant = make_tenant(server)
    connect(server, tenant)
    return tenant


def _deliver(server: LiveServer, tenant: Tenant, event: dict[str, Any]) -> dict[str, Any]:
    answer = deliver(server, tenant, json.dumps(event).encode())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _variant(name: str, event_id: str, **fields: Any) -> dict[str, Any]:
    """The stored event under another id, its object's ``fields`` replaced (signed anew)."""
    event: dict[str, Any] = json.loads(event_bytes(name))
    event["id"] = event_id
    event["data"]["object"].update(fields)
    return event


def _paid(server: LiveServer, tenant: Tenant) -> str:
    """The 49.00 USD Payment Link sale of the fixtures, attributed to a tracked link."""
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(PAID)["click_id"], link_id)
    _deliver(server, tenant, json.loads(event_bytes(PAID)))
    return link_id


def _steps(server: LiveServer, tenant: Tenant) -> list[tuple[int, int | None]]:
    return [(r["amount"], r["reporting_amount"]) for r in refunds(server, tenant.workspace_id)]


def test_an_absurd_refund_after_the_full_one_adds_nothing(
    server: LiveServer, tenant: Tenant
) -> None:
    link_id = _paid(server, tenant)
    _deliver(server, tenant, json.loads(event_bytes(FULL)))
    absurd = _variant(FULL, "evt_absurd_refund_1", amount_refunded=10**12)
    body = _deliver(server, tenant, absurd)
    assert body["handled"] is True, body
    assert _steps(server, tenant) == [(4900, 4900)]
    assert link_counters(server, link_id)["saleAmount"] == 0
    [customer] = customers(server, tenant.workspace_id)
    assert customer.sale_amount == 0


def test_a_refund_past_what_is_left_takes_back_only_what_is_left(
    server: LiveServer, tenant: Tenant
) -> None:
    link_id = _paid(server, tenant)
    _deliver(server, tenant, json.loads(event_bytes(PARTIAL)))  # 15.00 of 49.00
    # The charge, its amount and its refund all claim far more than was ever paid.
    absurd = _variant(FULL, "evt_absurd_refund_2", amount=10**12, amount_refunded=10**12)
    body = _deliver(server, tenant, absurd)
    assert body["handled"] is True, body
    assert _steps(server, tenant) == [(1500, 1500), (3400, 3400)]
    assert sum(amount for amount, _ in _steps(server, tenant)) == 4900
    assert link_counters(server, link_id)["saleAmount"] == 0
    [customer] = customers(server, tenant.workspace_id)
    assert customer.sale_amount == 0
    listed = server.client(tenant.token).get("/api/analytics?event=sales&interval=all")
    assert listed.status_code == 200, listed.text
    assert listed.json()["saleAmount"] == 0


def test_a_refund_past_the_per_event_maximum_is_refused_whole(
    server: LiveServer, tenant: Tenant
) -> None:
    """No Stripe charge is that large: the event is kept refused (its body can never
    change, so a retry would not help) and nothing of it is recorded."""
    link_id = _paid(server, tenant)
    _deliver(server, tenant, json.loads(event_bytes(PARTIAL)))
    absurd = _variant(FULL, "evt_absurd_refund_3", amount=10**20, amount_refunded=10**20)
    body = _deliver(server, tenant, absurd)
    assert body["handled"] is False, body
    assert "not an amount in minor units" in body["reason"]
    assert _steps(server, tenant) == [(1500, 1500)]
    assert link_counters(server, link_id)["saleAmount"] == 3400


def test_a_sale_past_the_per_event_maximum_is_not_counted(
    server: LiveServer, tenant: Tenant
) -> None:
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(PAID)["click_id"], link_id)
    event = _variant(PAID, "evt_absurd_sale_1", amount_total=AMOUNT_MAX + 1, amount_subtotal=0)
    body = _deliver(server, tenant, event)
    assert body["handled"] is False, body
    assert "not an amount in minor units" in body["reason"]
    assert sales(server, tenant.workspace_id) == []
    assert link_counters(server, link_id)["saleAmount"] == 0

"""Commissions from Stripe's events: a partner's link → checkout → renewal, each event
delivered twice (the second time in reverse order), and a first invoice recorded before
its session names the buyer (SPEC §10)."""

from __future__ import annotations

import pytest

from codeqr.program.models import RewardEvent, RewardType
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant
from tests.partner.helpers import commissions, set_reward
from tests.stripe.helpers import click_with_id, connect, deliver, event_bytes
from tests.stripe.test_events import expected

SESSION = "checkout.session.completed.subscription_mode"
EVENTS = [SESSION, "invoice.paid", "invoice.paid.subscription_cycle"]


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    tenant = make_tenant(server)
    connect(server, tenant)
    # $5 flat per lead, 20% of every sale for 12 months from the customer's first one.
    set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 500)
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.percentage, 20, months=12)
    return tenant


def _partner_link(server: LiveServer, tenant: Tenant) -> tuple[str, str]:
    api = server.client(tenant.token)
    partner = api.post("/api/partners", json={"email": "ada@example.com"}).json()
    link = api.post(
        "/api/partners/links", json={"partnerId": partner["id"], "url": "https://shop.example"}
    )
    assert link.status_code == 201, link.text
    click_with_id(server, tenant, expected(SESSION)["click_id"], link.json()["id"])
    return partner["id"], link.json()["id"]


def _deliver(server: LiveServer, tenant: Tenant, name: str) -> None:
    answer = deliver(server, tenant, event_bytes(name))
    assert answer.status_code == 200, answer.text


def test_checkout_then_renewal_each_delivered_twice(server: LiveServer, tenant: Tenant) -> None:
    partner_id, _ = _partner_link(server, tenant)
    for name in [*EVENTS, *reversed(EVENTS)]:
        _deliver(server, tenant, name)
    rows = commissions(server, tenant.workspace_id)
    # The lead and the sale of one event share its time: compared in a stable order.
    assert sorted((r["type"], r["amount"], r["earnings"], r["currency"]) for r in rows) == [
        ("lead", 0, 500, "USD"),  # the sign-up the session's click reference makes
        ("sale", 1900, 380, "USD"),  # the subscription's first payment (session = invoice)
        ("sale", 1900, 380, "USD"),  # the renewal
    ]
    assert {r["partner_id"] for r in rows} == {partner_id}
    assert len({r["event_id"] for r in rows}) == 3


def test_a_first_invoice_before_its_session_earns_when_attributed(
    server: LiveServer, tenant: Tenant
) -> None:
    _deliver(server, tenant, "invoice.paid")  # nobody known yet: unattributed revenue
    assert commissions(server, tenant.workspace_id) == []
    _partner_link(server, tenant)
    _deliver(server, tenant, SESSION)  # names the buyer: the invoice's sale is theirs now
    _deliver(server, tenant, "invoice.paid")
    rows = commissions(server, tenant.workspace_id)
    assert sorted((r["type"], r["amount"], r["earnings"]) for r in rows) == [
        ("lead", 0, 500),
        ("sale", 1900, 380),
    ]

"""Every event of ``tests/fixtures/stripe/events/MANIFEST.json``, delivered signed as stored, gives
its expected attribution (SPEC §5.2)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

import pytest

from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.conversion.helpers import customers, leads, link_counters, sales, tracked_click
from tests.factories import Tenant, make_tenant
from tests.money.test_rates import ecb, ecb_table
from tests.stripe.helpers import (
    CONNECTED_ACCOUNT,
    MANIFEST,
    click_with_id,
    connect,
    deliver,
    event_bytes,
    inbox,
    refunds,
    sign,
    tracked_link,
)
from tests.stripe.standin import StripeStandIn

CODEQR_CUSTOMER = "user_2Qm8ZkT4vXa9Lp3R"
APP_TEST = "/api/stripe/integration/webhook/test"
PARTIAL, FULL = "charge.refunded.partial", "charge.refunded"


def expected(name: str) -> dict[str, Any]:
    for entry in MANIFEST["events"]:
        if entry["file"] == f"events/{name}.json":
            found: dict[str, Any] = entry["expected_attribution"]
            return found
    raise KeyError(name)


def event_day(name: str) -> date:
    created = json.loads(event_bytes(name))["created"]
    return datetime.fromtimestamp(created, tz=UTC).date()


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    tenant = make_tenant(server)
    connect(server, tenant)
    return tenant


def _ok(server: LiveServer, tenant: Tenant, name: str) -> dict[str, Any]:
    answer = deliver(server, tenant, event_bytes(name))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _known_customer(server: LiveServer, tenant: Tenant) -> str:
    """The merchant's user ``user_2Qm8…`` signed up through a tracked link (track.lead)."""
    click = tracked_click(server, tenant)
    answer = server.client(tenant.token).post(
        "/api/track/lead",
        json={
            "clickId": click.click_id,
            "eventName": "Sign up",
            "customerExternalId": CODEQR_CUSTOMER,
        },
    )
    assert answer.status_code == 200, answer.text
    return click.link_id


def test_every_manifest_event_is_covered_here() -> None:
    names = {e["file"].removeprefix("events/").removesuffix(".json") for e in MANIFEST["events"]}
    tested = {
        "customer.created",
        "customer.updated",
        "checkout.session.completed",
        "checkout.session.completed.payment_link_client_reference_id",
        "checkout.session.completed.metadata_codeqr_customer_id",
        "checkout.session.completed.adaptive_pricing_presentment_details",
        "checkout.session.completed.adaptive_pricing_currency_conversion_legacy",
        "checkout.session.completed.jpy_zero_decimal",
        "checkout.session.completed.subscription_mode",
        "checkout.session.completed.async_payment_unpaid",
        "checkout.session.completed.connect_account",
        "invoice.paid",
        "invoice.paid.subscription_cycle",
        "charge.refunded",
        "charge.refunded.partial",
    }
    assert names == tested


def test_customer_created_without_codeqr_metadata_records_nothing(
    server: LiveServer, tenant: Tenant
) -> None:
    body = _ok(server, tenant, "customer.created")
    assert body["handled"] is True
    assert "codeqrCustomerId" in body["outcome"]
    assert customers(server, tenant.workspace_id) == []


def test_customer_updated_ties_the_stripe_customer_to_ours(
    server: LiveServer, tenant: Tenant
) -> None:
    _known_customer(server, tenant)
    _ok(server, tenant, "customer.updated")
    [customer] = customers(server, tenant.workspace_id)
    assert customer.external_id == expected("customer.updated")["codeqr_customer_id"]
    assert customer.stripe_customer_id == expected("customer.updated")["customer"]


def test_customer_updated_for_an_unknown_customer_records_nothing(
    server: LiveServer, tenant: Tenant
) -> None:
    body = _ok(server, tenant, "customer.updated")
    assert "No customer" in body["outcome"]
    assert customers(server, tenant.workspace_id) == []


def test_a_paid_session_with_nothing_to_attribute_is_unattributed_revenue(
    server: LiveServer, tenant: Tenant, stripe_api: StripeStandIn
) -> None:
    _ok(server, tenant, "checkout.session.completed")
    want = expected("checkout.session.completed")
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["currency"]) == (want["amount_minor"], "USD")
    assert sale["customer_id"] is None
    assert sale["link_id"] is None
    assert sale["test"] is True  # livemode false: kept as test data
    assert customers(server, tenant.workspace_id) == []


def test_payment_link_click_reference_makes_customer_lead_and_sale(
    server: LiveServer, tenant: Tenant
) -> None:
    name = "checkout.session.completed.payment_link_client_reference_id"
    want = expected(name)
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, want["click_id"], link_id)
    _ok(server, tenant, name)
    [customer] = customers(server, tenant.workspace_id)
    assert customer.external_id == want["customer_email"]
    assert customer.email == want["customer_email"]
    assert customer.click_id == want["click_id"]
    assert customer.link_id == link_id
    [lead] = leads(server, tenant.workspace_id)
    assert (lead["event_name"], lead["customer_id"]) == ("Sign up", customer.id)
    [sale] = sales(server, tenant.workspace_id)
    assert sale["event_name"] == "Purchase"
    assert (sale["amount"], sale["currency"]) == (want["amount_minor"], "USD")
    assert sale["payment_intent_id"] == want["payment_intent"]
    assert sale["click_id"] == want["click_id"]
    assert sale["link_id"] == link_id
    assert link_counters(server, link_id) == {
        "clicks": 1,
        "leads": 1,
        "sales": 1,
        "saleAmount": want["amount_minor"],
    }
    assert (customer.sales, customer.sale_amount) == (1, want["amount_minor"])


def test_session_metadata_names_a_known_customer(server: LiveServer, tenant: Tenant) -> None:
    name = "checkout.session.completed.metadata_codeqr_customer_id"
    want = expected(name)
    link_id = _known_customer(server, tenant)
    _ok(server, tenant, name)
    [customer] = customers(server, tenant.workspace_id)
    assert customer.stripe_customer_id == want["customer"]
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["customer_id"], sale["amount"], sale["event_name"]) == (
        customer.id,
        want["amount_minor"],
        "Purchase",
    )
    assert link_counters(server, link_id)["saleAmount"] == want["amount_minor"]


@pytest.mark.parametrize(
    "name",
    [
        "checkout.session.completed.adaptive_pricing_presentment_details",
        "checkout.session.completed.adaptive_pricing_currency_conversion_legacy",
    ],
)
def test_adaptive_pricing_is_recorded_in_the_merchants_currency(
    server: LiveServer, tenant: Tenant, name: str
) -> None:
    want = expected(name)
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, want["click_id"], link_id)
    _ok(server, tenant, name)
    [sale] = sales(server, tenant.workspace_id)
    # Both shapes are the merchant's 49.00 USD, whatever the buyer saw (45.23 EUR).
    assert (sale["amount"], sale["currency"]) == (4900, "USD")
    assert sale["reporting_amount"] == 4900


def _ecb_day(day: date) -> date:
    return max(d for d in ecb_table() if d <= day)


def test_yen_is_zero_decimal_and_converted_at_the_ecb_rate_of_its_day(
    server: LiveServer, tenant: Tenant
) -> None:
    name = "checkout.session.completed.jpy_zero_decimal"
    want = expected(name)
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, want["click_id"], link_id)
    _ok(server, tenant, name)
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["currency"]) == (4980, "JPY")  # ¥4,980
    day = _ecb_day(event_day(name))
    assert sale["fx_date"] == day.isoformat()
    assert sale["reporting_amount"] == round(
        Fraction(4980) / ecb("JPY", day) * ecb("USD", day) * 100
    )
    [customer] = customers(server, tenant.workspace_id)
    session = json.loads(event_bytes(name))["data"]["object"]
    assert customer.name == session["customer_details"]["name"] == "山田 太郎"


def test_a_workspace_reporting_in_euros(server: LiveServer, tenant: Tenant) -> None:
    with server.services.db.transaction() as session:
        ws.set_reporting_currency(session, ws.get_workspace(session, tenant.slug), "EUR")
    name = "checkout.session.completed.jpy_zero_decimal"
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(name)["click_id"], link_id)
    _ok(server, tenant, name)
    [sale] = sales(server, tenant.workspace_id)
    day = _ecb_day(event_day(name))
    assert sale["reporting_currency"] == "EUR"
    assert sale["reporting_amount"] == round(Fraction(4980) / ecb("JPY", day) * 100)
    assert link_counters(server, link_id)["saleAmount"] == sale["reporting_amount"]


def test_subscription_session_and_its_first_invoice_count_once(
    server: LiveServer, tenant: Tenant
) -> None:
    name = "checkout.session.completed.subscription_mode"
    want = expected(name)
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, want["click_id"], link_id)
    _ok(server, tenant, name)
    body = _ok(server, tenant, "invoice.paid")
    assert "already recorded" in body["outcome"]
    [customer] = customers(server, tenant.workspace_id)
    assert customer.external_id == want["customer"] == customer.stripe_customer_id
    assert [lead["event_name"] for lead in leads(server, tenant.workspace_id)] == ["Sign up"]
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["event_name"], sale["amount"], sale["invoice_id"]) == (
        "Subscription creation",
        want["amount_minor"],
        want["invoice"],
    )
    assert link_counters(server, link_id)["sales"] == 1


def test_an_unpaid_session_is_not_a_sale_until_its_payment_succeeds(
    server: LiveServer, tenant: Tenant
) -> None:
    name = "checkout.session.completed.async_payment_unpaid"
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(name)["click_id"], link_id)
    body = _ok(server, tenant, name)
    assert "not paid yet" in body["outcome"]
    assert sales(server, tenant.workspace_id) == []
    # Stripe's follow-up event: the same session, now paid.
    event = json.loads(event_bytes(name))
    event["id"] = "evt_async_payment_succeeded_1"
    event["type"] = "checkout.session.async_payment_succeeded"
    event["data"]["object"]["payment_status"] = "paid"
    _ok_bytes = json.dumps(event).encode()
    answer = deliver(server, tenant, _ok_bytes)
    assert answer.status_code == 200, answer.text
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["link_id"]) == (4900, link_id)


def test_connect_event_goes_to_the_workspace_bound_to_its_account(server: LiveServer) -> None:
    name = "checkout.session.completed.connect_account"
    want = expected(name)
    body = event_bytes(name)
    headers = {"stripe-signature": sign(body), "content-type": "application/json"}
    # No workspace holds the account yet: acknowledged, nothing stored.
    answer = server.client().post(
        "/api/stripe/integration/webhook/test", content=body, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is False
    assert CONNECTED_ACCOUNT in answer.json()["reason"]

    tenant = make_tenant(server)
    connect(server, tenant, account=CONNECTED_ACCOUNT, test="whsec_unused_here", api_key=None)
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, want["click_id"], link_id)
    answer = server.client().post(
        "/api/stripe/integration/webhook/test", content=body, headers=headers
    )
    assert answer.status_code == 200, answer.text
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["link_id"]) == (want["amount_minor"], link_id)
    # The live endpoint has its own secret: the test endpoint's signature is refused there.
    answer = server.client().post("/api/stripe/integration/webhook", content=body, headers=headers)
    assert answer.status_code == 400


def test_first_invoice_alone_is_recorded_then_the_session_attributes_it(
    server: LiveServer, tenant: Tenant
) -> None:
    _ok(server, tenant, "invoice.paid")
    [sale] = sales(server, tenant.workspace_id)
    assert sale["customer_id"] is None
    assert sale["amount"] == 1900
    name = "checkout.session.completed.subscription_mode"
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(name)["click_id"], link_id)
    _ok(server, tenant, name)
    [sale] = sales(server, tenant.workspace_id)
    [customer] = customers(server, tenant.workspace_id)
    assert (sale["customer_id"], sale["link_id"], sale["event_name"]) == (
        customer.id,
        link_id,
        "Subscription creation",
    )
    assert link_counters(server, link_id)["saleAmount"] == 1900


def test_renewal_adds_a_second_sale_for_the_stripe_customer(
    server: LiveServer, tenant: Tenant
) -> None:
    name = "checkout.session.completed.subscription_mode"
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(name)["click_id"], link_id)
    _ok(server, tenant, name)
    _ok(server, tenant, "invoice.paid.subscription_cycle")
    first, renewal = sales(server, tenant.workspace_id)
    assert renewal["event_name"] == "Invoice paid"
    assert renewal["customer_id"] == first["customer_id"]
    assert link_counters(server, link_id)["sales"] == 2
    assert link_counters(server, link_id)["saleAmount"] == 3800


def _paid_by_payment_link(server: LiveServer, tenant: Tenant) -> str:
    name = "checkout.session.completed.payment_link_client_reference_id"
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, expected(name)["click_id"], link_id)
    _ok(server, tenant, name)
    return link_id


def test_full_refund_takes_back_the_sale(server: LiveServer, tenant: Tenant) -> None:
    link_id = _paid_by_payment_link(server, tenant)
    _ok(server, tenant, "charge.refunded")
    [refund] = refunds(server, tenant.workspace_id)
    assert (refund["amount"], refund["refunded_total"], refund["link_id"]) == (4900, 4900, link_id)
    counters = link_counters(server, link_id)
    assert (counters["sales"], counters["saleAmount"]) == (1, 0)
    [customer] = customers(server, tenant.workspace_id)
    assert customer.sale_amount == 0


@pytest.mark.parametrize(
    "order",
    [
        ("charge.refunded.partial", "charge.refunded"),
        ("charge.refunded", "charge.refunded.partial"),
    ],
)
def test_cumulative_refunds_in_any_order_end_at_the_full_refund(
    server: LiveServer, tenant: Tenant, order: tuple[str, str]
) -> None:
    link_id = _paid_by_payment_link(server, tenant)
    for name in order:
        _ok(server, tenant, name)
    steps = [(r["amount"], r["refunded_total"]) for r in refunds(server, tenant.workspace_id)]
    if order[0] == "charge.refunded.partial":
        assert steps == [(1500, 1500), (3400, 4900)]
    else:
        assert steps == [(4900, 4900)]  # the later partial adds nothing
    assert link_counters(server, link_id)["saleAmount"] == 0


def test_refund_of_an_unknown_charge_waits_for_its_sale(server: LiveServer, tenant: Tenant) -> None:
    body = _ok(server, tenant, "charge.refunded")
    assert body["handled"] is False
    assert "No sale" in body["reason"]
    assert refunds(server, tenant.workspace_id) == []
    [kept] = inbox(server, tenant.workspace_id)
    assert kept.handled_at is None  # kept for the sale it refunds

"""Odd bodies and odd fields of signed events never reach a 500 (issue 14, finding 6): a body
that is not UTF-8 or whose envelope is not Stripe's is 400 and stores nothing; a well-filed
event with a field no handler can act on is stored refused, with the reason, and answered
200 so Stripe stops retrying. What is stored of an event leaves out the buyer's address and
phone (finding 10)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from codeqr.stripe import webhooks
from tests.conftest import LiveServer
from tests.conversion.helpers import customers, sales
from tests.factories import Tenant, make_tenant
from tests.stripe.helpers import (
    SECRET,
    click_with_id,
    connect,
    deliver,
    event_bytes,
    inbox,
    sign,
    tracked_link,
)

PAYMENT_LINK = "checkout.session.completed.payment_link_client_reference_id"
APP_LIVE, APP_TEST = "/api/stripe/integration/webhook", "/api/stripe/integration/webhook/test"
APP_SECRETS = {APP_LIVE: "whsec_app_live_secret", APP_TEST: "whsec_test_secret"}


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    tenant = make_tenant(server)
    connect(server, tenant)
    return tenant


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(event_bytes(name))
    return loaded


def _bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


NOT_UTF8 = b'{"id": "evt_1", "type": "checkout.session.completed", "note": "caf\xe9"}'


@pytest.mark.parametrize("signed", [True, False])
def test_a_body_that_is_not_utf8_is_400_on_every_endpoint(
    server: LiveServer, tenant: Tenant, signed: bool
) -> None:
    for path, secret in [
        (f"/api/stripe/webhook/{tenant.workspace_id}", SECRET),
        (APP_LIVE, APP_SECRETS[APP_LIVE]),
        (APP_TEST, APP_SECRETS[APP_TEST]),
    ]:
        # A signature over the bytes as they are (what a sender holding the secret makes).
        header = sign(NOT_UTF8, secret) if signed else "t=1,v1=00"
        answer = server.client().post(path, content=NOT_UTF8, headers={"stripe-signature": header})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["code"] == "bad_request"
        assert "UTF-8" in answer.json()["error"]["message"]
    assert inbox(server, tenant.workspace_id) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted path of the event (``data.object.amount_total``) to ``value``."""

    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        at = event
        for name in parents:
            at = at[name]
        at[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        at = event
        for name in parents:
            at = at[name]
        del at[last]

    return change


ENVELOPES = {
    "created is a string": (_set("created", "abc"), "created"),
    "created is 1e30": (_set("created", 1e30), "created"),
    "created is a huge integer": (_set("created", 10**30), "created"),
    "created is negative": (_set("created", -5), "created"),
    "created is true": (_set("created", True), "created"),
    "created is missing": (_drop("created"), "created"),
    "id is a number": (_set("id", 12), "Stripe event"),
    "id is too long": (_set("id", "evt_" + "x" * 300), "id"),
    "livemode is a string": (_set("livemode", "yes"), "livemode"),
    "account is a number": (_set("account", 7), "account"),
    "account is too long": (_set("account", "acct_" + "x" * 100), "account"),
    "data is a string": (_set("data", "x"), "data.object"),
    "data.object is null": (_set("data.object", None), "data.object"),
    "data.object is missing": (_set("data", {}), "data.object"),
    "a list, not an event": (lambda e: None, "JSON object"),
}


@pytest.mark.parametrize("case", list(ENVELOPES))
def test_an_envelope_not_stripes_shape_is_400_and_stores_nothing(
    server: LiveServer, tenant: Tenant, case: str
) -> None:
    change, said = ENVELOPES[case]
    event = _event(PAYMENT_LINK)
    change(event)
    body = b"[1, 2]" if case == "a list, not an event" else _bytes(event)
    for _ in range(2):  # the same answer every time: nothing half-written in between
        answer = deliver(server, tenant, body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "bad_request"
        assert said in answer.json()["error"]["message"]
    assert inbox(server, tenant.workspace_id) == []


def test_the_app_endpoint_refuses_an_odd_envelope_too(server: LiveServer) -> None:
    event = _event("checkout.session.completed.connect_account")
    event["created"] = "abc"
    body = _bytes(event)
    answer = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_SECRETS[APP_TEST])}
    )
    assert answer.status_code == 400, answer.text
    assert "created" in answer.json()["error"]["message"]


SESSION = "data.object"
ODD_FIELDS: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "amount as a string": (PAYMENT_LINK, _set(f"{SESSION}.amount_total", "4900"), "amount_total"),
    "amount as a float": (PAYMENT_LINK, _set(f"{SESSION}.amount_total", 49.0), "amount_total"),
    "huge amount": (PAYMENT_LINK, _set(f"{SESSION}.amount_total", 10**30), "amount_total"),
    "amount 1e30": (PAYMENT_LINK, _set(f"{SESSION}.amount_total", 1e30), "amount_total"),
    "tax as a string": (
        PAYMENT_LINK,
        _set(f"{SESSION}.total_details.amount_tax", "0"),
        "amount_tax",
    ),
    "total_details a string": (
        PAYMENT_LINK,
        _set(f"{SESSION}.total_details", "x"),
        "total_details",
    ),
    "customer_details a list": (
        PAYMENT_LINK,
        _set(f"{SESSION}.customer_details", [1]),
        "customer_details",
    ),
    "email a number": (PAYMENT_LINK, _set(f"{SESSION}.customer_details.email", 5), "email"),
    "metadata a list": (PAYMENT_LINK, _set(f"{SESSION}.metadata", ["a"]), "metadata"),
    "unknown currency": (PAYMENT_LINK, _set(f"{SESSION}.currency", "xyz"), "currency"),
    "currency a number": (PAYMENT_LINK, _set(f"{SESSION}.currency", 840), "currency"),
    "paid session without currency": (PAYMENT_LINK, _set(f"{SESSION}.currency", None), "currency"),
    "session id a number": (PAYMENT_LINK, _set(f"{SESSION}.id", 1), ".id"),
    "session id too long": (PAYMENT_LINK, _set(f"{SESSION}.id", "cs_" + "x" * 300), ".id"),
    "payment intent an object without id": (
        PAYMENT_LINK,
        _set(f"{SESSION}.payment_intent", {"object": "payment_intent"}),
        "payment_intent",
    ),
    "customer id too long": (
        PAYMENT_LINK,
        _set(f"{SESSION}.customer", "cus_" + "x" * 300),
        "customer",
    ),
    "legacy conversion currency unknown": (
        "checkout.session.completed.adaptive_pricing_currency_conversion_legacy",
        _set(f"{SESSION}.currency_conversion.source_currency", "usx"),
        "source_currency",
    ),
    "invoice amount_paid a string": (
        "invoice.paid",
        _set(f"{SESSION}.amount_paid", "1900"),
        "amount_paid",
    ),
    "invoice without currency": ("invoice.paid", _drop(f"{SESSION}.currency"), "currency"),
    "invoice parent a string": ("invoice.paid", _set(f"{SESSION}.parent", "sub"), "parent"),
    "subscription metadata a list": (
        "invoice.paid.subscription_cycle",
        _set(f"{SESSION}.parent.subscription_details.metadata", [1]),
        "metadata",
    ),
    "refunded amount a string": (
        "charge.refunded",
        _set(f"{SESSION}.amount_refunded", "4900"),
        "amount_refunded",
    ),
    "charge amount huge": ("charge.refunded", _set(f"{SESSION}.amount", 10**20), "amount"),
    "charge currency null": ("charge.refunded", _set(f"{SESSION}.currency", None), "currency"),
    "customer name a number": ("customer.updated", _set(f"{SESSION}.name", 3), "name"),
    "customer metadata a string": (
        "customer.updated",
        _set(f"{SESSION}.metadata", "m"),
        "metadata",
    ),
    "customer without id": ("customer.created", _drop(f"{SESSION}.id"), ".id"),
}


@pytest.mark.parametrize("case", list(ODD_FIELDS))
def test_an_odd_field_stores_the_event_refused_with_its_reason(
    server: LiveServer, tenant: Tenant, case: str
) -> None:
    name, change, field = ODD_FIELDS[case]
    event = _event(name)
    change(event)
    body = _bytes(event)
    answer = deliver(server, tenant, body)
    assert answer.status_code == 200, answer.text
    said = answer.json()
    assert said["handled"] is False
    assert field in said["reason"]
    [stored] = inbox(server, tenant.workspace_id)
    assert stored.handled_at is not None  # settled: no retry, replay or waiting refund
    assert stored.outcome == f"Refused: {said['reason']}"
    assert stored.last_error == said["reason"]
    assert sales(server, tenant.workspace_id) == []
    again = deliver(server, tenant, body)  # a redelivery: the same answer, nothing more
    assert (again.status_code, again.json()["reason"]) == (200, said["reason"])
    assert len(inbox(server, tenant.workspace_id)) == 1
    assert webhooks.replay(server.services, tenant.workspace_id) == []


def test_null_objects_where_objects_may_be_null_are_handled(
    server: LiveServer, tenant: Tenant
) -> None:
    """Stripe's nullable objects (total_details, customer_details, metadata) as null: not
    odd, the sale is recorded as Stripe reported it."""
    event = _event(PAYMENT_LINK)
    obj = event["data"]["object"]
    obj.update(total_details=None, customer_details=None, metadata=None, customer=None)
    answer = deliver(server, tenant, _bytes(event))
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True
    [sale] = sales(server, tenant.workspace_id)
    assert sale["amount"] == obj["amount_total"]


def test_names_and_emails_too_long_to_keep_are_left_out_not_refused(
    server: LiveServer, tenant: Tenant
) -> None:
    event = _event(PAYMENT_LINK)
    details = event["data"]["object"]["customer_details"]
    details["name"] = "N" * 300
    details["email"] = "e" * 400 + "@example.com"
    click = event["data"]["object"]["client_reference_id"].removeprefix("codeqr_id_")
    click_with_id(server, tenant, click, tracked_link(server, tenant))
    answer = deliver(server, tenant, _bytes(event))
    assert answer.status_code == 200, answer.text
    [customer] = customers(server, tenant.workspace_id)
    assert customer.name == "N" * 190
    assert customer.email is None
    assert len(sales(server, tenant.workspace_id)) == 1


def test_a_codeqr_customer_id_too_long_to_name_anyone_is_ignored(
    server: LiveServer, tenant: Tenant
) -> None:
    event = _event("customer.updated")
    obj = event["data"]["object"]
    click_id = "Tq8JxBv1LcZr6Nf3"
    click_with_id(server, tenant, click_id, tracked_link(server, tenant))
    obj["metadata"] = {"codeqrCustomerId": "u" * 400, "codeqrClickId": click_id}
    answer = deliver(server, tenant, _bytes(event))
    assert answer.status_code == 200, answer.text
    [customer] = customers(server, tenant.workspace_id)
    assert customer.external_id == obj["id"]  # the Stripe customer id stands in


def test_the_stored_payload_keeps_what_attribution_needs_and_no_address(
    server: LiveServer, tenant: Tenant
) -> None:
    event = _event(PAYMENT_LINK)
    obj = event["data"]["object"]
    obj["customer_details"].update(
        phone="+1 555 0100",
        address={"line1": "1 Main St", "city": "Springfield", "postal_code": "94107"},
        tax_ids=[{"type": "eu_vat", "value": "DE123456789"}],
    )
    obj["shipping_details"] = {"address": {"line1": "1 Main St"}, "name": "Jenny Rosen"}
    obj["custom_fields"] = [{"key": "birthday", "text": {"value": "1990-01-01"}}]
    answer = deliver(server, tenant, _bytes(event))
    assert answer.status_code == 200, answer.text
    [stored] = inbox(server, tenant.workspace_id)
    kept = json.loads(stored.payload)
    for gone in ("1 Main St", "Springfield", "94107", "555 0100", "DE123456789", "1990-01-01"):
        assert gone not in stored.payload
    kept_obj = kept["data"]["object"]
    assert kept_obj["customer_details"] == {
        "name": obj["customer_details"]["name"],
        "email": obj["customer_details"]["email"],
    }
    for needed in ("id", "amount_total", "currency", "client_reference_id", "payment_intent"):
        assert kept_obj[needed] == obj[needed]
    assert (kept["id"], kept["type"], kept["created"]) == (
        event["id"],
        event["type"],
        event["created"],
    )


def test_a_charge_keeps_no_billing_details(server: LiveServer, tenant: Tenant) -> None:
    deliver(server, tenant, event_bytes("charge.refunded"))  # waits for its sale, stored
    [stored] = inbox(server, tenant.workspace_id)
    assert "billing_details" not in stored.payload
    assert "jenny.rosen@example.com" not in stored.payload
    kept = json.loads(stored.payload)["data"]["object"]
    source = _event("charge.refunded")["data"]["object"]
    for needed in ("id", "amount", "amount_refunded", "currency", "payment_intent"):
        assert kept[needed] == source[needed]


def test_previous_attributes_are_not_kept(server: LiveServer, tenant: Tenant) -> None:
    event = _event("customer.updated")
    event["data"]["previous_attributes"] = {"address": {"line1": "2 Old Rd"}}
    event["data"]["object"]["address"] = {"line1": "3 New Rd"}
    event["data"]["object"]["phone"] = "+44 20 7946 0000"
    deliver(server, tenant, _bytes(event))
    [stored] = inbox(server, tenant.workspace_id)
    for gone in ("2 Old Rd", "3 New Rd", "7946", "previous_attributes"):
        assert gone not in stored.payload
    assert (
        copy.deepcopy(json.loads(stored.payload)["data"]["object"]["metadata"])
        == (event["data"]["object"]["metadata"])
    )

"""``/api/track/lead`` and ``/api/track/sale`` as a user lives them, through the unmodified
``dub`` SDK (0.39) and over plain HTTP (SPEC §4)."""

from __future__ import annotations

import pytest
from dub.models import errors

from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.link.helpers import dub_sdk, error_of

from .helpers import another_click, customers, leads, link_counters, sales, tracked_click


def test_click_to_lead_to_sale_with_the_dub_sdk(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    with dub_sdk(server, tenant.token) as dub:
        lead = dub.track.lead(
            request={
                "click_id": click.click_id,
                "event_name": "Sign up",
                "customer_external_id": "user_42",
                "customer_name": "Ada Lovelace",
                "customer_email": "ada@example.com",
                "customer_avatar": "https://example.com/ada.png",
                "metadata": {"plan": "trial"},
            }
        )
        assert lead.click.id == click.click_id
        assert lead.link is not None
        assert lead.link.id == click.link_id
        assert lead.link.short_link == click.short_link
        assert lead.customer.external_id == "user_42"
        assert lead.customer.email == "ada@example.com"

        sale = dub.track.sale(
            request={
                "customer_external_id": "user_42",
                "amount": 4900,
                "currency": "usd",
                "payment_processor": "stripe",
                "invoice_id": "in_1001",
                "metadata": {"sku": "pro-monthly"},
            }
        )
        assert sale.event_name == "Purchase"
        assert sale.customer is not None
        assert sale.customer.external_id == "user_42"
        assert sale.sale is not None
        assert (sale.sale.amount, sale.sale.currency) == (4900, "usd")
        assert sale.sale.invoice_id == "in_1001"
        assert sale.sale.metadata == {"sku": "pro-monthly"}

        customer = dub.customers.get(request={"id": "ext_user_42"})
        assert customer.id == sale.customer.id
        assert (customer.sales, customer.sale_amount) == (1, 4900)
        assert customer.first_sale_at is not None
        assert customer.link is not None
        assert customer.link.id == click.link_id

    assert link_counters(server, click.link_id) == {
        "clicks": 1,
        "leads": 1,
        "sales": 1,
        "saleAmount": 4900,
    }
    (stored_lead,) = leads(server, tenant.workspace_id)
    assert stored_lead["click_id"] == click.click_id
    assert stored_lead["event_name"] == "Sign up"
    assert stored_lead["metadata"] == {"plan": "trial"}
    (stored_sale,) = sales(server, tenant.workspace_id)
    assert stored_sale["link_id"] == click.link_id
    assert stored_sale["click_id"] == click.click_id
    assert stored_sale["customer_id"] == customer.id
    assert (stored_sale["amount"], stored_sale["currency"]) == (4900, "USD")
    assert (stored_sale["reporting_amount"], stored_sale["reporting_currency"]) == (4900, "USD")
    assert stored_sale["payment_processor"] == "stripe"


def test_sale_with_explicit_nulls_and_without_invoice_counts_each_call(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    with dub_sdk(server, tenant.token) as dub:
        dub.track.lead(
            request={
                "click_id": click.click_id,
                "event_name": "Sign up",
                "customer_external_id": "u1",
                "customer_name": None,
                "customer_email": None,
                "customer_avatar": None,
                "event_quantity": None,
                "metadata": None,
            }
        )
        for _ in range(2):
            sale = dub.track.sale(
                request={
                    "customer_external_id": "u1",
                    "amount": 1500,
                    "invoice_id": None,
                    "metadata": None,
                    "lead_event_name": None,
                    "click_id": None,
                    "customer_name": None,
                    "customer_email": None,
                    "customer_avatar": None,
                }
            )
            assert sale.sale is not None
            assert sale.sale.invoice_id is None
    assert link_counters(server, click.link_id)["sales"] == 2
    assert link_counters(server, click.link_id)["saleAmount"] == 3000
    assert len(sales(server, tenant.workspace_id)) == 2


def test_same_invoice_twice_is_one_sale_and_the_retry_gets_the_first_answer(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    api.post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    body = {"customerExternalId": "u1", "amount": 2500, "invoiceId": "inv_7"}
    first = api.post("/api/track/sale", json=body)
    again = api.post("/api/track/sale", json={**body, "amount": 9999})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(sales(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id)["saleAmount"] == 2500


def test_repeat_lead_is_acknowledged_and_not_counted(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    body = {"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"}
    for _ in range(3):
        assert api.post("/api/track/lead", json=body).status_code == 200
    assert len(leads(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id)["leads"] == 1
    # Another event name of the same customer is another lead.
    api.post("/api/track/lead", json={**body, "eventName": "Activated", "eventQuantity": 3})
    assert link_counters(server, click.link_id)["leads"] == 4
    assert len(customers(server, tenant.workspace_id)) == 1


def test_deferred_lead_ties_customer_to_click_and_a_later_call_completes_it(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    deferred = api.post(
        "/api/track/lead",
        json={
            "clickId": click.click_id,
            "eventName": "Sign up",
            "customerExternalId": "u9",
            "mode": "deferred",
        },
    )
    assert deferred.status_code == 200, deferred.text
    (customer,) = customers(server, tenant.workspace_id)
    assert (customer.click_id, customer.link_id) == (click.click_id, click.link_id)
    assert leads(server, tenant.workspace_id) == []
    assert link_counters(server, click.link_id)["leads"] == 0

    # The completing call does not know the click any more: an empty clickId reuses it.
    done = api.post(
        "/api/track/lead",
        json={"clickId": "", "eventName": "Sign up", "customerExternalId": "u9", "mode": "wait"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["click"]["id"] == click.click_id
    (lead,) = leads(server, tenant.workspace_id)
    assert lead["click_id"] == click.click_id
    assert link_counters(server, click.link_id)["leads"] == 1


def test_empty_click_id_needs_a_customer_with_a_click(server: LiveServer) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    response = api.post(
        "/api/track/lead",
        json={"clickId": "", "eventName": "Sign up", "customerExternalId": "nobody"},
    )
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("clickId:")
    assert customers(server, tenant.workspace_id) == []


def test_unknown_click_is_404_naming_it_and_writes_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server)
    other = make_tenant(server)
    foreign = tracked_click(server, other)
    api = server.client(tenant.token)
    for click_id in ("0000000nosuchclk", foreign.click_id, "not a click id!"):
        response = api.post(
            "/api/track/lead",
            json={"clickId": click_id, "eventName": "Sign up", "customerExternalId": "u1"},
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        assert click_id in error_of(response)["message"]
    assert customers(server, tenant.workspace_id) == []
    assert link_counters(server, foreign.link_id)["leads"] == 0


def test_old_field_names_are_accepted(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    lead = api.post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "externalId": "old-1"},
    )
    assert lead.status_code == 200, lead.text
    sale = api.post("/api/track/sale", json={"customerId": "old-1", "amount": 100})
    assert sale.status_code == 200, sale.text
    assert sale.json()["customer"]["externalId"] == "old-1"


def test_sale_for_unknown_customer_records_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        answer = dub.track.sale(request={"customer_external_id": "ghost", "amount": 100})
    assert answer.customer is None
    assert answer.sale is None
    assert sales(server, tenant.workspace_id) == []


def test_direct_sale_with_click_id_creates_customer_lead_and_sale(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    response = api.post(
        "/api/track/sale",
        json={
            "customerExternalId": "direct-1",
            "amount": 700,
            "clickId": click.click_id,
            "leadEventName": "Checkout started",
        },
    )
    assert response.status_code == 200, response.text
    (lead,) = leads(server, tenant.workspace_id)
    assert lead["event_name"] == "Checkout started"
    assert link_counters(server, click.link_id) == {
        "clicks": 1,
        "leads": 1,
        "sales": 1,
        "saleAmount": 700,
    }


def test_a_later_click_of_the_customer_does_not_move_their_attribution(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    second = another_click(server, click, "second-visitor")
    api = server.client(tenant.token)
    for click_id, event in ((click.click_id, "Sign up"), (second, "Activated")):
        api.post(
            "/api/track/lead",
            json={"clickId": click_id, "eventName": event, "customerExternalId": "u1"},
        )
    (customer,) = customers(server, tenant.workspace_id)
    assert customer.click_id == click.click_id
    assert [lead["click_id"] for lead in leads(server, tenant.workspace_id)] == [
        click.click_id,
        second,
    ]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("lead", {"eventName": "Sign up", "customerExternalId": "u1"}, "clickId"),
        ("lead", {"clickId": "x", "customerExternalId": "u1"}, "eventName"),
        ("lead", {"clickId": "x", "eventName": "Sign up"}, "customerExternalId"),
        ("lead", {"clickId": "x", "eventName": "", "customerExternalId": "u1"}, "eventName"),
        (
            "lead",
            {"clickId": "x", "eventName": "a", "customerExternalId": "u1", "mode": "later"},
            "mode",
        ),
        (
            "lead",
            {"clickId": "x", "eventName": "a", "customerExternalId": "u1", "eventQuantity": 0},
            "eventQuantity",
        ),
        ("sale", {"customerExternalId": "u1", "amount": -1}, "amount"),
        ("sale", {"customerExternalId": "u1", "amount": 1.5}, "amount"),
        ("sale", {"customerExternalId": "u1", "amount": "ten"}, "amount"),
        ("sale", {"customerExternalId": "u1"}, "amount"),
        ("sale", {"customerExternalId": "u1", "amount": 1, "currency": "XYZ"}, "currency"),
        ("sale", {"customerExternalId": "u1", "amount": 1, "currency": 5}, "currency"),
        (
            "sale",
            {"customerExternalId": "u1", "amount": 1, "paymentProcessor": "cash"},
            "paymentProcessor",
        ),
        (
            "sale",
            {"customerExternalId": "u1", "amount": 1, "metadata": {"x": "y" * 10_001}},
            "metadata",
        ),
        ("sale", {"customerExternalId": "u1", "amount": 1, "metadata": [1]}, "metadata"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    server: LiveServer, route: str, body: dict[str, object], field: str
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    api.post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    if body.get("clickId") == "x":
        body = {**body, "clickId": click.click_id}
    before = (leads(server, tenant.workspace_id), sales(server, tenant.workspace_id))
    response = api.post(f"/api/track/{route}", json=body)
    assert response.status_code == 422, response.text
    assert field in error_of(response)["message"]
    assert (leads(server, tenant.workspace_id), sales(server, tenant.workspace_id)) == before
    assert link_counters(server, click.link_id)["leads"] == 1


def test_malformed_json_is_400(server: LiveServer) -> None:
    tenant = make_tenant(server)
    response = server.client(tenant.token).post(
        "/api/track/sale", content=b'{"amount": 1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_sdk_raises_typed_errors(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub, pytest.raises(errors.NotFound):
        dub.track.lead(
            request={
                "click_id": "0000000nosuchclk",
                "event_name": "Sign up",
                "customer_external_id": "u1",
            }
        )

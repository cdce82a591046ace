"""The seed's three ways to attribute Stripe revenue, end to end through the real redirect
(SPEC §5, from the seed): (1) a Payment Link shortened with ``codeqr_client_reference_id=1``,
(2) a Checkout Session carrying ``metadata.codeqrCustomerId`` after ``track.lead``,
(3) a Stripe customer whose own metadata names the CodeQR customer. Then a renewal adds a
sale and a partial refund lowers the link's net revenue."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import LiveServer
from tests.conversion.helpers import customers, leads, link_counters, sales
from tests.factories import make_tenant
from tests.stripe.helpers import connect, deliver, event_bytes
from tests.stripe.standin import StripeStandIn

STORED_CLICK = b"7Gk2pQx9LmTz4VbR"
CODEQR_CUSTOMER = "user_2Qm8ZkT4vXa9Lp3R"


def test_three_seed_options_then_renewal_and_refund(
    server: LiveServer, stripe_api: StripeStandIn
) -> None:
    tenant = make_tenant(server)
    connect(server, tenant)
    api = server.client(tenant.token)

    # (1) The merchant shortens their Payment Link with the marker; a buyer follows it.
    payment_link = "https://buy.stripe.com/test_9AQ5mE?codeqr_client_reference_id=1"
    created = api.post("/api/links", json={"url": payment_link, "trackConversion": True})
    assert created.status_code == 200, created.text
    link_one = created.json()
    visit = server.client().get(
        f"/{link_one['key']}", headers={"user-agent": "Mozilla/5.0 (X11; Linux) buyer-one"}
    )
    assert visit.status_code == 302
    query = parse_qs(urlsplit(visit.headers["location"]).query)
    assert "codeqr_client_reference_id" not in query
    [reference] = query["client_reference_id"]
    assert reference.startswith("codeqr_id_")
    click_id = reference.removeprefix("codeqr_id_")
    # Stripe's checkout.session.completed for that session names the buyer's click: the
    # stored event with its click id set to this one (same length, every other byte as is).
    body = event_bytes("checkout.session.completed.payment_link_client_reference_id")
    assert len(click_id.encode()) == len(STORED_CLICK)
    body = body.replace(STORED_CLICK, click_id.encode())
    assert deliver(server, tenant, body).status_code == 200

    buyer = next(c for c in customers(server, tenant.workspace_id) if c.click_id == click_id)
    assert buyer.external_id == "jenny.rosen@example.com"
    assert [x["event_name"] for x in leads(server, tenant.workspace_id)] == ["Sign up"]
    assert link_counters(server, link_one["id"]) == {
        "clicks": 1,
        "leads": 1,
        "sales": 1,
        "saleAmount": 4900,
    }

    # (2) Another link; the visitor signs up (track.lead), then pays through a Checkout
    # Session the merchant created with metadata.codeqrCustomerId.
    created = api.post("/api/links", json={"url": "https://app.example/", "trackConversion": True})
    link_two = created.json()
    visit = server.client().get(
        f"/{link_two['key']}", headers={"user-agent": "Mozilla/5.0 (X11; Linux) buyer-two"}
    )
    second_click = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": second_click,
            "eventName": "Sign up",
            "customerExternalId": CODEQR_CUSTOMER,
        },
    )
    assert lead.status_code == 200, lead.text
    body = event_bytes("checkout.session.completed.metadata_codeqr_customer_id")
    assert deliver(server, tenant, body).status_code == 200
    assert link_counters(server, link_two["id"])["saleAmount"] == 12900

    # (3) A subscription billed to a Stripe customer CodeQR has not seen: its metadata at
    # Stripe names our customer, so the first invoice is theirs.
    stripe_api.add_customer("cus_H0R30gIrtWHskz", metadata={"codeqrCustomerId": CODEQR_CUSTOMER})
    assert deliver(server, tenant, event_bytes("invoice.paid")).status_code == 200
    first_invoice = next(
        s for s in sales(server, tenant.workspace_id) if s["invoice_id"].startswith("in_1BVQ")
    )
    signed_up = next(
        c for c in customers(server, tenant.workspace_id) if c.external_id == CODEQR_CUSTOMER
    )
    assert first_invoice["customer_id"] == signed_up.id
    assert first_invoice["link_id"] == link_two["id"]

    # The renewal adds a second subscription sale; a partial refund of the first purchase
    # lowers link one's net revenue.
    assert (
        deliver(server, tenant, event_bytes("invoice.paid.subscription_cycle")).status_code == 200
    )
    assert deliver(server, tenant, event_bytes("charge.refunded.partial")).status_code == 200

    assert link_counters(server, link_two["id"]) == {
        "clicks": 1,
        "leads": 1,
        "sales": 3,
        "saleAmount": 12900 + 1900 + 1900,
    }
    assert link_counters(server, link_one["id"])["saleAmount"] == 4900 - 1500
    assert link_counters(server, link_one["id"])["sales"] == 1
    by_id = {c.id: c for c in customers(server, tenant.workspace_id)}
    assert by_id[buyer.id].sale_amount == 3400
    assert (by_id[signed_up.id].sales, by_id[signed_up.id].sale_amount) == (3, 16700)
    names = sorted(s["event_name"] for s in sales(server, tenant.workspace_id))
    assert names == ["Invoice paid", "Purchase", "Purchase", "Subscription creation"]

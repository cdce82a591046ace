"""A publishable key only records (SPEC §9): its answers carry no stored details of a
customer, it never changes a known customer's profile, and client sales are off unless the
workspace turns them on, up to a per-sale maximum."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

from .helpers import customers, leads, link_counters, sales
from .test_client_endpoints import Site, allow_client_sales, click

PII = ("Ada Lovelace", "ada@example.com", "https://cdn.example/ada.png")


@pytest.fixture
def site(server: LiveServer) -> Site:
    return Site.on(server)


def _known_customer(site: Site, external_id: str = "user_1") -> tuple[dict[str, Any], str]:
    """A customer the merchant's server told us about (secret key), with a name, an email
    and an avatar, and an invoice of theirs; the link and the customer's click id."""
    link = site.shop.link(trackConversion=True)
    click_id = click(site, link).json()["clickId"]
    name, email, avatar = PII
    lead = site.shop.api.post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": external_id,
            "customerName": name,
            "customerEmail": email,
            "customerAvatar": avatar,
        },
    )
    assert lead.status_code == 200, lead.text
    assert lead.json()["customer"]["email"] == email  # the secret key's answer is unchanged
    sale = site.shop.api.post(
        "/api/track/sale",
        json={"customerExternalId": external_id, "amount": 4900, "invoiceId": "inv_secret"},
    )
    assert sale.status_code == 200, sale.text
    assert sale.json()["customer"]["name"] == name
    return link, click_id


def _no_pii(response: httpx.Response) -> None:
    for value in PII:
        assert value not in response.text, response.text


def _profile(server: LiveServer, workspace_id: str, external_id: str) -> tuple[Any, ...]:
    [found] = [c for c in customers(server, workspace_id) if c.external_id == external_id]
    return found.name, found.email, found.avatar


def test_a_deferred_client_lead_does_not_tell_a_known_customers_details(site: Site) -> None:
    link, _ = _known_customer(site)
    other_click = click(site, link, ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    response = site.browser().post(
        "/api/track/lead/client",
        json={
            "clickId": other_click.json()["clickId"],
            "eventName": "Sign up",
            "customerExternalId": "user_1",
            "mode": "deferred",
        },
    )
    assert response.status_code == 200, response.text
    _no_pii(response)
    assert response.json()["customer"] == {
        "name": None,
        "email": None,
        "avatar": None,
        "externalId": "user_1",
    }


def test_a_client_lead_never_changes_a_known_customers_profile(site: Site) -> None:
    link, click_id = _known_customer(site)
    response = site.browser().post(
        "/api/track/lead/client",
        json={
            "clickId": click_id,
            "eventName": "Newsletter",
            "customerExternalId": "user_1",
            "customerName": "Mallory",
            "customerEmail": "mallory@evil.test",
            "customerAvatar": "https://evil.test/x.png",
        },
    )
    assert response.status_code == 200, response.text
    _no_pii(response)
    assert "mallory" not in response.text.lower()
    assert _profile(site.shop.server, site.shop.tenant.workspace_id, "user_1") == PII
    # It is still recorded: a publishable key records.
    recorded = leads(site.shop.server, site.shop.tenant.workspace_id)
    assert [lead["event_name"] for lead in recorded] == ["Sign up", "Newsletter"]
    assert link_counters(site.shop.server, link["id"])["leads"] == 2


def test_a_client_lead_may_create_a_new_customer_with_its_details(site: Site) -> None:
    link = site.shop.link(trackConversion=True)
    click_id = click(site, link).json()["clickId"]
    name, email, avatar = PII
    response = site.browser().post(
        "/api/track/lead/client",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": "new_1",
            "customerName": name,
            "customerEmail": email,
            "customerAvatar": avatar,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer"] == {
        "name": None,
        "email": None,
        "avatar": None,
        "externalId": "new_1",
    }
    assert _profile(site.shop.server, site.shop.tenant.workspace_id, "new_1") == PII


def test_client_sales_are_off_by_default(site: Site) -> None:
    link, _ = _known_customer(site)
    response = site.browser().post(
        "/api/track/sale/client",
        json={"customerExternalId": "user_1", "amount": 100, "invoiceId": "inv_secret"},
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "clientSalesEnabled" in error["message"]
    _no_pii(response)
    assert len(sales(site.shop.server, site.shop.tenant.workspace_id)) == 1
    assert link_counters(site.shop.server, link["id"])["sales"] == 1


def test_a_client_sale_for_a_known_invoice_does_not_tell_whose_it_is(site: Site) -> None:
    _known_customer(site)
    allow_client_sales(site.shop.server, site.shop.tenant.slug)
    response = site.browser().post(
        "/api/track/sale/client",
        json={"customerExternalId": "someone", "amount": 100, "invoiceId": "inv_secret"},
    )
    assert response.status_code == 200, response.text
    _no_pii(response)
    assert "user_1" not in response.text
    assert response.json()["customer"] is None
    assert response.json()["sale"] is None
    assert len(sales(site.shop.server, site.shop.tenant.workspace_id)) == 1


def test_a_client_sale_never_changes_a_known_customers_profile(site: Site) -> None:
    link, _ = _known_customer(site)
    allow_client_sales(site.shop.server, site.shop.tenant.slug, maximum=10_000)
    response = site.browser().post(
        "/api/track/sale/client",
        json={
            "customerExternalId": "user_1",
            "amount": 2500,
            "customerName": "Mallory",
            "customerEmail": "mallory@evil.test",
        },
    )
    assert response.status_code == 200, response.text
    _no_pii(response)
    data = response.json()
    assert data["customer"]["externalId"] == "user_1"
    assert (data["customer"]["name"], data["customer"]["email"]) == (None, None)
    assert data["sale"]["amount"] == 2500
    assert _profile(site.shop.server, site.shop.tenant.workspace_id, "user_1") == PII
    assert link_counters(site.shop.server, link["id"])["saleAmount"] == 4900 + 2500


def test_a_client_sale_over_the_workspace_maximum_is_422_naming_amount(site: Site) -> None:
    link, _ = _known_customer(site)
    allow_client_sales(site.shop.server, site.shop.tenant.slug, maximum=10_000)
    client = site.browser()
    too_much = client.post(
        "/api/track/sale/client", json={"customerExternalId": "user_1", "amount": 10_001}
    )
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["error"]["message"].startswith("amount:")
    assert "clientSaleMax" in too_much.json()["error"]["message"]
    # In the reporting currency: 10,000 yen is far less than 100 dollars.
    yen = client.post(
        "/api/track/sale/client",
        json={"customerExternalId": "user_1", "amount": 10_001, "currency": "jpy"},
    )
    assert yen.status_code == 200, yen.text
    assert len(sales(site.shop.server, site.shop.tenant.workspace_id)) == 2
    assert link_counters(site.shop.server, link["id"])["sales"] == 2


def test_secret_key_sales_ignore_the_client_setting(site: Site) -> None:
    _known_customer(site)
    response = site.shop.api.post(
        "/api/track/sale",
        json={"customerExternalId": "user_1", "amount": 1_000_000, "customerName": "Ada L."},
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer"]["name"] == "Ada L."
    assert _profile(site.shop.server, site.shop.tenant.workspace_id, "user_1")[0] == "Ada L."

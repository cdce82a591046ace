"""Money is bounded (SPEC §9): a per-event maximum amount, in its own currency and once
converted; running totals that stop at ``TOTAL_MAX`` instead of overflowing; and a
workspace that already holds larger values still reads, everywhere it is shown."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from codeqr.customer.models import Customer
from codeqr.events.models import sale_events
from codeqr.link.models import Link
from codeqr.money.bounds import AMOUNT_MAX, REPORTING_AMOUNT_MAX, TOTAL_MAX
from tests.conftest import POSTGRES_URL, LiveServer
from tests.dashboard.helpers import Dash, dash, seed
from tests.factories import Tenant, make_tenant

from .helpers import customers, leads, link_counters, sales, tracked_click
from .test_client_endpoints import Site, allow_client_sales

INT64_MAX = 2**63 - 1


def _lead(server: LiveServer, tenant: Tenant, external_id: str = "u1") -> str:
    """A customer who came through a tracked link; the link's id."""
    click = tracked_click(server, tenant)
    response = server.client(tenant.token).post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": external_id},
    )
    assert response.status_code == 200, response.text
    return click.link_id


def _set_totals(server: LiveServer, workspace_id: str, value: Any) -> None:
    """Write ``value`` straight into every link's and customer's ``saleAmount``."""
    with server.services.db.transaction() as session:
        for model in (Link, Customer):
            session.execute(
                update(model).where(model.workspace_id == workspace_id).values(sale_amount=value)
            )


def test_an_amount_past_the_per_event_maximum_is_422_naming_amount(server: LiveServer) -> None:
    tenant = make_tenant(server)
    link_id = _lead(server, tenant)
    api = server.client(tenant.token)
    refused = api.post(
        "/api/track/sale", json={"customerExternalId": "u1", "amount": AMOUNT_MAX + 1}
    )
    assert refused.status_code == 422, refused.text
    assert "amount" in refused.json()["error"]["message"]
    assert sales(server, tenant.workspace_id) == []
    accepted = api.post("/api/track/sale", json={"customerExternalId": "u1", "amount": AMOUNT_MAX})
    assert accepted.status_code == 200, accepted.text
    assert link_counters(server, link_id)["saleAmount"] == AMOUNT_MAX


def test_a_converted_amount_past_its_maximum_is_422_and_writes_nothing(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    assert api.patch(f"/api/workspaces/{tenant.slug}", json={"currency": "IDR"}).status_code == 200
    click = tracked_click(server, tenant)
    # Within the per-event maximum in euros, but some 1.7·10¹⁷ rupiah sen once converted.
    body = {
        "customerExternalId": "direct",
        "clickId": click.click_id,
        "amount": AMOUNT_MAX,
        "currency": "eur",
    }
    refused = api.post("/api/track/sale", json=body)
    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert message.startswith("amount:")
    assert str(REPORTING_AMOUNT_MAX) in message
    # Nothing half-written: no customer, no lead, no sale (the direct sale would make all three).
    assert customers(server, tenant.workspace_id) == []
    assert leads(server, tenant.workspace_id) == []
    assert sales(server, tenant.workspace_id) == []
    small = api.post("/api/track/sale", json={**body, "amount": 4900})
    assert small.status_code == 200, small.text


def test_totals_stop_at_the_bound_and_later_sales_still_count(server: LiveServer) -> None:
    tenant = make_tenant(server)
    link_id = _lead(server, tenant)
    # What an earlier flood of sales left: a total next to the 64-bit limit.
    _set_totals(server, tenant.workspace_id, INT64_MAX - 1_000)
    api = server.client(tenant.token)
    sale = api.post("/api/track/sale", json={"customerExternalId": "u1", "amount": 4900})
    assert sale.status_code == 200, sale.text
    assert link_counters(server, link_id)["saleAmount"] == TOTAL_MAX
    [customer] = customers(server, tenant.workspace_id)
    assert customer.sale_amount == TOTAL_MAX
    assert api.get(f"/api/links/{link_id}").json()["saleAmount"] == TOTAL_MAX
    # And it cannot be pushed past the bound either.
    for _ in range(3):
        again = api.post("/api/track/sale", json={"customerExternalId": "u1", "amount": AMOUNT_MAX})
        assert again.status_code == 200, again.text
    assert link_counters(server, link_id)["saleAmount"] == TOTAL_MAX
    assert link_counters(server, link_id)["sales"] == 4


HUGE_SALE = 2**62
"""Three sales of this sum past 2⁶³: what SQLite's ``sum()`` refuses with "integer overflow"."""


def _huge_workspace(server: LiveServer) -> tuple[Dash, str, str]:
    """A dashboard account whose workspace holds totals past every bound, as a flood of
    sales made before the bounds existed leaves it; its link's id and a secret key."""
    owner = dash(server)
    seeded = seed(server, owner.account)
    api = server.client(seeded.token)
    for n in range(2):
        response = api.post(
            "/api/track/sale",
            json={"customerExternalId": "user-42", "amount": 100, "invoiceId": f"in_more_{n}"},
        )
        assert response.status_code == 200, response.text
    workspace_id = owner.account.workspace_id
    with server.services.db.transaction() as session:
        session.execute(
            update(sale_events)
            .where(sale_events.c.workspace_id == workspace_id)
            .values(amount=HUGE_SALE, reporting_amount=HUGE_SALE)
        )
    # SQLite's `+` turned the overflowing totals into floats; PostgreSQL's bigint stops
    # at its limit.
    _set_totals(server, workspace_id, INT64_MAX if POSTGRES_URL else 9.3e18)
    return owner, seeded.link_id, seeded.token


def test_a_workspace_holding_huge_values_still_reads_through_the_api(server: LiveServer) -> None:
    _, link_id, token = _huge_workspace(server)
    api = server.client(token)
    answers: dict[str, Any] = {}
    for path in (
        "/api/customers",
        "/api/customers/ext_user-42",
        "/api/links",
        f"/api/links/{link_id}",
        "/api/analytics?event=sales&interval=24h",
        "/api/analytics?event=composite&interval=24h",
        "/api/analytics?event=sales&groupBy=timeseries&interval=24h",
        "/api/analytics?event=composite&groupBy=timeseries&interval=all",
        "/api/analytics?event=sales&groupBy=countries&interval=24h",
        "/api/analytics?event=composite&groupBy=top_links&interval=24h",
        "/api/analytics?event=sales&groupBy=utm_sources&interval=24h",
        "/api/analytics/funnel?interval=24h",
        "/api/events?event=sales&interval=24h",
    ):
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.json()
    assert answers["/api/customers"][0]["saleAmount"] == TOTAL_MAX
    assert answers["/api/customers/ext_user-42"]["saleAmount"] == TOTAL_MAX
    assert answers[f"/api/links/{link_id}"]["saleAmount"] == TOTAL_MAX
    assert answers["/api/analytics?event=sales&interval=24h"]["saleAmount"] == TOTAL_MAX
    assert answers["/api/analytics?event=sales&interval=24h"]["sales"] == 3
    series = answers["/api/analytics?event=sales&groupBy=timeseries&interval=24h"]
    assert max(row["saleAmount"] for row in series) == TOTAL_MAX
    assert answers["/api/analytics/funnel?interval=24h"]["saleAmount"] == TOTAL_MAX
    [top] = answers["/api/analytics?event=composite&groupBy=top_links&interval=24h"]
    assert top["saleAmount"] == TOTAL_MAX


def test_a_workspace_holding_huge_values_still_reads_in_the_dashboard(
    server: LiveServer,
) -> None:
    owner, link_id, _ = _huge_workspace(server)
    for path in (
        "/customers",
        "/links",
        f"/links/{link_id}",
        "/analytics",
        "/analytics/data?interval=24h&timezone=UTC",
        "/events",
    ):
        response = owner.get(path)
        assert response.status_code == 200, (path, response.text[:500])


def test_changing_the_currency_of_a_workspace_holding_huge_values(server: LiveServer) -> None:
    owner, link_id, token = _huge_workspace(server)
    api = server.client(token)
    response = api.patch(f"/api/workspaces/{owner.account.slug}", json={"currency": "EUR"})
    assert response.status_code == 200, response.text
    # 2⁶² dollar cents are past what one sale may count in euros: kept, flagged, not totalled.
    for sale in sales(server, owner.account.workspace_id):
        assert (sale["reporting_amount"], sale["fx_missing"]) == (None, True)
    assert api.get(f"/api/links/{link_id}").json()["saleAmount"] == 0
    assert api.get("/api/analytics?event=sales&interval=24h").json()["saleAmount"] == 0


@pytest.mark.parametrize("amount", [AMOUNT_MAX + 1, 10**30])
def test_the_client_route_has_the_same_per_event_maximum(server: LiveServer, amount: int) -> None:
    site = Site.on(server)
    allow_client_sales(server, site.shop.tenant.slug, REPORTING_AMOUNT_MAX)
    response = site.browser().post(
        "/api/track/sale/client", json={"customerExternalId": "u1", "amount": amount}
    )
    assert response.status_code == 422, response.text
    assert "amount" in response.json()["error"]["message"]

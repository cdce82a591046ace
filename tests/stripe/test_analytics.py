"""Stripe's money in analytics: refunds lower net revenue against the sale's link, and
test-mode data stay out of a live workspace's figures (a sandbox workspace sees them)."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveServer
from tests.conversion.helpers import link_counters, sales
from tests.factories import Tenant, make_tenant
from tests.stripe.helpers import (
    SECRET,
    click_with_id,
    connect,
    deliver,
    event_bytes,
    refunds,
    tracked_link,
)

PAID = "checkout.session.completed.payment_link_client_reference_id"


def _paid_then_refunded(server: LiveServer, tenant: Tenant) -> str:
    link_id = tracked_link(server, tenant)
    click_with_id(server, tenant, "7Gk2pQx9LmTz4VbR", link_id)
    for name in (PAID, "charge.refunded.partial"):
        answer = deliver(server, tenant, event_bytes(name))
        assert answer.status_code == 200, answer.text
    return link_id


def _analytics(server: LiveServer, tenant: Tenant, **params: str) -> Any:
    answer = server.client(tenant.token).get(
        "/api/analytics", params={"event": "sales", "interval": "all", **params}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_refunds_lower_net_revenue_in_analytics(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="enterprise")
    connect(server, tenant)  # test secret only: a sandbox, its test data are its figures
    link_id = _paid_then_refunded(server, tenant)
    total = _analytics(server, tenant)
    assert (total["sales"], total["saleAmount"]) == (1, 4900 - 1500)
    [top] = _analytics(server, tenant, groupBy="top_links")
    assert (top["id"], top["sales"], top["saleAmount"]) == (link_id, 1, 3400)
    assert link_counters(server, link_id)["saleAmount"] == 3400
    series = _analytics(server, tenant, groupBy="timeseries")
    assert sum(row["saleAmount"] for row in series) == 3400
    funnel = (
        server.client(tenant.token).get("/api/analytics/funnel", params={"interval": "all"}).json()
    )
    assert funnel["saleAmount"] == 3400


def test_test_mode_stays_out_of_a_live_workspaces_figures(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="enterprise")
    connect(server, tenant, live="whsec_live_secret", test=SECRET)
    link_id = _paid_then_refunded(server, tenant)
    total = _analytics(server, tenant)
    assert (total["sales"], total["saleAmount"]) == (0, 0)
    counters = link_counters(server, link_id)
    assert (counters["leads"], counters["sales"], counters["saleAmount"]) == (0, 0, 0)
    leads = (
        server.client(tenant.token)
        .get("/api/analytics", params={"event": "leads", "interval": "all"})
        .json()
    )
    assert leads["leads"] == 0


def test_changing_the_reporting_currency_keeps_refunds_net(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="enterprise")
    connect(server, tenant)
    link_id = _paid_then_refunded(server, tenant)
    changed = server.client(tenant.token).patch(
        f"/api/workspaces/{tenant.slug}", json={"currency": "EUR"}
    )
    assert changed.status_code == 200, changed.text
    [sale] = sales(server, tenant.workspace_id)
    [refund] = refunds(server, tenant.workspace_id)
    assert sale["reporting_currency"] == refund["reporting_currency"] == "EUR"
    assert refund["reporting_amount"] == round(sale["reporting_amount"] * 1500 / 4900)
    net = sale["reporting_amount"] - refund["reporting_amount"]
    assert link_counters(server, link_id)["saleAmount"] == net
    assert _analytics(server, tenant)["saleAmount"] == net

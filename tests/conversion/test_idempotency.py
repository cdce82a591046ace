"""Idempotency as data: unique keys claim one lead per (customer, event) and one sale per
(workspace, invoice) under concurrent retries, and a failed attempt never blocks its retry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from codeqr.conversion import repository
from tests.conftest import LiveServer
from tests.factories import make_tenant

from .helpers import customers, leads, link_counters, sales, tracked_click

CALLS = 50


def _fire(server: LiveServer, token: str, path: str, body: dict[str, object]) -> list[int]:
    """``CALLS`` identical POSTs at once, each on its own connection."""

    def one(_: int) -> int:
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            return client.post(path, json=body).status_code

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        return list(pool.map(one, range(CALLS)))


def test_concurrent_sales_with_one_invoice_record_one_sale(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    server.client(tenant.token).post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    statuses = _fire(
        server,
        tenant.token,
        "/api/track/sale",
        {"customerExternalId": "u1", "amount": 4900, "invoiceId": "in_race"},
    )
    assert statuses == [200] * CALLS
    assert len(sales(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id) == {
        "clicks": 1,
        "leads": 1,
        "sales": 1,
        "saleAmount": 4900,
    }
    (customer,) = customers(server, tenant.workspace_id)
    assert (customer.sales, customer.sale_amount) == (1, 4900)


def test_concurrent_identical_leads_record_one_lead_and_one_customer(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    statuses = _fire(
        server,
        tenant.token,
        "/api/track/lead",
        {"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "new-user"},
    )
    assert statuses == [200] * CALLS
    assert len(customers(server, tenant.workspace_id)) == 1
    assert len(leads(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id)["leads"] == 1


def test_a_sale_failing_after_its_claim_does_not_block_the_retry(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    api.post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    real_count = repository.count_sale
    failures = []

    def crash_once(*args: object, **kwargs: object) -> None:
        # The invoice row is inserted (claimed) by now; fail before the counters move.
        if not failures:
            failures.append(1)
            raise RuntimeError("injected failure after the claim")
        real_count(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "count_sale", crash_once)
    body = {"customerExternalId": "u1", "amount": 1200, "invoiceId": "in_retry"}
    first = api.post("/api/track/sale", json=body)
    assert first.status_code == 500
    assert first.json()["error"]["code"] == "internal_server_error"
    assert sales(server, tenant.workspace_id) == []  # the claim went with the rollback
    assert link_counters(server, click.link_id)["sales"] == 0

    retry = api.post("/api/track/sale", json=body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["sale"]["invoiceId"] == "in_retry"
    assert len(sales(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id)["saleAmount"] == 1200


def test_a_lead_failing_half_way_leaves_no_customer_and_the_retry_counts_once(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    real_record = repository.record_lead
    failures = []

    def crash_once(*args: object, **kwargs: object) -> bool:
        if not failures:
            failures.append(1)
            raise RuntimeError("injected failure after the customer was claimed")
        return real_record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "record_lead", crash_once)
    body = {"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"}
    assert api.post("/api/track/lead", json=body).status_code == 500
    assert customers(server, tenant.workspace_id) == []
    assert api.post("/api/track/lead", json=body).status_code == 200
    assert len(leads(server, tenant.workspace_id)) == 1
    assert link_counters(server, click.link_id)["leads"] == 1


def test_redirects_and_tracking_at_once_neither_stall_nor_lose_anything(
    server: LiveServer,
) -> None:
    """Click writes (on the event loop when the database is free) and API transactions (on
    threads) share SQLite's one write lock; neither may wait on the other for long."""
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    path = "/" + click.short_link.rsplit("/", 1)[1]

    def visit(i: int) -> int:
        with httpx.Client(base_url=server.base, timeout=10) as client:
            agent = {"user-agent": f"Mozilla/5.0 mixed-{i}"}
            return client.get(path, headers=agent).status_code

    def lead(i: int) -> int:
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=10
        ) as client:
            body = {
                "clickId": click.click_id,
                "eventName": "Sign up",
                "customerExternalId": f"m{i}",
            }
            return client.post("/api/track/lead", json=body).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        visits = [pool.submit(visit, i) for i in range(120)]
        tracked = [pool.submit(lead, i) for i in range(60)]
        assert [f.result() for f in visits] == [302] * 120
        assert [f.result() for f in tracked] == [200] * 60
    assert link_counters(server, click.link_id) == {
        "clicks": 121,
        "leads": 60,
        "sales": 0,
        "saleAmount": 0,
    }
    assert len(leads(server, tenant.workspace_id)) == 60

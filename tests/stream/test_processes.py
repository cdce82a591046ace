"""Several app processes on one database, refunds and test data, and shutting down."""

from __future__ import annotations

import time
from typing import Any

from codeqr.events.models import refund_events, sale_events
from codeqr.kit.ids import click_id
from codeqr.settings import Settings
from tests.factories import make_tenant

from .conftest import StreamServer, serve
from .helpers import make_link, stream, visit


def test_a_click_on_one_process_reaches_a_stream_on_another(
    server: StreamServer, settings: Settings
) -> None:
    """Two app instances on the same database (PostgreSQL, or the SQLite file): nothing
    but the database connects them."""
    other = serve(settings)
    try:
        tenant = make_tenant(server)
        link = make_link(server, tenant.token)
        events = stream(other, tenant.token)
        latencies = []
        for _ in range(5):
            made = visit(server, link)
            answered = time.monotonic()  # the click is stored before its 302 is sent
            message = events.next(3)
            latencies.append(message.at - answered)
            assert message.id == made
        assert max(latencies) < 1.0, latencies
        # And the other way round: a lead tracked on the second process.
        here = stream(server, tenant.token)
        lead = other.client(tenant.token).post(
            "/api/track/lead",
            json={"clickId": made, "eventName": "Sign up", "customerExternalId": "x"},
        )
        assert lead.status_code == 200, lead.text
        assert here.next(2).event == "lead"
        assert events.next(2).event == "lead"
        events.close()
        here.close()
    finally:
        other.stop()


def _sale_row(workspace_id: str, link_id: str, *, test: bool) -> dict[str, Any]:
    return {
        "id": click_id(),
        "timestamp": int(time.time() * 1000),
        "workspace_id": workspace_id,
        "link_id": link_id,
        "click_id": None,
        "customer_id": None,
        "event_name": "Purchase",
        "amount": 2500,
        "currency": "EUR",
        "reporting_amount": 2700,
        "reporting_currency": "USD",
        "payment_processor": "stripe",
        "invoice_id": f"in_{click_id()}",
        "test": test,
    }


def test_refunds_and_test_data_are_streamed(server: StreamServer) -> None:
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    events = stream(server, tenant.token)
    sale = _sale_row(tenant.workspace_id, link["id"], test=True)
    refund = {
        "id": click_id(),
        "timestamp": sale["timestamp"] + 5,
        "workspace_id": tenant.workspace_id,
        "sale_id": sale["id"],
        "link_id": link["id"],
        "click_id": None,
        "customer_id": None,
        "charge_id": "ch_1",
        "amount": 1000,
        "currency": "EUR",
        "reporting_amount": 1080,
        "reporting_currency": "USD",
        "refunded_total": 1000,
        "test": True,
    }
    with server.services.db.transaction() as session:
        session.execute(sale_events.insert().values(sale))
        session.execute(refund_events.insert().values(refund))
    # Stored in one transaction: both arrive together, in id order (random within one ms).
    got = {m.event: m for m in events.events(2)}
    got_sale, got_refund = got["sale"], got["refund"]
    assert (got_sale.event, got_sale.data["test"]) == ("sale", True)
    assert (got_refund.id, got_refund.event) == (refund["id"], "refund")
    data = got_refund.data
    assert data["event"] == "refund"
    assert data["test"] is True
    assert data["eventId"] == refund["id"]
    assert data["refund"] == {
        "amount": 1000,
        "currency": "eur",
        "reportingAmount": 1080,
        "reportingCurrency": "USD",
        "chargeId": "ch_1",
        "refundedTotal": 1000,
    }
    assert data["sale"]["id"] == sale["id"]
    assert (data["sale"]["amount"], data["sale"]["currency"]) == (2500, "eur")
    assert data["sale"]["invoiceId"] == sale["invoice_id"]
    assert data["saleAmount"] == -1080
    assert data["link"]["id"] == link["id"]
    assert data["customer"]["id"] == ""
    events.close()


def test_stopping_the_server_ends_open_streams(settings: Settings) -> None:
    live = serve(settings)
    tenant = make_tenant(live)
    events = [stream(live, tenant.token) for _ in range(3)]
    started = time.monotonic()
    live.server.should_exit = True  # as on SIGTERM; the clients stay connected
    live.thread.join(10)
    took = time.monotonic() - started
    assert not live.thread.is_alive()
    assert took < 3, took
    for one in events:
        # A heartbeat may have gone out just before the shutdown began.
        last = one.next(2, comments=True)
        while last.comment == "ping":
            last = one.next(2, comments=True)
        assert last.comment == "closed (shutdown)"
        assert one.inbox.get(timeout=2) is None
        one.close()
    live.stop()

"""``GET /api/events``: raw events newest first, paged, with click, link and customer (§6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.analytics import oracle
from tests.analytics.conftest import Loaded
from tests.analytics.helpers import FULL, FULL_MS, api


@pytest.fixture(scope="module", params=["sql", pytest.param("chdb", marks=pytest.mark.sqlite_only)])
def store(request: pytest.FixtureRequest) -> str:
    """The events list from the run's database and from ClickHouse (chdb): the same data
    set, the same expected events (see ``test_analytics.store``)."""
    return str(request.param)


def listed(loaded: Loaded, **params: Any) -> list[dict[str, Any]]:
    response = api(loaded).get("/api/events", params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def newest_first(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in sorted(events, key=lambda e: (e["timestamp"], e["id"]), reverse=True)]


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["click"]["id"] if e["event"] == "click" else e["eventId"] for e in events]


@pytest.mark.parametrize("event", ["clicks", "leads", "sales"])
@pytest.mark.parametrize(
    "filters", [{}, {"country": "US,FR"}, {"device": "-Mobile", "utm_source": "newsletter"}]
)
def test_events_are_the_filtered_events_newest_first(
    loaded: Loaded, event: str, filters: dict[str, str]
) -> None:
    got = listed(loaded, event=event, limit=1000, **FULL, **filters)
    expected = newest_first(oracle.select(loaded.a, event, filters, *FULL_MS))
    assert ids(got) == expected[:1000]
    assert {e["event"] for e in got} <= {event.removesuffix("s")}


def test_pages_and_order(loaded: Loaded) -> None:
    expected = newest_first(oracle.select(loaded.a, "clicks", {}, *FULL_MS))
    pages = [ids(listed(loaded, limit=50, page=p, **FULL)) for p in (1, 2, 3)]
    assert pages[0] + pages[1] + pages[2] == expected[:150]
    assert ids(listed(loaded, limit="50.0", page="2.0", **FULL)) == pages[1]
    assert len(listed(loaded, **FULL)) == 100  # the default page size
    assert listed(loaded, page=1000, **FULL) == []
    oldest = ids(listed(loaded, limit=10, sortOrder="asc", **FULL))
    assert oldest == list(reversed(expected))[:10]


def test_a_click_event_carries_its_click_and_link(loaded: Loaded) -> None:
    events = listed(loaded, limit=1000, linkId="a_link1", **FULL)
    stored = {c["id"]: c for c in loaded.a.clicks}
    link = loaded.a.links["a_link1"]
    for event in events:
        click = stored[event["click"]["id"]]
        assert event["click"]["country"] == click["country"]
        assert event["click"]["refererUrl"] == click["referer_url"]
        assert event["click"]["qr"] is (click["trigger"] == "qr")
        assert event["click"]["ip"] == (click["ip"] or "")
        assert event["click"]["ua"] == click["ua"]
        assert event["link"]["id"] == "a_link1"
        assert event["link"]["shortLink"] == f"https://{link['domain']}/{link['key']}"
        assert [t["id"] for t in event["link"]["tags"]] == ["a_tag_launch", "a_tag_promo"]
        assert event["link"]["workspaceId"] == loaded.a.tenant.workspace_id
        assert event["link"]["webhookIds"] == []
        assert (event["link_id"], event["key"]) == ("a_link1", link["key"])
        assert event["timestamp"].endswith("Z")


def test_a_lead_event_carries_its_customer(loaded: Loaded) -> None:
    events = listed(loaded, event="leads", limit=1000, **FULL)
    stored = {lead["id"]: lead for lead in loaded.a.leads}
    for event in events:
        lead = stored[event["eventId"]]
        customer = loaded.a.customers[lead["customer_id"]]
        assert event["eventName"] == lead["event_name"]
        assert event["customer"]["id"] == customer["id"]
        assert event["customer"]["externalId"] == customer["external_id"]
        assert event["customer"]["email"] == customer["email"]
        assert event["click"]["id"] == lead["click_id"]
        assert event["link"]["id"] == lead["link_id"]
        assert event["metadata"] == lead["metadata"]


def test_a_sale_event_carries_its_sale(loaded: Loaded) -> None:
    events = listed(loaded, event="sales", limit=1000, **FULL)
    stored = {sale["id"]: sale for sale in loaded.a.sales}
    assert len(events) == len(stored)
    for event in events:
        sale = stored[event["eventId"]]
        assert event["sale"]["amount"] == sale["amount"]
        assert event["sale"]["currency"] == sale["currency"].lower()
        assert event["sale"]["invoiceId"] == sale["invoice_id"]
        assert event["sale"]["paymentProcessor"] == sale["payment_processor"]
        assert event["sale"]["reportingAmount"] == sale["reporting_amount"]
        assert event["saleAmount"] == (sale["reporting_amount"] or 0)
        if sale["link_id"] is None:  # unattributed revenue: placeholders, never missing
            assert event["link"]["id"] == event["click"]["id"] == event["customer"]["id"] == ""
        else:
            assert event["link"]["id"] == sale["link_id"]
            assert event["customer"]["id"] == sale["customer_id"]


def test_a_deleted_links_events_keep_what_they_recorded(loaded: Loaded) -> None:
    events = listed(loaded, linkId="a_gone", limit=5, **FULL)
    assert events
    for event in events:
        assert event["link"]["id"] == "a_gone"
        assert event["link"]["key"] == "agone"
        assert event["link"]["tags"] == []

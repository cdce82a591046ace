"""The unmodified ``dub`` SDK parses analytics and events answers (§7)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dub import Dub
from dub.models import components, operations

from tests.analytics.conftest import Loaded
from tests.analytics.helpers import FULL, analytics

# Dub's own shapes overlap: a region row ({country, region, city: "*"}) is also a valid
# city row, so the SDK's union may pick either; both parse every field.
ROW_MODELS: dict[str, Any] = {
    "timeseries": components.AnalyticsTimeseries,
    "continents": components.AnalyticsContinents,
    "regions": (components.AnalyticsRegions, components.AnalyticsCities),
    "countries": (
        components.AnalyticsCountries,
        components.AnalyticsRegions,
        components.AnalyticsCities,
    ),
    "cities": components.AnalyticsCities,
    "devices": components.AnalyticsDevices,
    "browsers": components.AnalyticsBrowsers,
    "os": components.AnalyticsOS,
    "triggers": components.AnalyticsTriggers,
    "referers": components.AnalyticsReferers,
    "referer_urls": components.AnalyticsRefererUrls,
    "top_links": components.AnalyticsTopLinks,
    "top_urls": components.AnalyticsTopUrls,
}


@contextmanager
def dub_sdk(loaded: Loaded) -> Iterator[Dub]:
    with Dub(token=loaded.a.tenant.token, server_url=loaded.server.base + "/api") as sdk:
        yield sdk


@pytest.mark.parametrize("event", ["clicks", "composite"])
def test_count(loaded: Loaded, event: str) -> None:
    with dub_sdk(loaded) as dub:
        answer = dub.analytics.retrieve(request={"event": event, **FULL})
    assert isinstance(answer, components.AnalyticsCount)
    expected = analytics(loaded, event=event, **FULL)
    assert answer.clicks == expected["clicks"]
    assert answer.sale_amount == expected["saleAmount"]


@pytest.mark.parametrize("group_by", list(ROW_MODELS))
def test_every_group_by_the_sdk_models(loaded: Loaded, group_by: str) -> None:
    with dub_sdk(loaded) as dub:
        rows = dub.analytics.retrieve(
            request={
                "event": "composite",
                "group_by": group_by,
                "timezone": "America/New_York",
                **FULL,
            }
        )
    assert isinstance(rows, list)
    assert rows
    assert all(isinstance(r, ROW_MODELS[group_by]) for r in rows)
    expected = analytics(
        loaded, event="composite", groupBy=group_by, timezone="America/New_York", **FULL
    )
    assert [r.clicks for r in rows] == [e["clicks"] for e in expected]
    assert [r.sale_amount for r in rows] == [e["saleAmount"] for e in expected]


@pytest.mark.parametrize(
    ("event", "model"),
    [
        ("clicks", operations.ClickEvent),
        ("leads", operations.LeadEvent),
        ("sales", operations.SaleEvent),
    ],
)
def test_events_list(loaded: Loaded, event: str, model: type) -> None:
    with dub_sdk(loaded) as dub:
        events = dub.events.list(request={"event": event, "limit": 1000, **FULL})
    assert events
    assert all(isinstance(e, model) for e in events)
    if event == "sales":
        sales = [e for e in events if isinstance(e, operations.SaleEvent)]
        assert {e.event_id for e in sales} == {s["id"] for s in loaded.a.sales}
        assert all(isinstance(e.sale.amount, int) for e in sales)


def test_sdk_paging(loaded: Loaded) -> None:
    with dub_sdk(loaded) as dub:
        first = dub.events.list(request={"event": "clicks", "limit": 10, "page": 1, **FULL})
        second = dub.events.list(request={"event": "clicks", "limit": 10, "page": 2, **FULL})
    assert len(first) == len(second) == 10
    ids = {e.click.id for e in first if isinstance(e, operations.ClickEvent)}
    assert ids.isdisjoint(e.click.id for e in second if isinstance(e, operations.ClickEvent))

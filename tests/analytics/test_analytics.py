"""``GET /api/analytics`` and the funnel against answers computed in plain Python (§6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.analytics import oracle
from tests.analytics.conftest import Loaded
from tests.analytics.helpers import FULL, FULL_MS, analytics, strip_links


@pytest.fixture(scope="module", params=["sql", pytest.param("chdb", marks=pytest.mark.sqlite_only)])
def store(request: pytest.FixtureRequest) -> str:
    """The conformance suite: every answer here from the run's database and from
    ClickHouse (chdb), over the same data set, checked against the same oracle. chdb runs in
    the SQLite suite only (its answers do not depend on the relational database)."""
    return str(request.param)


EVENTS = ["clicks", "leads", "sales", "composite"]
BREAKDOWNS = [*oracle.BREAKDOWNS, *oracle.UTM, "top_links"]


def test_answers_come_from_the_store_under_test(loaded: Loaded, store: str) -> None:
    reader = type(loaded.server.services.reader).__name__
    assert reader == {"sql": "SqlReader", "chdb": "ClickHouseReader"}[store]


@pytest.mark.parametrize("event", EVENTS)
def test_count_is_an_object_of_every_measure(loaded: Loaded, event: str) -> None:
    answer = analytics(loaded, event=event, groupBy="count", **FULL)
    assert answer == oracle.count(loaded.a, event, {}, *FULL_MS)
    assert set(answer) == {"clicks", "leads", "sales", "saleAmount"}


def test_default_is_a_click_count(loaded: Loaded) -> None:
    answer = analytics(loaded, **FULL)
    assert answer == {**oracle.count(loaded.a, "clicks", {}, *FULL_MS)}
    assert answer["leads"] == answer["sales"] == answer["saleAmount"] == 0


def test_sales_without_a_rate_count_but_add_no_amount(loaded: Loaded) -> None:
    sales = loaded.a.sales
    missing = [s for s in sales if s["reporting_amount"] is None]
    assert missing, "the data set has sales without a rate"
    answer = analytics(loaded, event="sales", **FULL)
    assert answer["sales"] == len(sales)
    assert answer["saleAmount"] == sum(s["reporting_amount"] or 0 for s in sales)


@pytest.mark.parametrize("group_by", BREAKDOWNS)
@pytest.mark.parametrize("event", EVENTS)
def test_every_breakdown_of_every_event(loaded: Loaded, event: str, group_by: str) -> None:
    answer = analytics(loaded, event=event, groupBy=group_by, **FULL)
    expected = oracle.grouped(loaded.a, event, group_by, {}, *FULL_MS)
    assert expected, "the data set should give every breakdown rows"
    if group_by == "top_links":
        assert strip_links(answer) == expected
    else:
        assert answer == expected


def test_top_links_rows_carry_the_link(loaded: Loaded) -> None:
    rows = analytics(loaded, event="composite", groupBy="top_links", **FULL)
    assert {r["id"] for r in rows} <= set(loaded.a.links)  # the deleted link is left out
    for row in rows:
        link = loaded.a.links[row["id"]]
        assert row["link"] == row["id"]
        assert (row["domain"], row["key"], row["url"]) == (link["domain"], link["key"], link["url"])
        assert row["shortLink"] == f"https://{link['domain']}/{link['key']}"
        assert row["createdAt"].startswith("2025-12-01T")
        assert row["title"] == link["title"]


FILTERS: list[tuple[str, str]] = [
    ("domain", "go.example"),
    ("key", "ak1,ak3"),
    ("linkId", "a_link2"),
    ("linkId", "a_gone"),
    ("externalId", "a-ext-0,a-ext-4"),
    ("tenantId", "t1"),
    ("tagId", "a_tag_launch"),
    ("tagId", "a_tag_launch,a_tag_promo"),
    ("country", "us,FR"),
    ("city", "Mumbai"),
    ("region", "IDF,NY"),
    ("continent", "eu"),
    ("device", "Mobile"),
    ("browser", "Chrome,Safari"),
    ("os", "iOS"),
    ("trigger", "qr"),
    ("referer", "google.com"),
    ("refererUrl", "https://news.ycombinator.com/item?id=1"),
    ("url", "https://shop.example/a/p1,https://shop.example/a/p2?v=2"),
    ("utm_source", "newsletter"),
    ("utm_medium", "email,social"),
    ("utm_campaign", "spring"),
    ("utm_term", "shoes"),
    ("utm_content", "hero"),
    ("customerId", "a_cus0,a_cus5,a_cus12"),
    ("eventName", "Trial,Upgrade"),
]
FORMS = [
    pytest.param(lambda v: v, id="any"),
    pytest.param(lambda v: "-" + v, id="none"),
    pytest.param(lambda v: "-" + v.split(",")[0], id="not-first"),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("name", "value"), FILTERS)
def test_every_filter_and_its_negation(loaded: Loaded, name: str, value: str, form: Any) -> None:
    filters = {name: form(value)}
    answer = analytics(loaded, event="composite", groupBy="count", **FULL, **filters)
    expected = oracle.count(loaded.a, "composite", filters, *FULL_MS)
    assert answer == expected
    total = oracle.count(loaded.a, "composite", {}, *FULL_MS)
    assert expected != total or name == "eventName", "the filter should leave something out"


@pytest.mark.parametrize(
    "filters",
    [
        {"country": "US", "device": "-Mobile"},
        {"tagId": "a_tag_promo", "trigger": "link", "browser": "-Firefox,Safari"},
        {"utm_source": "-newsletter", "continent": "EU,AS"},
        {"country": "ZZ"},
    ],
)
@pytest.mark.parametrize("group_by", ["countries", "top_links", "utm_sources", "devices"])
def test_filters_combine_in_breakdowns(
    loaded: Loaded, filters: dict[str, str], group_by: str
) -> None:
    answer = analytics(loaded, event="composite", groupBy=group_by, **FULL, **filters)
    expected = oracle.grouped(loaded.a, "composite", group_by, filters, *FULL_MS)
    assert (strip_links(answer) if group_by == "top_links" else answer) == expected


def test_empty_filter_values_filter_nothing(loaded: Loaded) -> None:
    answer = analytics(loaded, event="composite", country=" , ", device="", **FULL)
    assert answer == oracle.count(loaded.a, "composite", {}, *FULL_MS)


def test_qr_shorthand_is_a_trigger_filter(loaded: Loaded) -> None:
    qr = analytics(loaded, event="composite", qr="true", **FULL)
    assert qr == oracle.count(loaded.a, "composite", {"trigger": "qr"}, *FULL_MS)
    links = analytics(loaded, event="composite", qr="false", **FULL)
    assert links == oracle.count(loaded.a, "composite", {"trigger": "-qr"}, *FULL_MS)


def test_funnel_steps(loaded: Loaded) -> None:
    response = loaded.server.client(loaded.a.tenant.token).get(
        "/api/analytics/funnel", params={**FULL, "country": "US,IN"}
    )
    assert response.status_code == 200, response.text
    funnel = response.json()
    t = oracle.count(loaded.a, "composite", {"country": "US,IN"}, *FULL_MS)
    assert {k: funnel[k] for k in t} == t
    assert funnel["currency"] == "USD"
    clicks, leads, sales = funnel["steps"]
    assert [s["step"] for s in funnel["steps"]] == ["clicks", "leads", "sales"]
    assert [s["count"] for s in funnel["steps"]] == [t["clicks"], t["leads"], t["sales"]]
    assert clicks["shareOfClicks"] == 1.0
    assert clicks["conversionRate"] is clicks["dropOff"] is clicks["dropOffRate"] is None
    assert leads["shareOfClicks"] == pytest.approx(t["leads"] / t["clicks"], abs=1e-6)
    assert leads["conversionRate"] == pytest.approx(t["leads"] / t["clicks"], abs=1e-6)
    assert leads["dropOff"] == t["clicks"] - t["leads"]
    assert leads["dropOffRate"] == pytest.approx(1 - t["leads"] / t["clicks"], abs=1e-6)
    assert sales["shareOfClicks"] == pytest.approx(t["sales"] / t["clicks"], abs=1e-6)
    assert sales["conversionRate"] == pytest.approx(t["sales"] / t["leads"], abs=1e-6)
    assert sales["dropOff"] == t["leads"] - t["sales"]
    assert sales["saleAmount"] == t["saleAmount"]


def test_funnel_of_nothing_has_no_rates(loaded: Loaded) -> None:
    response = loaded.server.client(loaded.a.tenant.token).get(
        "/api/analytics/funnel", params={**FULL, "country": "ZZ"}
    )
    funnel = response.json()
    assert [s["count"] for s in funnel["steps"]] == [0, 0, 0]
    assert all(s["shareOfClicks"] is None for s in funnel["steps"])
    assert funnel["steps"][1]["conversionRate"] is None
    assert funnel["steps"][1]["dropOff"] == 0


def test_composite_count_is_the_funnel_totals(loaded: Loaded) -> None:
    composite = analytics(loaded, event="composite", groupBy="count", **FULL)
    funnel = loaded.server.client(loaded.a.tenant.token).get("/api/analytics/funnel", params=FULL)
    body = funnel.json()
    assert composite == {k: body[k] for k in composite}

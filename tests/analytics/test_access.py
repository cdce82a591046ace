"""Who may see what: plan ranges, workspace isolation, and what bad input gets (§2, §6, §8)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.analytics import oracle
from tests.analytics.conftest import Loaded
from tests.analytics.dataset import build, click_row, ms, write
from tests.analytics.helpers import FULL, FULL_MS, analytics, api, error_of
from tests.factories import make_tenant


def _days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("plan", "params", "needed"),
    [
        ("free", {"interval": "90d"}, "Pro"),
        ("free", {"interval": "1y"}, "Pro"),
        ("free", {"interval": "all"}, "Business"),
        ("free", {"start": _days_ago(31)}, "Pro"),
        ("free", {"start": "2025-01-01", "end": "2025-01-31"}, "Business"),
        ("pro", {"interval": "all"}, "Business"),
        ("pro", {"start": _days_ago(367)}, "Business"),
    ],
)
@pytest.mark.parametrize("path", ["/api/analytics", "/api/analytics/funnel"])
def test_ranges_past_the_plan_are_forbidden(
    loaded: Loaded, plan: str, params: dict[str, str], needed: str, path: str
) -> None:
    tenant = loaded.free if plan == "free" else loaded.pro
    error = error_of(api(loaded, tenant.token).get(path, params=params), 403)
    assert error["code"] == "forbidden"
    assert f"requires a {needed} plan" in error["message"]
    assert f"on the {plan} plan" in error["message"]


@pytest.mark.parametrize(
    ("plan", "params"),
    [
        ("free", {"interval": "30d"}),
        ("free", {"interval": "7d"}),
        ("free", {"start": _days_ago(30)}),
        ("free", {"interval": "mtd"}),
        ("pro", {"interval": "1y"}),
        ("pro", {"interval": "90d"}),
        ("pro", {"start": _days_ago(366)}),
    ],
)
def test_ranges_within_the_plan_are_answered(
    loaded: Loaded, plan: str, params: dict[str, str]
) -> None:
    tenant = loaded.free if plan == "free" else loaded.pro
    answer = analytics(loaded, tenant.token, **params)
    assert answer == {"clicks": 0, "leads": 0, "sales": 0, "saleAmount": 0}


@pytest.mark.parametrize("plan", ["free", "pro"])
def test_the_events_list_needs_business(loaded: Loaded, plan: str) -> None:
    tenant = loaded.free if plan == "free" else loaded.pro
    error = error_of(api(loaded, tenant.token).get("/api/events"), 403)
    assert error["code"] == "forbidden"
    assert "Business plan" in error["message"]


def test_workspaces_see_only_their_own_events(loaded: Loaded) -> None:
    for data in (loaded.a, loaded.b):
        answer = analytics(loaded, data.tenant.token, event="composite", **FULL)
        assert answer == oracle.count(data, "composite", {}, *FULL_MS)
        assert answer["clicks"]
        assert answer["leads"]
        assert answer["sales"]
    listed = api(loaded, loaded.b.tenant.token).get(
        "/api/events", params={"event": "sales", "limit": 1000, **FULL}
    )
    assert {e["eventId"] for e in listed.json()} == {s["id"] for s in loaded.b.sales}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("linkId", "b_link0"),
        ("linkId", "-b_link0"),
        ("linkId", "a_link0,b_link1"),
        ("linkId", "no_such_link"),
        ("customerId", "b_cus0"),
        ("tagId", "b_tag_launch"),
    ],
)
@pytest.mark.parametrize("path", ["/api/analytics", "/api/analytics/funnel", "/api/events"])
def test_naming_another_workspaces_object_is_not_found(
    loaded: Loaded, name: str, value: str, path: str
) -> None:
    response = api(loaded).get(path, params={name: value, **FULL})
    error = error_of(response, 404)
    assert error["code"] == "not_found"
    assert name in error["message"]


def test_a_deleted_link_is_still_the_workspaces_own(loaded: Loaded) -> None:
    answer = analytics(loaded, linkId="a_gone", **FULL)
    assert answer["clicks"] == len([c for c in loaded.a.clicks if c["link_id"] == "a_gone"]) > 0
    error_of(
        api(loaded, loaded.b.tenant.token).get("/api/analytics", params={"linkId": "a_gone"}), 404
    )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/analytics", {"event": "views"}, "event"),
        ("/api/analytics", {"groupBy": "planets"}, "groupBy"),
        ("/api/analytics", {"interval": "2w"}, "interval"),
        ("/api/analytics", {"timezone": "Mars/Olympus"}, "timezone"),
        ("/api/analytics", {"start": "yesterday"}, "start"),
        ("/api/analytics", {"start": "2026-02-01", "end": "2026-01-01"}, "end"),
        ("/api/analytics", {"start": "2026-02-01T10:00", "end": "2026-02-01T10:00"}, "end"),
        ("/api/analytics", {"end": "2026-01-01"}, "start"),
        ("/api/analytics", {"country": "US\x00"}, "country"),
        ("/api/analytics/funnel", {"timezone": "Nowhere"}, "timezone"),
        ("/api/events", {"event": "composite"}, "event"),
        ("/api/events", {"limit": "1001"}, "limit"),
        ("/api/events", {"limit": "0"}, "limit"),
        ("/api/events", {"page": "0"}, "page"),
        ("/api/events", {"page": "two"}, "page"),
        ("/api/events", {"sortOrder": "sideways"}, "sortOrder"),
        ("/api/events", {"start": "2026-13-01"}, "start"),
    ],
)
def test_bad_input_is_a_422_naming_the_parameter(
    loaded: Loaded, path: str, params: dict[str, str], field: str
) -> None:
    error = error_of(api(loaded).get(path, params=params), 422)
    assert error["code"] == "unprocessable_entity"
    assert field in error["message"]


def test_a_key_is_required(loaded: Loaded) -> None:
    for path in ("/api/analytics", "/api/analytics/funnel", "/api/events"):
        assert error_of(loaded.server.client().get(path), 401)["code"] == "unauthorized"


def test_rolling_and_calendar_intervals(loaded: Loaded) -> None:
    """Clicks hours away from each boundary: the server's clock may run a little later."""
    tenant = make_tenant(loaded.server)
    data = build(tenant, seed=3, prefix="r", links=1, clicks=0, leads=0, sales=0)
    now = datetime.now(UTC)
    hours = [1, 20, 30, 70, 150, 200, 500, 700, 1000, 2000, 2500, 5000, 8000, 9500]
    link = next(iter(data.links.values()))
    rng = random.Random(1)
    for n, back in enumerate(hours):
        data.clicks.append(click_row(rng, n, "r", link, ms(now - timedelta(hours=back))))
    write(loaded.server, data)
    expected: dict[str, Any] = {"24h": 2, "7d": 5, "30d": 8, "90d": 10, "1y": 13, "all": 14}
    today = now.date()
    calendar = {
        "mtd": date(today.year, today.month, 1),
        "qtd": date(today.year, (today.month - 1) // 3 * 3 + 1, 1),
        "ytd": date(today.year, 1, 1),
    }
    for name, first in calendar.items():
        since = ms(datetime(first.year, first.month, first.day, tzinfo=UTC))
        expected[name] = sum(1 for c in data.clicks if c["timestamp"] >= since)
    for interval, clicks in expected.items():
        answer = analytics(loaded, tenant.token, interval=interval)
        assert answer["clicks"] == clicks, interval
    assert analytics(loaded, tenant.token)["clicks"] == expected["24h"]  # the default

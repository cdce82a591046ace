"""What a range may ask for (SPEC §2, §6, §9): dates the calendar arithmetic holds, no more
buckets than one answer may carry, and no longer than the plan reaches; each refusal a
clear 4xx naming the parameter, on every route that takes a range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.analytics.conftest import Loaded
from tests.analytics.helpers import analytics, api, error_of
from tests.dashboard.helpers import dash

RANGE_ROUTES = ["/api/analytics", "/api/analytics/funnel", "/api/events"]


def _today(days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def _months(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2020-01-01", "end": "9999-12-31"}, "end"),
        ({"start": "0001-01-01", "end": "9999-12-30", "groupBy": "timeseries"}, "start"),
        ({"start": "0001-01-01", "end": "2026-01-01"}, "start"),
        ({"start": "0001-01-01", "timezone": "Asia/Tokyo"}, "start"),
        ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
        ({"start": "1969-12-31"}, "start"),
        ({"start": "2026-01-01", "end": "3000-01-01"}, "end"),
        ({"start": "2026-01-01", "end": "9999-12-31T23:59:59", "timezone": "Etc/GMT+12"}, "end"),
        ({"start": "2026-01-01", "end": "9999-12-31", "timezone": "Pacific/Kiritimati"}, "end"),
    ],
)
@pytest.mark.parametrize("path", RANGE_ROUTES)
def test_dates_outside_1970_to_2999_are_a_422(
    loaded: Loaded, path: str, params: dict[str, str], field: str
) -> None:
    error = error_of(api(loaded).get(path, params=params), 422)
    assert error["code"] == "unprocessable_entity"
    assert f"query parameter {field}:" in error["message"]
    assert "1970-01-01" in error["message"]
    assert "2999-12-31" in error["message"]


def test_the_edges_of_the_dates_are_answered(loaded: Loaded) -> None:
    every = analytics(loaded, start="2026-01-01", end="2026-11-30", event="composite")
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):  # UTC+14, UTC-12
        answer = analytics(
            loaded, start="1970-01-01", end="2999-12-31", timezone=zone, event="composite"
        )
        assert answer == every


@pytest.mark.parametrize("event", ["clicks", "composite"])
def test_a_time_series_has_at_most_1000_buckets(loaded: Loaded, event: str) -> None:
    params: dict[str, Any] = {"groupBy": "timeseries", "event": event}
    # January 1970 to April 2053: 1000 months.
    rows = analytics(loaded, start="1970-01-01", end="2053-04-30", **params)
    assert len(rows) == 1_000
    for end in ("2053-05-01", "2999-12-31"):
        response = api(loaded).get("/api/analytics", params={"start": "1970-01-01", "end": end})
        assert response.status_code == 200, response.text  # a total has no buckets
        response = api(loaded).get(
            "/api/analytics", params={"start": "1970-01-01", "end": end, **params}
        )
        error = error_of(response, 422)
        assert error["code"] == "unprocessable_entity"
        assert "query parameter start/end:" in error["message"]
        assert "months" in error["message"]
        assert "1000" in error["message"]


def test_a_long_series_is_the_short_one_padded_with_zeros(loaded: Loaded) -> None:
    """Only buckets holding the workspace's events are read: the rest are zeros, and the
    buckets that are read match those of a range around the events."""
    params = {"groupBy": "timeseries", "event": "composite", "country": "US,FR"}
    for zone in ("UTC", "America/New_York"):
        long = analytics(loaded, start="1970-01-01", timezone=zone, **params)
        now = datetime.now(UTC).date()
        assert len(long) == _months(date(1970, 1, 1), now)
        short = analytics(loaded, start="2026-01-01", end="2026-11-30", timezone=zone, **params)
        assert len(short) == 11
        offset = _months(date(1970, 1, 1), date(2026, 1, 1)) - 1
        assert long[offset : offset + 11] == short
        rest = long[:offset] + long[offset + 11 :]
        assert all(r["clicks"] == r["leads"] == r["sales"] == r["saleAmount"] == 0 for r in rest)
        total = analytics(
            loaded,
            start="1970-01-01",
            timezone=zone,
            event="composite",
            **{k: v for k, v in params.items() if k == "country"},
        )
        for measure in ("clicks", "leads", "sales", "saleAmount"):
            assert sum(r[measure] for r in long) == total[measure] > 0


def test_all_time_starts_at_the_first_event(loaded: Loaded) -> None:
    rows = analytics(loaded, interval="all", groupBy="timeseries", event="composite")
    assert rows[0]["start"] == "2026-01-01T00:00:00.000Z"
    assert sum(r["clicks"] for r in rows) == analytics(loaded, interval="all")["clicks"]


@pytest.mark.parametrize(
    ("plan", "days", "needed"),
    [("free", 31, "Pro"), ("free", 45, "Pro"), ("pro", 367, "Business"), ("pro", 5000, "Business")],
)
@pytest.mark.parametrize("path", RANGE_ROUTES[:2])
def test_ranges_longer_than_the_plan_are_forbidden(
    loaded: Loaded, plan: str, days: int, needed: str, path: str
) -> None:
    """A range that starts within the plan's reach may not run on past it either."""
    tenant = loaded.free if plan == "free" else loaded.pro
    params = {"start": _today(-1), "end": _today(days - 1)}
    error = error_of(api(loaded, tenant.token).get(path, params=params), 403)
    assert error["code"] == "forbidden"
    assert f"A range of {days} days requires a {needed} plan" in error["message"]
    assert f"on the {plan} plan" in error["message"]


@pytest.mark.parametrize(("plan", "days"), [("free", 30), ("pro", 366)])
def test_ranges_as_long_as_the_plan_are_answered(loaded: Loaded, plan: str, days: int) -> None:
    tenant = loaded.free if plan == "free" else loaded.pro
    for start, end in ((_today(-days), _today()), (_today(), _today(days))):
        answer = analytics(loaded, tenant.token, start=start, end=end, groupBy="timeseries")
        assert isinstance(answer, list)
        assert answer


def test_the_dashboard_charts_are_bounded_the_same(loaded: Loaded) -> None:
    owner = dash(loaded.server)
    for params, status, words in (
        ("start=0001-01-01&end=9999-12-30", 422, ("start", "1970-01-01")),
        ("start=2026-01-01&end=9999-12-31", 422, ("end", "2999-12-31")),
        ("start=1970-01-01&end=2060-01-01", 422, ("start/end", "1000")),
        ("part=countries&start=1970-01-01&end=2060-01-01", 200, ()),
    ):
        answer = owner.get(f"/analytics/data?{params}")
        assert answer.status_code == status, (params, answer.text)
        if status != 200:
            message = answer.json()["error"]["message"]
            assert all(word in message for word in words), message
    free = dash(loaded.server, plan="free")
    answer = free.get(f"/analytics/data?start={_today()}&end={_today(60)}")
    assert answer.status_code == 403
    assert "requires a Pro plan" in answer.json()["error"]["message"]

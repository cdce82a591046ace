"""Time series: zero-filled, timezone-aware buckets, hour/day/month by the range (§6)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.analytics import oracle
from tests.analytics.conftest import Loaded
from tests.analytics.dataset import ms
from tests.analytics.helpers import analytics


@pytest.fixture(scope="module", params=["sql", pytest.param("chdb", marks=pytest.mark.sqlite_only)])
def store(request: pytest.FixtureRequest) -> str:
    """The conformance suite: every answer here from the run's database and from
    ClickHouse (chdb), over the same data set, checked against the same oracle. chdb runs in
    the SQLite suite only (its answers do not depend on the relational database)."""
    return str(request.param)


NY, KOLKATA = "America/New_York", "Asia/Kolkata"


def local_range(tz: str, start: str, end: str) -> tuple[int, int]:
    """Milliseconds of the local midnight of ``start`` and the one after ``end``."""
    zone = ZoneInfo(tz)
    first, last = date.fromisoformat(start), date.fromisoformat(end) + timedelta(days=1)
    return (
        ms(datetime(first.year, first.month, first.day, tzinfo=zone)),
        ms(datetime(last.year, last.month, last.day, tzinfo=zone)),
    )


CASES = [
    ("UTC", "2026-03-08", "2026-03-08", "hour", 24),
    (NY, "2026-03-08", "2026-03-08", "hour", 23),
    (NY, "2026-11-01", "2026-11-01", "hour", 25),
    (KOLKATA, "2026-06-15", "2026-06-16", "hour", 48),
    (NY, "2026-02-25", "2026-03-15", "day", 19),
    (NY, "2026-10-20", "2026-11-10", "day", 22),
    (KOLKATA, "2026-06-01", "2026-06-30", "day", 30),
    ("UTC", "2026-01-01", "2026-01-03", "day", 3),
    ("UTC", "2026-01-01", "2026-06-29", "day", 180),
    ("UTC", "2026-01-01", "2026-06-30", "month", 6),
    (NY, "2026-01-01", "2026-11-30", "month", 11),
    (KOLKATA, "2026-01-01", "2026-11-30", "month", 11),
]


@pytest.mark.parametrize("event", ["composite", "sales"])
@pytest.mark.parametrize(("tz", "start", "end", "granularity", "size"), CASES)
def test_buckets_match_the_local_calendar(
    loaded: Loaded, event: str, tz: str, start: str, end: str, granularity: str, size: int
) -> None:
    rows = analytics(loaded, event=event, groupBy="timeseries", start=start, end=end, timezone=tz)
    expected = oracle.timeseries(
        loaded.a, event, {}, *local_range(tz, start, end), ZoneInfo(tz), granularity
    )
    assert len(rows) == size
    assert rows == expected


def test_spring_forward_skips_two_oclock_in_new_york(loaded: Loaded) -> None:
    rows = analytics(
        loaded, groupBy="timeseries", start="2026-03-08", end="2026-03-08", timezone=NY
    )
    starts = [r["start"] for r in rows]
    assert starts[:4] == [
        "2026-03-08T00:00:00.000-05:00",
        "2026-03-08T01:00:00.000-05:00",
        "2026-03-08T03:00:00.000-04:00",
        "2026-03-08T04:00:00.000-04:00",
    ]
    assert sum(r["clicks"] for r in rows[2:5]) > 0, "the cluster sits on the change"


def test_fall_back_repeats_one_oclock_in_new_york(loaded: Loaded) -> None:
    rows = analytics(
        loaded, groupBy="timeseries", start="2026-11-01", end="2026-11-01", timezone=NY
    )
    starts = [r["start"] for r in rows]
    assert starts[1:4] == [
        "2026-11-01T01:00:00.000-04:00",
        "2026-11-01T01:00:00.000-05:00",
        "2026-11-01T02:00:00.000-05:00",
    ]
    assert rows[1]["clicks"] > 0
    assert rows[2]["clicks"] > 0


def test_kolkata_hours_start_at_half_past_utc(loaded: Loaded) -> None:
    rows = analytics(
        loaded, groupBy="timeseries", start="2026-06-15", end="2026-06-15", timezone=KOLKATA
    )
    assert rows[0]["start"] == "2026-06-15T00:00:00.000+05:30"
    for row in rows:
        moment = datetime.fromisoformat(row["start"]).astimezone(UTC)
        assert moment.minute == 30


def test_days_of_a_dst_change_are_23_and_25_hours(loaded: Loaded) -> None:
    rows = analytics(
        loaded, groupBy="timeseries", start="2026-03-07", end="2026-03-09", timezone=NY
    )
    starts = [datetime.fromisoformat(r["start"]) for r in rows]
    assert [s.isoformat() for s in starts] == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
    ]
    assert starts[2] - starts[1] == timedelta(hours=23)


def test_datetimes_bound_the_range_exactly(loaded: Loaded) -> None:
    start, end = "2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z"
    rows = analytics(
        loaded, event="composite", groupBy="timeseries", start=start, end=end, timezone=NY
    )
    zone = ZoneInfo(NY)
    bounds = ms(datetime(2026, 11, 1, 4, tzinfo=UTC)), ms(datetime(2026, 11, 1, 8, tzinfo=UTC))
    assert rows == oracle.timeseries(loaded.a, "composite", {}, *bounds, zone, "hour")
    assert [r["start"][11:] for r in rows] == [
        "00:00:00.000-04:00",
        "01:00:00.000-04:00",
        "01:00:00.000-05:00",
        "02:00:00.000-05:00",
    ]


def test_naive_datetimes_are_local(loaded: Loaded) -> None:
    rows = analytics(
        loaded, groupBy="timeseries", start="2026-03-08T01:30", end="2026-03-08T05:00", timezone=NY
    )
    assert [r["start"][11:19] for r in rows] == ["01:00:00", "03:00:00", "04:00:00"]
    bounds = ms(datetime(2026, 3, 8, 6, 30, tzinfo=UTC)), ms(datetime(2026, 3, 8, 9, tzinfo=UTC))
    assert sum(r["clicks"] for r in rows) == len(oracle.select(loaded.a, "clicks", {}, *bounds))


def test_empty_ranges_are_zero_filled(loaded: Loaded) -> None:
    rows = analytics(
        loaded, event="composite", groupBy="timeseries", start="2025-06-01", end="2025-06-10"
    )
    assert [r["start"] for r in rows] == [f"2025-06-{d:02d}T00:00:00.000Z" for d in range(1, 11)]
    assert all(r["clicks"] == r["leads"] == r["sales"] == r["saleAmount"] == 0 for r in rows)


def test_filters_apply_to_time_series(loaded: Loaded) -> None:
    filters = {"country": "-US", "utm_source": "newsletter,twitter"}
    rows = analytics(
        loaded,
        event="composite",
        groupBy="timeseries",
        start="2026-03-01",
        end="2026-03-31",
        timezone=KOLKATA,
        **filters,
    )
    bounds = local_range(KOLKATA, "2026-03-01", "2026-03-31")
    assert rows == oracle.timeseries(
        loaded.a, "composite", filters, *bounds, ZoneInfo(KOLKATA), "day"
    )


def _step(rows: list[dict[str, object]]) -> timedelta:
    starts = [datetime.fromisoformat(str(r["start"])) for r in rows]
    return min(b - a for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(
    ("interval", "unit"),
    [
        ("24h", "hour"),
        ("7d", "day"),
        ("30d", "day"),
        ("90d", "day"),
        ("1y", "month"),
        ("ytd", "month"),
        ("all", "month"),
    ],
)
def test_granularity_follows_the_interval(loaded: Loaded, interval: str, unit: str) -> None:
    rows = analytics(loaded, groupBy="timeseries", interval=interval, timezone=NY)
    assert len(rows) >= 2
    step = _step(rows)
    if unit == "hour":
        assert step == timedelta(hours=1)
        assert len(rows) in (24, 25)
    elif unit == "day":
        assert timedelta(hours=23) <= step <= timedelta(hours=25)
        days = int(interval.removesuffix("d"))
        assert len(rows) in (days, days + 1)
    else:
        assert step >= timedelta(days=28)
        assert all(r["start"][8:10] == "01" for r in rows)
    if interval == "all":
        assert rows[0]["start"].startswith("2025-12-01") or rows[0]["start"].startswith("2026-01")
        assert sum(r["clicks"] for r in rows) == len(loaded.a.clicks)

"""The range and bucket arithmetic on its own (no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from codeqr.analytics import timeframe as tf
from tests.analytics.dataset import ms

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 27, 3, 7, tzinfo=UTC)


def test_hour_buckets_follow_the_wall_clock_across_dst() -> None:
    start, end = ms(datetime(2026, 11, 1, 4, tzinfo=UTC)), ms(datetime(2026, 11, 1, 8, tzinfo=UTC))
    starts = tf.buckets(start, end, NY, tf.Granularity.hour)
    assert [s.isoformat() for s in starts] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_month_buckets_start_on_local_firsts() -> None:
    start, end = ms(datetime(2026, 1, 15, tzinfo=UTC)), ms(datetime(2026, 4, 1, 4, tzinfo=UTC))
    starts = tf.buckets(start, end, NY, tf.Granularity.month)
    assert [s.isoformat() for s in starts] == [
        "2026-01-01T00:00:00-05:00",
        "2026-02-01T00:00:00-05:00",
        "2026-03-01T00:00:00-05:00",
    ]


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/UTC", " UTC"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        tf.zone(name)


def test_interval_starts_are_local() -> None:
    start = tf.resolve(tf.Interval.mtd, None, None, NY, NOW).start_ms
    assert start == ms(datetime(2026, 11, 1, 4, tzinfo=UTC))  # midnight EDT on Nov 1
    start = tf.resolve(tf.Interval.qtd, None, None, NY, NOW).start_ms
    assert start == ms(datetime(2026, 10, 1, 4, tzinfo=UTC))
    start = tf.resolve(tf.Interval.ytd, None, None, NY, NOW).start_ms
    assert start == ms(datetime(2026, 1, 1, 5, tzinfo=UTC))
    assert tf.resolve(tf.Interval.all, None, None, NY, NOW).start_ms is None
    assert tf.resolve(None, None, None, NY, NOW).interval is tf.Interval.last_24h


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-02-01", "2026-01-01", "end: must be after start"),
        ("yesterday", None, "start: "),
        ("2026-01-01", "soon", "end: "),
        (None, "2026-01-01", "start: required"),
    ],
)
def test_bad_bounds_name_the_parameter(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tf.resolve(None, start, end, NY, NOW)


def test_granularity_thresholds() -> None:
    day = tf.DAY_MS
    assert tf.Timeframe(0, 2 * day, NY, None).granularity(0) is tf.Granularity.hour
    assert tf.Timeframe(0, 2 * day + 1, NY, None).granularity(0) is tf.Granularity.day
    assert tf.Timeframe(0, 180 * day, NY, None).granularity(0) is tf.Granularity.day
    assert tf.Timeframe(0, 180 * day + 1, NY, None).granularity(0) is tf.Granularity.month
    ytd = tf.Timeframe(0, day, NY, tf.Interval.ytd)
    assert ytd.granularity(0) is tf.Granularity.month


def test_midnight_skipped_by_a_dst_change_starts_the_day_at_one() -> None:
    santiago = ZoneInfo("America/Santiago")  # clocks go from 00:00 to 01:00 in September
    start = tf.local_midnight(datetime(2026, 9, 6).date(), santiago)
    assert start.hour == 1
    assert start.astimezone(UTC) == datetime(2026, 9, 6, 4, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_bucket_count_is_the_number_of_buckets(zone: str) -> None:
    tz = ZoneInfo(zone)
    day = tf.DAY_MS
    start = ms(datetime(2026, 1, 31, 17, 30, tzinfo=UTC))
    for granularity, length in (
        (tf.Granularity.day, 1),
        (tf.Granularity.day, 179 * day),
        (tf.Granularity.month, 181 * day),
        (tf.Granularity.month, 40 * 365 * day + 1),
    ):
        count = tf.bucket_count(start, start + length, tz, granularity)
        assert count == len(tf.buckets(start, start + length, tz, granularity))
    # Hours are counted as they elapse: across a DST change at most one off.
    fall = ms(datetime(2026, 11, 1, 2, tzinfo=UTC))
    count = tf.bucket_count(fall, fall + 2 * day, tz, tf.Granularity.hour)
    assert abs(count - len(tf.buckets(fall, fall + 2 * day, tz, tf.Granularity.hour))) <= 1


@pytest.mark.parametrize("text", ["0001-01-01", "1969-12-31", "3000-01-01", "9999-12-31"])
def test_dates_past_the_calendar_window_are_refused(text: str) -> None:
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        with pytest.raises(ValueError, match="between 1970-01-01 and 2999-12-31"):
            tf.resolve(None, text, None, ZoneInfo(zone), NOW)
        with pytest.raises(ValueError, match=r"end: .*between 1970-01-01 and 2999-12-31"):
            tf.resolve(None, "2026-01-01", text, ZoneInfo(zone), NOW)

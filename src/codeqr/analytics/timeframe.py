"""Time ranges and time-series buckets in the caller's timezone (SPEC §6).

Events are stored in UTC milliseconds. A bucket is a local hour, day or month of the
requested IANA zone, found here with the zone's own rules and handed to SQL as a range of
milliseconds: a 23- or 25-hour day of a DST change is one bucket, the hour repeated when
clocks go back is two, and Asia/Kolkata's hours start at :30 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HOURLY_UP_TO_MS = 2 * DAY_MS
DAILY_UP_TO_MS = 180 * DAY_MS
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
"""The dates a range may name. Events are stamped in milliseconds since 1970, so nothing
lies before; far-off dates would only overflow the calendar arithmetic (a local day's next
midnight, a zone's offset) at the edges of what ``datetime`` holds."""
MAX_BUCKETS = 1_000
"""The most buckets a time series may have. Hours (ranges of 2 days or less) and days (180
days or less) stay under 200 by the granularity rules, so this bounds months: 83 years,
every month from 1970 to 2053, which ``interval=all`` (starting at the workspace's first
event) cannot exceed before then. The answer stays under 100 kB, and only the buckets
between the workspace's first and last events are read (an index range scan each per event
type)."""


class Interval(StrEnum):
    last_24h = "24h"
    last_7d = "7d"
    last_30d = "30d"
    last_90d = "90d"
    last_1y = "1y"
    mtd = "mtd"
    qtd = "qtd"
    ytd = "ytd"
    all = "all"


class Granularity(StrEnum):
    hour = "hour"
    day = "day"
    month = "month"


_ROLLING_DAYS = {
    Interval.last_7d: 7,
    Interval.last_30d: 30,
    Interval.last_90d: 90,
    Interval.last_1y: 365,
}
_MONTHLY = {Interval.last_1y, Interval.ytd, Interval.all}


@dataclass(frozen=True)
class Timeframe:
    """The range a query covers (``start_ms`` ``None`` is the beginning of time)."""

    start_ms: int | None
    end_ms: int
    zone: ZoneInfo
    interval: Interval | None

    def granularity(self, first_ms: int) -> Granularity:
        """Hours for 2 days or less, months past 180 days (and for 1y, ytd, all), else days;
        ``first_ms`` stands for the start of an open range."""
        if self.interval in _MONTHLY:
            return Granularity.month
        span = self.end_ms - (first_ms if self.start_ms is None else self.start_ms)
        if span <= HOURLY_UP_TO_MS:
            return Granularity.hour
        return Granularity.day if span <= DAILY_UP_TO_MS else Granularity.month


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ``ValueError`` naming it otherwise."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. America/New_York)") from exc


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return int(value.timestamp() * 1000)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local date (01:00 where a DST change skips midnight)."""
    naive = datetime.combine(day, time())
    aware = naive.replace(tzinfo=tz)
    # A skipped midnight (fold 0 reads it with the offset before the change) lands on the
    # instant the clocks jump, shown as 01:00: the first instant of that date.
    return aware.astimezone(UTC).astimezone(tz)


def parse_bound(text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """An ISO date or datetime; naive values are local to ``tz``. A date alone is its
    local midnight, and as an end the next midnight (the date is included). Dates before
    ``EARLIEST`` or after ``LATEST`` (as written) are refused."""
    value = text.strip()
    day_only = len(value) == 10
    try:
        if day_only:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 date or datetime") from exc
    day = moment.date()
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{text!r} is not between {EARLIEST} and {LATEST}")
    if day_only:
        return local_midnight(day + timedelta(days=1) if end else day, tz)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def resolve(
    interval: Interval | None, start: str | None, end: str | None, tz: ZoneInfo, now: datetime
) -> Timeframe:
    """The range of a request: ``start``/``end`` when given, else the interval (24h by
    default). ``ValueError`` names the parameter at fault."""
    local_now = now.astimezone(tz)
    if start is not None or end is not None:
        if start is None:
            raise ValueError("start: required when end is given")
        first = _bound("start", start, tz, end=False)
        last = _bound("end", end, tz, end=True) if end is not None else local_now
        if first >= last:
            raise ValueError("end: must be after start")
        return Timeframe(to_ms(first), to_ms(last), tz, None)
    interval = interval or Interval.last_24h
    end_ms = to_ms(local_now)
    if interval is Interval.all:
        return Timeframe(None, end_ms, tz, interval)
    if interval is Interval.last_24h:
        begin = local_now - timedelta(hours=24)
    elif interval in _ROLLING_DAYS:
        begin = local_now - timedelta(days=_ROLLING_DAYS[interval])
    else:
        month = {
            Interval.mtd: local_now.month,
            Interval.qtd: (local_now.month - 1) // 3 * 3 + 1,
            Interval.ytd: 1,
        }[interval]
        begin = local_midnight(date(local_now.year, month, 1), tz)
    return Timeframe(to_ms(begin), end_ms, tz, interval)


def _bound(name: str, text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    try:
        return parse_bound(text, tz, end=end)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def buckets(start_ms: int, end_ms: int, tz: ZoneInfo, granularity: Granularity) -> list[datetime]:
    """The local starts of every bucket from the one holding ``start_ms`` to the one
    holding ``end_ms - 1``."""
    first, last = _local(start_ms, tz), _local(max(end_ms - 1, start_ms), tz)
    if granularity is Granularity.hour:
        # Real hours, each starting on a local o'clock: stepping in UTC keeps the hour a
        # DST change repeats and skips the one it leaves out.
        moment = first.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        starts = []
        while moment <= last:
            starts.append(moment.astimezone(tz))
            moment += timedelta(hours=1)
        return starts
    day, last_day = first.date(), last.date()
    if granularity is Granularity.month:
        day = date(day.year, day.month, 1)
    starts = []
    while day <= last_day:
        starts.append(local_midnight(day, tz))
        if granularity is Granularity.day:
            day += timedelta(days=1)
        else:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return starts


def bucket_count(start_ms: int, end_ms: int, tz: ZoneInfo, granularity: Granularity) -> int:
    """How many buckets ``buckets`` would make, worked out without making them (for hours,
    counted in elapsed hours: one off across a DST change, which does not matter here)."""
    if granularity is Granularity.hour:
        return -(-(end_ms - start_ms) // HOUR_MS) + 1
    first, last = _local(start_ms, tz).date(), _local(max(end_ms - 1, start_ms), tz).date()
    if granularity is Granularity.day:
        return (last - first).days + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _local(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)


def label(moment: datetime) -> str:
    """ISO 8601 with milliseconds and the local offset (``Z`` in UTC)."""
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if moment.utcoffset() == timedelta(0) else text


def days_back(start_ms: int, now: datetime, tz: ZoneInfo) -> int:
    """How many local days before today the range starts (0 for today)."""
    return (now.astimezone(tz).date() - _local(start_ms, tz).date()).days


def days_spanned(start_ms: int, end_ms: int, tz: ZoneInfo) -> int:
    """How many local days after its first the range's last day is (0 within one day)."""
    last = _local(max(end_ms - 1, start_ms), tz).date()
    return (last - _local(start_ms, tz).date()).days

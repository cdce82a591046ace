"""Time in one place, so tests and the redirect agree on milliseconds since the epoch in UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def utcnow() -> datetime:
    """An aware datetime in UTC."""
    return datetime.now(UTC)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware (or UTC-naive) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with a ``Z`` and milliseconds, as Dub writes times."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

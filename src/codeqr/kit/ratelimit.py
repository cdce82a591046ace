"""Rate limits: a sliding-window counter per key, behind a store interface.

The embedded mode counts in this process (``MemoryRateLimits``); a scale-out deployment
gives every process the same counts through a shared store (Redis) implementing
``RateLimitStore``. A window of ``window_ms`` is counted as the current fixed window plus
the previous one weighted by how much of it still overlaps the sliding window: two integers
a key, no log of timestamps, and a burst at a window's edge is not let through twice.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from codeqr.kit.errors import RateLimited


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` hits a sliding ``window_s`` seconds."""

    limit: int
    window_s: int

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000


@dataclass(frozen=True)
class Decision:
    """What one hit was told: allowed or not, and what is left."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int
    """When the current fixed window ends (epoch milliseconds)."""
    retry_after_s: int
    """Seconds until a hit would be allowed again (0 when this one was)."""

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` as Dub sends them, and ``Retry-After`` on a refusal."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_ms / 1000)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers

    def raise_if_refused(self, message: str) -> Decision:
        """429 ``rate_limit_exceeded``: ``message`` says what was limited; when to retry
        is added."""
        if not self.allowed:
            raise RateLimited(
                f"{message}; retry in {self.retry_after_s} s.", headers=self.headers()
            )
        return self


class RateLimitStore(Protocol):
    """Counts hits per key. Every app process of a deployment must share one store."""

    def hit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """Count ``cost`` hits for ``key`` unless that would exceed ``quota``."""
        ...

    async def ahit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """``hit`` for the event loop (a shared store answers over the network)."""
        ...


def decide(
    quota: Quota, now_ms: int, start_ms: int, count: int, previous: int, cost: int
) -> tuple[Decision, bool]:
    """The decision for a key whose current window began at ``start_ms`` with ``count``
    hits, after a window of ``previous`` hits; and whether to count the hit. Shared by every
    store so they answer alike."""
    window = quota.window_ms
    overlap = (window - (now_ms - start_ms)) / window
    used = previous * overlap + count
    reset_ms = start_ms + window
    if used + cost <= quota.limit:
        remaining = max(0, math.floor(quota.limit - used - cost))
        return Decision(True, quota.limit, remaining, reset_ms, 0), True
    # How long until the estimate has fallen enough: within this window the previous
    # window's share fades linearly; if this window's own hits are too many already, into
    # the next one, where they become the fading share.
    if count + cost <= quota.limit:
        wait_ms = (used + cost - quota.limit) / previous * window
    elif count > 0 and cost <= quota.limit:
        wait_ms = reset_ms - now_ms + (count + cost - quota.limit) / count * window
    else:  # more than the whole quota at once: never, so say a whole window
        wait_ms = float(window)
    retry = max(1, math.ceil(wait_ms / 1000))
    return Decision(False, quota.limit, 0, reset_ms, retry), False


class MemoryRateLimits:
    """Counts in this process, for the embedded mode: at most ``capacity`` keys, least
    recently hit dropped first (a dropped key starts over, so the bound is on memory, not on
    a determined attacker's count: the capacity is far above the number of live clients)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._windows: OrderedDict[str, tuple[int, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """Count ``cost`` hits for ``key`` unless that would exceed ``quota``."""
        window = quota.window_ms
        start = now_ms - now_ms % window
        with self._lock:
            begun, count, previous = self._windows.get(key, (start, 0, 0))
            if begun != start:
                previous = count if begun == start - window else 0
                count = 0
            decision, counted = decide(quota, now_ms, start, count, previous, cost)
            if counted:
                count += cost
            self._windows[key] = (start, count, previous)
            self._windows.move_to_end(key)
            if len(self._windows) > self.capacity:
                self._windows.popitem(last=False)
        return decision

    async def ahit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """``hit``: counting in memory never waits."""
        return self.hit(key, quota, now_ms, cost)

    def __len__(self) -> int:
        return len(self._windows)

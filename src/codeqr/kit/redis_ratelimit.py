"""Rate limits shared by every process of a deployment, counted in Redis.

The same sliding-window counter as ``MemoryRateLimits``: two counters a key (this fixed
window and the one before), read, decided and incremented in one Lua script so concurrent
processes never both take the last slot. While Redis cannot be reached, each process counts
on its own (logged once per outage): a limit then holds per process, never not at all.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import redis
import redis.asyncio
import structlog

from codeqr.kit.ratelimit import Decision, MemoryRateLimits, Quota, decide

log = structlog.get_logger(__name__)

# KEYS: this window's counter, the previous window's. ARGV: limit, window (ms), now (ms),
# this window's start (ms), cost. Returns the counts before this hit and whether it counted.
_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local used = previous * (window - (tonumber(ARGV[3]) - tonumber(ARGV[4]))) / window + count
local cost = tonumber(ARGV[5])
if used + cost <= limit then
  redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return {count, previous, 1}
end
return {count, previous, 0}
"""
PREFIX = "codeqr:rl:"


class RedisRateLimits:
    """``RateLimitStore`` on Redis, with an in-process fallback while Redis is away."""

    def __init__(self, url: str, *, fallback: MemoryRateLimits | None = None) -> None:
        self.sync = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.aio = redis.asyncio.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._sync_script = self.sync.register_script(_SCRIPT)
        self._aio_script = self.aio.register_script(_SCRIPT)
        self.fallback = fallback or MemoryRateLimits()
        self.fallbacks = 0
        """Hits counted in process because Redis could not be reached."""
        self._down = threading.Event()

    @staticmethod
    def _keys(key: str, quota: Quota, now_ms: int) -> tuple[list[str], int]:
        window = quota.window_ms
        start = now_ms - now_ms % window
        # One hash tag per key: both windows sit on one node of a Redis Cluster.
        base = f"{PREFIX}{{{key}}}:{window}:"
        return [f"{base}{start}", f"{base}{start - window}"], start

    def _decision(self, reply: Any, quota: Quota, now_ms: int, start: int, cost: int) -> Decision:
        if self._down.is_set():
            self._down.clear()
            log.info("ratelimit.redis.back")
        count, previous, counted = (int(x) for x in reply)
        decision, _ = decide(quota, now_ms, start, count, previous, cost)
        if decision.allowed != bool(counted):  # a float tie read otherwise: Redis decided
            decision = dataclasses.replace(decision, allowed=bool(counted))
        return decision

    def _fall_back(
        self, error: Exception, key: str, quota: Quota, now_ms: int, cost: int
    ) -> Decision:
        self.fallbacks += 1
        if not self._down.is_set():
            self._down.set()
            log.warning("ratelimit.redis.unreachable", error=repr(error))
        return self.fallback.hit(key, quota, now_ms, cost)

    def hit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """Count ``cost`` hits for ``key`` in Redis unless that would exceed ``quota``."""
        keys, start = self._keys(key, quota, now_ms)
        try:
            reply = self._sync_script(
                keys=keys, args=[quota.limit, quota.window_ms, now_ms, start, cost]
            )
        except redis.RedisError as error:
            return self._fall_back(error, key, quota, now_ms, cost)
        return self._decision(reply, quota, now_ms, start, cost)

    async def ahit(self, key: str, quota: Quota, now_ms: int, cost: int = 1) -> Decision:
        """``hit`` from the event loop."""
        keys, start = self._keys(key, quota, now_ms)
        try:
            reply = await self._aio_script(
                keys=keys, args=[quota.limit, quota.window_ms, now_ms, start, cost]
            )
        except redis.RedisError as error:
            return self._fall_back(error, key, quota, now_ms, cost)
        return self._decision(reply, quota, now_ms, start, cost)

    def close(self) -> None:
        """Close the synchronous client's connections (the async one closes with its loop)."""
        self.sync.close()

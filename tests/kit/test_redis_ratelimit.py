"""The Redis rate-limit store (kit/redis_ratelimit.py) against a real Redis: the same
decisions as the in-process store, one count for many processes, and a fallback while
Redis is away."""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from codeqr.kit.ratelimit import MemoryRateLimits, Quota
from codeqr.kit.redis_ratelimit import RedisRateLimits

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("CODEQR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MINUTE = Quota(limit=10, window_s=60)
T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000


def fresh() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_it_decides_as_the_in_process_store_does() -> None:
    shared, local = RedisRateLimits(REDIS_URL), MemoryRateLimits()
    key = fresh()
    times = [T0 + i * 7_000 for i in range(25)]  # across three fixed windows
    try:
        for now in times:
            assert shared.hit(key, MINUTE, now) == local.hit(key, MINUTE, now)
    finally:
        shared.close()
    assert shared.fallbacks == 0


def test_processes_share_one_count() -> None:
    """Four stores (as four processes would hold) hit one key 40 times at once: exactly the
    limit is let through."""
    stores = [RedisRateLimits(REDIS_URL) for _ in range(4)]
    key = fresh()
    try:
        with ThreadPoolExecutor(8) as pool:
            decisions = list(pool.map(lambda n: stores[n % 4].hit(key, MINUTE, T0 + 5), range(40)))
    finally:
        for store in stores:
            store.close()
    assert sum(d.allowed for d in decisions) == 10


def test_the_async_path_counts_in_the_same_windows() -> None:
    store = RedisRateLimits(REDIS_URL)
    key = fresh()

    async def run() -> list[int]:
        remaining = [(await store.ahit(key, MINUTE, T0 + i)).remaining for i in range(3)]
        await store.aio.aclose()
        return remaining

    try:
        assert asyncio.run(run()) == [9, 8, 7]
        assert store.hit(key, MINUTE, T0 + 10).remaining == 6
    finally:
        store.close()


def test_an_unreachable_redis_falls_back_to_counting_here() -> None:
    store = RedisRateLimits("redis://127.0.0.1:1/0")
    try:
        decisions = [store.hit("k", MINUTE, T0 + i) for i in range(11)]
    finally:
        store.close()
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert store.fallbacks == 11

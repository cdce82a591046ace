"""The sliding-window counter behind every rate limit (kit/ratelimit.py)."""

from __future__ import annotations

import asyncio

from codeqr.kit.ratelimit import MemoryRateLimits, Quota

MINUTE = Quota(limit=10, window_s=60)
T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000  # the start of a window


def test_hits_are_allowed_up_to_the_limit_then_refused() -> None:
    store = MemoryRateLimits()
    decisions = [store.hit("k", MINUTE, T0 + i) for i in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert [d.remaining for d in decisions[:3]] == [9, 8, 7]
    refused = decisions[-1]
    assert refused.remaining == 0
    assert refused.retry_after_s >= 1
    headers = refused.headers()
    assert headers["X-RateLimit-Limit"] == "10"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == str((T0 + 60_000) // 1000)
    assert headers["Retry-After"] == str(refused.retry_after_s)
    assert "Retry-After" not in decisions[0].headers()


def test_refused_hits_are_not_counted_and_keys_are_apart() -> None:
    store = MemoryRateLimits()
    for i in range(50):
        store.hit("a", MINUTE, T0 + i)
    assert store.hit("b", MINUTE, T0 + 60).allowed
    # 10 counted, 40 refused: a window and a half later, the previous window's 10 weigh 5.
    later = store.hit("a", MINUTE, T0 + 90_000)
    assert later.allowed
    assert later.remaining == 10 - 5 - 1


def test_the_window_slides_a_burst_at_the_edge_is_not_let_through_twice() -> None:
    store = MemoryRateLimits()
    for i in range(10):
        assert store.hit("k", MINUTE, T0 + 59_000 + i).allowed
    # A second after the fixed window turned, the previous window still weighs 59/60.
    just_after = store.hit("k", MINUTE, T0 + 60_500)
    assert not just_after.allowed
    # The retry time it gives is when a hit is allowed again.
    retry_at = T0 + 60_500 + just_after.retry_after_s * 1000
    assert not store.hit("k", MINUTE, retry_at - 2_000).allowed
    assert store.hit("k", MINUTE, retry_at).allowed


def test_the_retry_time_is_honest_when_this_window_is_full() -> None:
    store = MemoryRateLimits()
    for i in range(10):
        store.hit("k", MINUTE, T0 + i)
    refused = store.hit("k", MINUTE, T0 + 1_000)
    retry_at = T0 + 1_000 + refused.retry_after_s * 1000
    assert not store.hit("k", MINUTE, retry_at - 2_000).allowed
    assert store.hit("k", MINUTE, retry_at).allowed


def test_memory_is_bounded_least_recently_hit_first() -> None:
    store = MemoryRateLimits(capacity=1_000)
    for i in range(5_000):
        store.hit(f"client-{i}", MINUTE, T0)
    assert len(store) == 1_000
    store.hit("client-4000", MINUTE, T0)  # kept: recent
    assert store.hit("client-4000", MINUTE, T0).remaining == 7


def test_the_async_hit_counts_in_the_same_windows() -> None:
    store = MemoryRateLimits()
    store.hit("k", MINUTE, T0)
    decision = asyncio.run(store.ahit("k", MINUTE, T0 + 1))
    assert decision.remaining == 8

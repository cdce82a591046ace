from __future__ import annotations

from codeqr.qr.cache import ENTRY_OVERHEAD, RenderCache

KB = 1024


def _cache(max_bytes: int = 10 * KB, max_entry_bytes: int = 4 * KB) -> RenderCache[str]:
    return RenderCache(max_bytes=max_bytes, max_entry_bytes=max_entry_bytes)


def test_bounded_by_bytes_least_recently_used_out_first() -> None:
    cache = _cache()
    for name in "abcd":
        cache.put(name.encode(), name, 3 * KB - ENTRY_OVERHEAD)  # three fit in 10 KB
    assert cache.bytes == 9 * KB
    assert [cache.get(k) for k in (b"a", b"b", b"c", b"d")] == [None, "b", "c", "d"]
    assert cache.get(b"b") == "b"  # now the most recent: c goes next
    cache.put(b"e", "e", 3 * KB - ENTRY_OVERHEAD)
    assert cache.get(b"c") is None
    assert {k: cache.get(k) for k in (b"b", b"d", b"e")} == {b"b": "b", b"d": "d", b"e": "e"}
    assert cache.bytes <= cache.max_bytes
    assert len(cache) == 3


def test_many_small_entries_count_their_overhead() -> None:
    cache = _cache()
    for i in range(1000):
        cache.put(str(i).encode(), "x", 0)
    assert len(cache) == 10 * KB // ENTRY_OVERHEAD
    assert cache.bytes <= cache.max_bytes


def test_an_entry_too_large_is_not_kept_and_pushes_nothing_out() -> None:
    cache = _cache()
    cache.put(b"a", "a", KB)
    cache.put(b"big", "big", 4 * KB)
    assert cache.get(b"big") is None
    assert cache.get(b"a") == "a"
    cache.put(b"a", "a2", 2 * KB)  # replacing counts the new size only
    assert cache.get(b"a") == "a2"
    assert cache.bytes == 2 * KB + ENTRY_OVERHEAD


def test_entries_with_a_time_to_live_go_stale() -> None:
    now = [100.0]
    cache = _cache()
    cache.clock = lambda: now[0]
    cache.put(b"short", "short", 0, ttl=60)
    cache.put(b"kept", "kept", 0)
    now[0] += 59
    assert cache.get(b"short") == "short"
    now[0] += 1
    assert cache.get(b"short") is None
    assert cache.get(b"kept") == "kept"
    assert cache.bytes == ENTRY_OVERHEAD

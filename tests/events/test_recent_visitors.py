"""The dedupe's memory: a bounded window of first clicks, oldest forgotten first."""

from __future__ import annotations

from codeqr.events.dedupe import WINDOW_MS, Forgotten, RecentVisitors, visitor_key

T0 = 1_800_000_000_000


def test_a_visitor_is_known_for_an_hour_from_their_first_click() -> None:
    memory = RecentVisitors(capacity=10)
    memory.remember("who", "link_a", "click1", T0)
    assert memory.get("who", "link_a", T0 + WINDOW_MS - 1) == "click1"
    assert memory.get("who", "link_a", T0 + WINDOW_MS) is None
    assert memory.get("who", "link_b", T0) is None
    assert memory.get("someone", "link_a", T0) is None


def test_past_capacity_the_oldest_young_entries_go_to_keep() -> None:
    kept: list[Forgotten] = []
    memory = RecentVisitors(capacity=2, keep=kept.append)
    memory.start(T0)  # nothing stored before: a miss is proof
    assert memory.complete(T0)
    for n in range(4):
        memory.remember(f"v{n}", "link", f"c{n}", T0 + n)
    assert kept == [
        (visitor_key("v0", "link"), "c0", T0),
        (visitor_key("v1", "link"), "c1", T0 + 1),
    ]
    assert memory.get("v0", "link", T0 + 10) is None
    assert memory.get("v3", "link", T0 + 10) == "c3"
    # Memory forgot visitors still young: misses must be checked until they are an hour old.
    assert not memory.complete(T0 + 10)
    assert not memory.complete(T0 + 1 + WINDOW_MS - 1)
    assert memory.complete(T0 + 1 + WINDOW_MS)


def test_expired_entries_are_dropped_without_keep() -> None:
    kept: list[Forgotten] = []
    memory = RecentVisitors(capacity=1, keep=kept.append)
    memory.start(T0)
    memory.remember("old", "link", "c0", T0)
    memory.remember("new", "link", "c1", T0 + WINDOW_MS)
    assert kept == []
    assert memory.complete(T0 + WINDOW_MS)


def test_a_visitor_back_after_the_window_is_a_new_first_click() -> None:
    kept: list[Forgotten] = []
    memory = RecentVisitors(capacity=2, keep=kept.append)
    memory.remember("who", "link", "c0", T0)
    memory.remember("who", "link", "c1", T0 + WINDOW_MS)
    assert memory.get("who", "link", T0 + WINDOW_MS + 1) == "c1"
    # One place in the queue per visitor: the next two visitors push them out, and the
    # young entry is handed to ``keep``.
    memory.remember("a", "link", "c2", T0 + WINDOW_MS + 2)
    memory.remember("b", "link", "c3", T0 + WINDOW_MS + 3)
    assert kept == [(visitor_key("who", "link"), "c1", T0 + WINDOW_MS)]
    assert memory.get("who", "link", T0 + WINDOW_MS + 4) is None

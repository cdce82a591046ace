"""The dedupe's memory: a bounded window of first clicks, oldest forgotten first."""

from __future__ import annotations

import random

from codeqr.events.dedupe import WINDOW_MS, Forgotten, RecentVisitors, visitor_key
from codeqr.kit.ids import click_id

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


class _Reference:
    """The same rules kept the plain way: a dict and a list in first-click order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: dict[int, tuple[str, int]] = {}
        self.order: list[int] = []
        self.kept: list[Forgotten] = []

    def get(self, identity: str, link_id: str, now: int) -> str | None:
        entry = self.entries.get(visitor_key(identity, link_id))
        if entry is None or now - entry[1] >= WINDOW_MS:
            return None
        return entry[0]

    def remember(self, identity: str, link_id: str, click_id: str, ts: int) -> None:
        key = visitor_key(identity, link_id)
        if key not in self.entries:
            if len(self.order) >= self.capacity:
                old = self.order.pop(0)
                old_click, first = self.entries.pop(old)
                if first + WINDOW_MS > ts:
                    self.kept.append((old, old_click, first))
            self.order.append(key)
        self.entries[key] = (click_id, ts)


def test_the_table_answers_like_a_plain_dict_through_collisions_and_removals() -> None:
    """A small table (many keys share a home slot, clusters wrap around the end) against the
    plain model, over visits, repeats, returns after the window and forgetting."""
    rng = random.Random(7)
    kept: list[Forgotten] = []
    memory = RecentVisitors(capacity=40, keep=kept.append)
    reference = _Reference(capacity=40)
    now = T0
    for step in range(20_000):
        now += rng.choice((1, 1, 1, 1000, WINDOW_MS // 50))
        visitor = f"v{rng.randrange(120)}"
        link = rng.choice(("link_a", "link_b"))
        known = memory.get(visitor, link, now)
        assert known == reference.get(visitor, link, now), step
        if known is None:
            click = click_id(now)
            memory.remember(visitor, link, click, now)
            reference.remember(visitor, link, click, now)
    assert kept == reference.kept
    assert len(kept) > 1000
    assert len(memory) == 40


def test_ids_that_do_not_fit_a_slot_go_straight_to_keep() -> None:
    kept: list[Forgotten] = []
    memory = RecentVisitors(capacity=10, keep=kept.append)
    memory.remember("a", "link", "x" * 17, T0)
    memory.remember("b", "link", "clé", T0)
    memory.remember("c", "link", "short", T0)
    assert kept == [
        (visitor_key("a", "link"), "x" * 17, T0),
        (visitor_key("b", "link"), "clé", T0),
    ]
    assert memory.get("a", "link", T0) is None
    assert memory.get("c", "link", T0) == "short"
    assert not memory.complete(T0 + 1)

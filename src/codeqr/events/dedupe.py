"""Memory of recent visitors for the one-hour click dedupe, bounded in size.

Memory answers most repeats at once. When it has had to forget a visitor younger than the
window (more distinct visitors in an hour than its capacity, or a restart), a miss is no
longer proof of a new visitor, and the writer asks the events store in the same transaction
as the insert. A store that keeps its own table of recent visitors (SQLite) is handed each
young entry memory forgets (``keep``), and says at start-up until when clicks stored before
the restart can still be repeated (``start``).

The memory is an open-addressing hash table in flat arrays, allocated whole at start: 59
bytes a visitor (a slot of 32 bytes at most 5/8 full, and a place in the queue), so the
default 655,360 visitors take 37 MiB from the first request on, and the process does not grow
as visitors come. A dict of Python objects took three times as much per visitor, and once
full, every further visitor went through the store's table at several times the cost of a
redirect.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable

WINDOW_MS = 3_600_000
DEFAULT_CAPACITY = 655_360
_ID_BYTES = 16
"""Room for a click id in a slot (``kit.ids.click_id`` makes 16 ASCII characters)."""
_EMPTY = 0

Forgotten = tuple[int, str, int]
"""``(visitor key, click id, first click time)`` of a visitor memory let go of."""


def visitor_key(identity: str, link_id: str) -> int:
    """One int for a visitor of a link, stable within this process (Python's hash: a 64-bit
    SipHash of both strings; two visitors sharing one is a chance of about 1 in 2^64/N)."""
    return hash((identity, link_id)) or 1  # 0 marks an empty slot


class RecentVisitors:
    """``visitor key → (click id, first click time)`` for the last hour, oldest out first.

    Slots are found by linear probing from the key's low bits; a removed entry pulls later
    entries of its cluster back (no tombstones, so look-ups never slow down with age). The
    queue of first clicks is a ring of keys.
    """

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        keep: Callable[[Forgotten], None] | None = None,
    ) -> None:
        self.capacity = capacity
        """Visitors held; lowering it later forgets the oldest at the next new visitor."""
        self.keep = keep
        """Where a young entry goes when memory forgets it."""
        slots = 8
        while slots * 5 < capacity * 8:
            slots *= 2
        self._mask = slots - 1
        self._keys = array("q", [_EMPTY]) * slots
        self._times = array("q", [0]) * slots
        self._ids = bytearray(_ID_BYTES * slots)
        """Click ids, ASCII, padded with NUL to ``_ID_BYTES``."""
        self._queue = array("q", [_EMPTY]) * max(capacity, 1)
        """Keys in the order they first came (a ring): the oldest is forgotten first."""
        self._head = 0
        self._size = 0
        # Until the window has passed since start, clicks stored before a restart may exist
        # that memory never saw (``start`` narrows this down).
        self._forgot_young_until = int(time.time() * 1000) + WINDOW_MS

    def __len__(self) -> int:
        return self._size

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found in (key, _EMPTY):
                return slot
            slot = (slot + 1) & mask

    def get(self, identity: str, link_id: str, now_ms: int) -> str | None:
        """The click id to reuse, or ``None``."""
        return self.get_key(visitor_key(identity, link_id), now_ms)

    def get_key(self, key: int, now_ms: int) -> str | None:
        """``get`` by ``visitor_key``, for a caller that needs the key again."""
        slot = self._slot(key)
        if self._keys[slot] == _EMPTY or now_ms - self._times[slot] >= WINDOW_MS:
            return None
        return self._click_id(slot)

    def _click_id(self, slot: int) -> str:
        start = slot * _ID_BYTES
        return self._ids[start : start + _ID_BYTES].rstrip(b"\0").decode("ascii")

    def remember(self, identity: str, link_id: str, click_id: str, ts: int) -> None:
        """Note a visitor's click; forget the oldest past capacity."""
        self.remember_key(visitor_key(identity, link_id), click_id, ts)

    def remember_key(self, key: int, click_id: str, ts: int) -> None:
        """``remember`` by ``visitor_key``."""
        if len(click_id) > _ID_BYTES or "\0" in click_id or not click_id.isascii():
            # Not ours to hold (every id the redirect makes fits): forgotten at once.
            self._forget(key, click_id, ts, ts)
            return
        click_id = click_id.ljust(_ID_BYTES, "\0")
        slot = self._slot(key)
        if self._keys[slot] == _EMPTY:
            queue = self._queue
            if self._size >= min(self.capacity, len(queue)):
                if not self._make_room(ts):
                    self._forget(key, click_id.rstrip("\0"), ts, ts)
                    return
                slot = self._slot(key)  # forgetting may have moved entries
            self._keys[slot] = key
            queue[(self._head + self._size) % len(queue)] = key
            self._size += 1
        # A visitor back after the window keeps their old place in the queue: forgotten
        # early, but handed to ``keep`` like any young entry, so never lost.
        self._times[slot] = ts
        start = slot * _ID_BYTES
        self._ids[start : start + _ID_BYTES] = click_id.encode("ascii")

    def _make_room(self, now: int) -> bool:
        """Forget the oldest until one more fits; ``False`` when nothing may be held."""
        limit = min(self.capacity, len(self._queue))
        while self._size >= limit > 0:
            self._forget_oldest(now)
        return limit > 0

    def _forget_oldest(self, now: int) -> None:
        queue = self._queue
        key = queue[self._head]
        self._head = (self._head + 1) % len(queue)
        self._size -= 1
        slot = self._slot(key)
        click_id = self._click_id(slot)
        first = self._times[slot]
        self._remove(slot)
        self._forget(key, click_id, first, now)

    def _forget(self, key: int, click_id: str, first: int, now: int) -> None:
        if first + WINDOW_MS > now:
            self._forgot_young_until = max(self._forgot_young_until, first + WINDOW_MS)
            if self.keep is not None:
                self.keep((key, click_id, first))

    def _remove(self, hole: int) -> None:
        """Empty a slot, moving back the later entries of its cluster that may fill it."""
        keys, times, ids, mask = self._keys, self._times, self._ids, self._mask
        slot = hole
        while True:
            slot = (slot + 1) & mask
            key = keys[slot]
            if key == _EMPTY:
                break
            home = key & mask
            # The entry may move to the hole unless its home lies cyclically in (hole, slot].
            if (home <= hole < slot) or (slot < home <= hole) or (hole < slot < home):
                keys[hole] = key
                times[hole] = times[slot]
                ids[hole * _ID_BYTES : (hole + 1) * _ID_BYTES] = ids[
                    slot * _ID_BYTES : (slot + 1) * _ID_BYTES
                ]
                hole = slot
        keys[hole] = _EMPTY

    def start(self, young_until: int) -> None:
        """Clicks stored before this process may be repeated until ``young_until`` (ms)."""
        self._forgot_young_until = young_until

    def complete(self, now_ms: int) -> bool:
        """Whether a miss proves that the visitor has no click within the window."""
        return now_ms >= self._forgot_young_until

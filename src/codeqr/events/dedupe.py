"""Memory of recent visitors for the one-hour click dedupe, bounded in size.

Memory answers most repeats at once. When it has had to forget a visitor younger than the
window (more distinct visitors in an hour than its capacity, or a restart), a miss is no
longer proof of a new visitor, and the writer asks the events store in the same transaction
as the insert. A store that keeps its own table of recent visitors (SQLite) is handed each
young entry memory forgets (``keep``), and says at start-up until when clicks stored before
the restart can still be repeated (``start``).

Entries are small on purpose (about 175 bytes: an int key, one string, a queue slot): the
default 196,608 visitors take about 34 MB.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_MS = 3_600_000

Forgotten = tuple[int, str, int]
"""``(visitor key, click id, first click time)`` of a visitor memory let go of."""


def visitor_key(identity: str, link_id: str) -> int:
    """One int for a visitor of a link, stable within this process (Python's hash: a 64-bit
    SipHash of both strings; two visitors sharing one is a chance of about 1 in 2^64/N)."""
    return hash((identity, link_id))


class RecentVisitors:
    """``visitor key → (click id, first click time)`` for the last hour, oldest out first."""

    def __init__(
        self,
        capacity: int = 196_608,
        keep: Callable[[Forgotten], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self.keep = keep
        """Where a young entry goes when memory forgets it."""
        self._entries: dict[int, str] = {}
        """Key → ``"<first click ms> <click id>"`` (one string instead of a tuple of two)."""
        self._order: deque[int] = deque()
        """Keys in the order they first came: the oldest first click is forgotten first."""
        # Until the window has passed since start, clicks stored before a restart may exist
        # that memory never saw (``start`` narrows this down).
        self._forgot_young_until = int(time.time() * 1000) + WINDOW_MS

    def get(self, identity: str, link_id: str, now_ms: int) -> str | None:
        """The click id to reuse, or ``None``."""
        entry = self._entries.get(visitor_key(identity, link_id))
        if entry is None:
            return None
        ts, _, click_id = entry.partition(" ")
        if now_ms - int(ts) >= WINDOW_MS:
            return None
        return click_id

    def remember(self, identity: str, link_id: str, click_id: str, ts: int) -> None:
        """Note a visitor's click; forget the oldest past capacity."""
        key = visitor_key(identity, link_id)
        entries = self._entries
        if key not in entries:
            self._order.append(key)
        # A visitor back after the window keeps their old place in the queue: forgotten
        # early, but handed to ``keep`` like any young entry, so never lost.
        entries[key] = f"{ts} {click_id}"
        while len(self._order) > self.capacity:
            old = self._order.popleft()
            old_ts, _, old_click = entries.pop(old).partition(" ")
            first = int(old_ts)
            if first + WINDOW_MS > ts:
                self._forgot_young_until = max(self._forgot_young_until, first + WINDOW_MS)
                if self.keep is not None:
                    self.keep((old, old_click, first))

    def start(self, young_until: int) -> None:
        """Clicks stored before this process may be repeated until ``young_until`` (ms)."""
        self._forgot_young_until = young_until

    def complete(self, now_ms: int) -> bool:
        """Whether a miss proves that the visitor has no click within the window."""
        return now_ms >= self._forgot_young_until

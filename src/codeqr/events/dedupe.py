"""Memory of recent visitors for the one-hour click dedupe, bounded in size.

Memory answers most repeats at once. When it has had to forget a visitor younger than the
window (a burst of distinct visitors larger than its capacity, or a restart), a miss is no
longer proof of a new visitor, and the writer asks the events store in the same transaction
as the insert.
"""

from __future__ import annotations

import time
from collections import OrderedDict

WINDOW_MS = 3_600_000


class RecentVisitors:
    """``(identity hash, link id) → (click id, first click time)`` for the last hour."""

    def __init__(self, capacity: int = 65_536) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        # Until the window has passed since start, clicks stored before a restart may exist
        # that memory never saw.
        self._forgot_young_until = int(time.time() * 1000) + WINDOW_MS

    def get(self, identity: str, link_id: str, now_ms: int) -> str | None:
        """The click id to reuse, or ``None``."""
        entry = self._entries.get((identity, link_id))
        if entry is None:
            return None
        click_id, ts = entry
        if now_ms - ts >= WINDOW_MS:
            return None
        return click_id

    def remember(self, identity: str, link_id: str, click_id: str, ts: int) -> None:
        """Note a visitor's click; forget the oldest past capacity."""
        entries = self._entries
        entries[(identity, link_id)] = (click_id, ts)
        entries.move_to_end((identity, link_id))
        while len(entries) > self.capacity:
            _, (_, old_ts) = entries.popitem(last=False)
            self._forgot_young_until = max(self._forgot_young_until, old_ts + WINDOW_MS)

    def complete(self, now_ms: int) -> bool:
        """Whether a miss proves that the visitor has no click within the window."""
        return now_ms >= self._forgot_young_until

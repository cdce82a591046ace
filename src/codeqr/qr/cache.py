"""Rendered QR images kept by key, least recently used first out, bounded in bytes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

ENTRY_OVERHEAD = 256
"""Bytes counted per entry besides its body: the key, the record, the dict slot."""


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    size: int
    expires: float | None


class RenderCache(Generic[T]):
    """An LRU of values whose size in bytes is known, ``max_bytes`` in all.

    Not thread-safe: the QR service uses it from the event loop only.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        max_entry_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.bytes = 0
        self.clock = clock
        self._entries: OrderedDict[bytes, _Entry[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> T | None:
        """The value kept under ``key``, now the most recently used; ``None`` if none (or stale)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires is not None and entry.expires <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: bytes, value: T, size: int, *, ttl: float | None = None) -> None:
        """Keep ``value`` (``size`` bytes) for ``ttl`` seconds or until pushed out.

        A value larger than ``max_entry_bytes`` is not kept: one would push out many.
        """
        if key in self._entries:
            self._drop(key)
        size += ENTRY_OVERHEAD
        if size > self.max_entry_bytes:
            return
        expires = None if ttl is None else self.clock() + ttl
        self._entries[key] = _Entry(value, size, expires)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: bytes) -> None:
        self.bytes -= self._entries.pop(key).size

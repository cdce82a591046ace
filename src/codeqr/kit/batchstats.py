"""What a group-commit writer has done, as plain numbers read at scrape time (``/metrics``).

Updated once per batch, never per request, and without a metrics library: a few additions
and a clock read, where a Prometheus histogram's ``observe`` takes a lock.
"""

from __future__ import annotations

from bisect import bisect_left
from time import perf_counter

SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds of the batch-duration histogram (a last bucket holds the rest)."""


class BatchStats:
    """Batches written, their sizes and durations, and what became of their items."""

    __slots__ = (
        "_started",
        "batches",
        "buckets",
        "failed",
        "items",
        "repeats",
        "seconds",
        "written",
    )

    def __init__(self) -> None:
        self.batches = 0
        self.items = 0
        """Items handed to the writer in those batches (their sizes summed)."""
        self.written = 0
        """Items stored."""
        self.repeats = 0
        """Items found already stored (a repeat click of the hour) and not stored again."""
        self.failed = 0
        """Items of batches whose write failed."""
        self.seconds = 0.0
        self.buckets = [0] * (len(SECONDS_BUCKETS) + 1)
        """Batches by duration: ``buckets[i]`` took at most ``SECONDS_BUCKETS[i]``."""
        self._started = 0.0

    def start(self) -> None:
        """A batch starts (one at a time per writer)."""
        self._started = perf_counter()

    def finish(self, size: int, repeats: int, ok: bool) -> None:
        """The batch started last is over: ``size`` items, ``repeats`` of them not stored
        again; all of them lost when not ``ok``."""
        took = perf_counter() - self._started
        self.batches += 1
        self.items += size
        self.seconds += took
        self.buckets[bisect_left(SECONDS_BUCKETS, took)] += 1
        if ok:
            self.written += size - repeats
            self.repeats += repeats
        else:
            self.failed += size

"""Background work that takes only the CPU the serving event loop leaves.

Threads of one Python process share one interpreter lock: a delivery thread running flat
out takes about half of the time of the event loop that answers redirects, whatever the OS
priorities. So, between two pieces of its work, the delivery worker looks at the loop:

- how much CPU the loop's thread used lately (its own CPU clock, ``pthread_getcpuclockid``);
- how long a callback handed to the loop waits before it runs (a loop with requests queued
  runs it after them; an idle one at once). This one still tells a busy loop from an idle
  one when other processes take the same core, and the loop's CPU share drops for it;
- how many clicks a second the click writer stored (``writer``): past ``clicks_above``
  (1,000/s) redirects come first. This one also sees redirects that wait for the database's
  write lock, which the worker's own transactions take and no CPU figure shows.

While any of them says "busy", the worker rests after each piece long enough to keep its
share of the time to ``floor`` (2%: deliveries still trickle out, and catch up once the
burst is over); otherwise it does not rest. Where none can be read, it never rests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable


class Pacer:
    """How long background work should rest after each piece (see the module docstring)."""

    def __init__(
        self,
        *,
        floor: float = 0.02,
        idle_below: float = 0.5,
        lag_above: float = 0.0003,
        clicks_above: float = 1_000.0,
        window: float = 0.25,
        writer: Callable[[], int] | None = None,
    ) -> None:
        self.floor = floor
        """The share of the time background work keeps when the loop is saturated."""
        self.idle_below = idle_below
        """A loop busy less than this share of the time leaves background work unpaced."""
        self.lag_above = lag_above
        """A callback that waits longer than this (seconds) for the loop: the loop is busy."""
        self.clicks_above = clicks_above
        """Clicks a second above which redirects come first."""
        self.writer = writer
        """Clicks the click writer has handed to the database so far."""
        self._written = 0
        self.clicks = 0.0
        """Clicks a second over the last window."""
        self.window = window
        self.lag = 0.0
        """How long the last probe waited for the loop."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: int | None = None
        self._since = (0.0, 0.0)
        self._share = 1.0
        self.busy = 0.0
        """The loop's share of the last window it was measured over."""

    def watch(self, thread_ident: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Pace against this thread and its loop (called on the loop's thread)."""
        self._loop = loop
        self._clock = None
        with contextlib.suppress(AttributeError, OSError):
            self._clock = time.pthread_getcpuclockid(thread_ident)
        self._since = (time.monotonic(), self._cpu())
        if self.writer is not None:
            self._written = self.writer()

    def _cpu(self) -> float:
        if self._clock is None:
            return 0.0
        try:
            return time.clock_gettime(self._clock)
        except OSError:  # the thread is gone
            self._clock = None
            return 0.0

    def share(self) -> float:
        """The share of the time background work may take now (call it between pieces of
        work: the probe must not wait behind this worker's own threads)."""
        if self._clock is None and self._loop is None and self.writer is None:
            return 1.0
        now = time.monotonic()
        start, cpu_then = self._since
        if now - start >= self.window:
            cpu = self._cpu()
            self.busy = max(0.0, (cpu - cpu_then) / (now - start))
            if self.writer is not None:
                written, then = self.writer(), self._written
                self._written = written
                self.clicks = (written - then) / (now - start)
            self.lag = min(self._probe(), self._probe())  # one late wake-up is not load
            self._since = (time.monotonic(), self._cpu())
            busy = (
                self.busy >= self.idle_below
                or self.lag > self.lag_above
                or self.clicks > self.clicks_above
            )
            self._share = self.floor if busy else 1.0
        return self._share

    def _probe(self) -> float:
        """Seconds a callback handed to the loop waited to run (at most 0.1)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return 0.0
        ran = threading.Event()
        began = time.perf_counter()
        try:
            loop.call_soon_threadsafe(ran.set)
        except RuntimeError:  # closed meanwhile
            return 0.0
        ran.wait(0.1)
        return time.perf_counter() - began

    def rest_after(self, worked: float) -> float:
        """Seconds to rest after a piece of work that took ``worked`` seconds."""
        share = self.share()
        if share >= 1.0:
            return 0.0
        return worked * (1.0 / share - 1.0)

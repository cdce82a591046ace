"""Background work that takes only the CPU the serving event loop leaves.

Threads of one Python process share one interpreter lock: a delivery thread running flat
out takes about half of the time of the event loop that answers redirects, whatever the OS
priorities. So the delivery worker measures how busy the loop thread was lately (its own
CPU clock, ``pthread_getcpuclockid``) and, after each piece of work, rests long enough to
keep its share of the time small while the loop is busy (``floor``, 5%: deliveries still
trickle out, and catch up once the burst is over), and does not rest while the loop is
mostly idle. Where a thread's CPU clock cannot be read, it never rests.
"""

from __future__ import annotations

import contextlib
import time


class Pacer:
    """How long background work should rest after each piece (see the module docstring)."""

    def __init__(
        self, *, floor: float = 0.05, idle_below: float = 0.5, window: float = 0.25
    ) -> None:
        self.floor = floor
        """The share of the time background work keeps when the loop is saturated."""
        self.idle_below = idle_below
        """A loop busy less than this share of the time leaves background work unpaced."""
        self.window = window
        self._clock: int | None = None
        self._since = (0.0, 0.0)
        self._share = 1.0
        self.busy = 0.0
        """The loop's share of the last window it was measured over."""

    def watch(self, thread_ident: int) -> None:
        """Pace against this thread (the event loop's, from its own thread)."""
        self._clock = None
        with contextlib.suppress(AttributeError, OSError):
            self._clock = time.pthread_getcpuclockid(thread_ident)
        self._since = (time.monotonic(), self._cpu())

    def _cpu(self) -> float:
        if self._clock is None:
            return 0.0
        try:
            return time.clock_gettime(self._clock)
        except OSError:  # the thread is gone
            self._clock = None
            return 0.0

    def share(self) -> float:
        """The share of the time background work may take now."""
        if self._clock is None:
            return 1.0
        now = time.monotonic()
        start, cpu_then = self._since
        if now - start >= self.window:
            cpu = self._cpu()
            self.busy = max(0.0, (cpu - cpu_then) / (now - start))
            self._since = (now, cpu)
            self._share = 1.0 if self.busy < self.idle_below else self.floor
        return self._share

    def rest_after(self, worked: float) -> float:
        """Seconds to rest after a piece of work that took ``worked`` seconds."""
        share = self.share()
        if share >= 1.0:
            return 0.0
        return worked * (1.0 / share - 1.0)

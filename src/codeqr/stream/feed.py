"""The live feed of one app process: new events read from the events tables, fanned out to the
open streams of their workspace.

The tables are the source of truth, so every process sees the events of every other process
sharing its database (scale-out) with no broker in between. One poller per process runs
while at least one stream is open, and not at all otherwise. Each poll reads the ids stored
in the last few seconds (``overlap_ms``): ids are minted just before their row commits, and
rows of other processes (or of a slow transaction) can commit in a different order than
their ids; a row is sent once, when its id first shows up in that window.

A write of this process wakes the poller at once (``nudge``); rows written elsewhere arrive
at the next tick (``interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import anyio.to_thread
import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session

from codeqr.analytics.event_list import EventType
from codeqr.kit.clock import now_ms
from codeqr.kit.db import Database
from codeqr.kit.ids import click_id
from codeqr.kit.tasks import cancel_and_wait
from codeqr.stream import repository as repo

log = structlog.get_logger(__name__)


class Frame(NamedTuple):
    """One event as a complete Server-Sent Events message."""

    id: str
    data: bytes


Rows = list[tuple[EventType, dict[str, Any]]]
Shaper = Callable[[Session, str, Rows], list[Frame]]
"""Turns stored rows of one workspace into frames, in the caller's session."""


class Subscription:
    """One open stream: the frames waiting for it, at most ``limit`` of them."""

    def __init__(self, workspace_id: str, limit: int, holder: str = "") -> None:
        self.workspace_id = workspace_id
        self.limit = limit
        self.holder = holder
        """Who opened it (an API key or a dashboard sign-in), for the per-holder cap."""
        self.ended: str | None = None
        """Why the stream must end: ``shutdown``, ``overflow`` or ``revoked``."""
        self._frames: deque[Frame] = deque()
        self._ready = asyncio.Event()

    def push(self, frames: Sequence[Frame]) -> None:
        """Queue frames; a client that lets more than ``limit`` pile up is cut off (it comes
        back with ``Last-Event-ID``) rather than growing this process's memory."""
        if self.ended is not None:
            return
        self._frames.extend(frames)
        if len(self._frames) > self.limit:
            self._frames.clear()
            self.end("overflow")
        self._ready.set()

    def end(self, reason: str) -> None:
        """Make ``next`` return ``None`` from now on."""
        if self.ended is None:
            self.ended = reason
        self._ready.set()

    async def next(self, timeout: float) -> list[Frame] | None:
        """The frames queued so far (an empty list after ``timeout`` seconds of quiet), or
        ``None`` once the stream has ended."""
        if not self._frames and self.ended is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        if self.ended is not None:
            return None
        frames = list(self._frames)
        self._frames.clear()
        return frames


class Feed:
    """Subscriptions by workspace and the poller that feeds them."""

    def __init__(
        self,
        db: Database,
        shaper: Shaper,
        *,
        interval: float = 0.2,
        overlap_ms: int = 3000,
        limit: int = 1000,
    ) -> None:
        self.db = db
        self.shaper = shaper
        self.interval = interval
        self.overlap_ms = overlap_ms
        self.limit = limit
        self._subs: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wake = asyncio.Event()
        self._armed = asyncio.Event()
        self._seen: dict[EventType, set[str]] = {}
        self._nudged = False
        self._closed = False
        self._listening = False
        self._byte_order: bool | None = None
        self.announce: Callable[[], None] | None = None
        """Told of every write of this process, streams open or not (scale-out fan-out)."""

    @property
    def polling(self) -> bool:
        """Whether the poller runs (only while a stream is open)."""
        return self._task is not None

    @property
    def byte_order(self) -> bool:
        """Whether ids compare byte by byte in the database (see ``repository``)."""
        if self._byte_order is None:
            with self.db.engine.connect() as conn:
                self._byte_order = repo.byte_order(conn)
        return self._byte_order

    @property
    def open_count(self) -> int:
        """Streams open in this process, all workspaces together (``/metrics``)."""
        return sum(len(subs) for subs in self._subs.values())

    def open_streams(self, workspace_id: str, holder: str) -> tuple[int, int]:
        """``(of this holder, of the whole workspace)``: the streams open in this process."""
        subs = self._subs.get(workspace_id, ())
        return sum(1 for sub in subs if sub.holder == holder), len(subs)

    async def subscribe(
        self, workspace_id: str, holder: str = "", admit: Callable[[int, int], None] | None = None
    ) -> Subscription | None:
        """A new subscription, returned once every event stored from now on will reach it;
        ``None`` when the app is shutting down.

        ``admit`` sees ``open_streams`` first and may raise to refuse; nothing is awaited
        between that count and the registration, so concurrent opens cannot both pass.
        """
        if self._closed:
            return None
        if admit is not None:
            admit(*self.open_streams(workspace_id, holder))
        sub = Subscription(workspace_id, self.limit, holder)
        self._subs.setdefault(workspace_id, set()).add(sub)
        try:
            if self._task is None:
                self._start()
            await self._armed.wait()
        except BaseException:
            self.unsubscribe(sub)
            raise
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription; the poller stops with the last one."""
        subs = self._subs.get(sub.workspace_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.workspace_id]
        if not self._subs:
            self._wake.set()

    def nudge(self) -> None:
        """Poll now rather than at the next tick (this process just stored events). Cheap
        and thread-safe; nothing else happens while no stream is open."""
        if self.announce is not None:
            self.announce()
        loop = self._loop
        if self._task is None or self._nudged or loop is None:
            return
        self._nudged = True
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is gone
            loop.call_soon_threadsafe(self._wake.set)

    def close(self) -> None:
        """End every open stream and refuse new ones (the server is shutting down)."""
        self._closed = True
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.end("shutdown")
        self._wake.set()
        self._armed.set()  # streams still opening return at once, already ended

    async def aclose(self) -> None:
        """``close``, then wait for the poller to stop."""
        self.close()
        if self._task is not None:
            await cancel_and_wait([self._task])

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._armed = asyncio.Event()
        self._seen = {}
        self.watch_commits()
        self._task = self._loop.create_task(self._run(), name="codeqr.stream.poller")

    def watch_commits(self) -> None:
        """Hear every commit of this process: SQLAlchemy's commit hook fires on each (track
        calls, Stripe webhooks, the API); the click writer's raw connections call ``nudge``
        themselves. Hooked once, with the first stream (or at start in scale-out, where
        other processes may be watching): no cost before that."""
        if not self._listening:
            event.listen(self.db.engine, "commit", self._on_commit)
            self._listening = True

    def _on_commit(self, _conn: Any) -> None:
        self.nudge()

    async def _run(self) -> None:
        failures = 0
        try:
            while self._subs and not self._closed:
                started = time.monotonic()
                try:
                    await self._poll(deliver=self._armed.is_set())
                    self._armed.set()
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("stream.poll_failed", failures=failures)
                    await asyncio.sleep(min(5.0, self.interval * 2**failures))
                    continue
                # Under a steady write load every commit nudges: poll at most a fifth of
                # the time, and at least once per interval.
                spent = time.monotonic() - started
                await asyncio.sleep(min(max(0.02, 4 * spent), self.interval))
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                    # A commit hook fires just before the commit itself, on another thread:
                    # give it a moment to land (else it waits for the next tick).
                    await asyncio.sleep(0.005)
                except TimeoutError:
                    pass
                self._wake.clear()
                self._nudged = False
        finally:
            # No await between the last check of ``_subs`` and here: a stream opened from
            # now on starts a new poller.
            self._task = None
            self._seen = {}

    async def _poll(self, *, deliver: bool) -> None:
        workspaces = set(self._subs) if deliver else set()
        low = click_id(now_ms() - self.overlap_ms)[:7]
        found = await anyio.to_thread.run_sync(self._read, low, workspaces)
        for workspace_id, frames in found.items():
            for sub in list(self._subs.get(workspace_id, ())):
                sub.push(frames)

    def _read(self, low: str, workspaces: set[str]) -> dict[str, list[Frame]]:
        """New rows of the watched workspaces, shaped (runs on a worker thread)."""
        plain = self.byte_order
        fresh: dict[str, Rows] = {}
        seen: dict[EventType, set[str]] = {}
        with self.db.engine.connect() as conn:
            for kind in repo.TABLES:
                known = self._seen.get(kind, set())
                window = repo.ids_since(conn, kind, low, plain=plain)
                # The next window starts no earlier than this one: its ids are all we need
                # to remember (a set that stays as small as a few seconds of events).
                seen[kind] = {id_ for id_, _ in window}
                wanted = [id_ for id_, ws in window if ws in workspaces and id_ not in known]
                for row in repo.rows_by_id(conn, kind, wanted):
                    fresh.setdefault(row["workspace_id"], []).append((kind, row))
        shaped: dict[str, list[Frame]] = {}
        if fresh:
            with self.db.session() as session:
                shaped = {ws: self.shaper(session, ws, rows) for ws, rows in fresh.items()}
        self._seen = seen  # only now: a failed poll is read again in full
        return shaped

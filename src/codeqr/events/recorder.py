"""Click capture with group commit: every redirect waits until its click is on disk.

A redirect hands its click to ``ClickRecorder.record`` and awaits it. Clicks that arrive while
a write is in progress wait together and go out in the next single transaction, so the cost of
a commit is shared by every request in flight. Only when ``record`` returns is the 302 sent;
a crash after that point cannot lose the click (SPEC §3.3, durability).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import structlog

from codeqr.events.enrich import GeoLocator, parse_agent, truncate_ip
from codeqr.events.store import Click, EventsStore
from codeqr.kit.batchstats import BatchStats
from codeqr.kit.db import WriteGate
from codeqr.kit.records import new_record

log = structlog.get_logger(__name__)


_GATHER_TURNS = 4
"""Most turns of the event loop a batch waits for more clicks before it is written."""


class RawClick(NamedTuple):
    """What the redirect knows at request time, before enrichment (``ClickRecorder.enrich``).

    Built with ``kit.records.new_record`` on the hot path.
    """

    id: str
    timestamp: int
    workspace_id: str
    link_id: str
    domain: str
    key: str
    url: str
    trigger: str
    user_agent: str
    ip: str | None
    header_country: str | None
    referer_url: str
    identity_hash: str


_Pending = tuple[Click | RawClick, int | None, asyncio.Future[tuple[str, int]]]
"""A click waiting for its batch, its dedupe check (``record``) and its future."""


def referer_host(referer_url: str) -> str:
    """The host of a referer URL, ``(direct)`` when there is none."""
    if not referer_url:
        return "(direct)"
    rest = referer_url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    host = host.split(":", 1)[0].lower()
    return host.removeprefix("www.")[:255] or "(direct)"


class ClickRecorder:
    """Batches clicks into one durable transaction at a time (group commit)."""

    def __init__(
        self,
        store: EventsStore,
        geo: GeoLocator,
        *,
        keep_ip: bool = False,
        batch_max: int = 512,
        inline: WriteGate | None = None,
    ) -> None:
        self.store = store
        self.geo = geo
        self.keep_ip = keep_ip
        self.batch_max = batch_max
        self.inline = inline
        """Write on the event loop when this gate is free (SQLite without fsync)."""
        self._pending: list[_Pending] = []
        """Clicks waiting for their batch: enriched already unless written on the loop."""
        self._adopted: set[str] = set()
        """Ids of pending clicks handed out by another process (``record``'s ``adopted``)."""
        self._earning: set[str] = set()
        """Ids of pending clicks on partner links (``earns``), which may earn a click reward."""
        self._writing = False
        self._arrived = False
        """Whether a click came since the last turn of ``_gather``."""
        self._turns = 0
        # One thread: SQLite has one writer anyway, and one writer keeps batches in order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="click-writer")
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_stored: Callable[[], None] | None = None
        """Called on the loop after each stored batch (wakes the events stream's poller)."""
        self.stats = BatchStats()
        """Batches, clicks written, batch durations (``/metrics``)."""

    def record(
        self, raw: RawClick, *, check_since: int | None = None, adopted: bool = False
    ) -> asyncio.Future[tuple[str, int]]:
        """A future that resolves once ``raw`` is stored durably, or fails if it could not be.

        With ``check_since``, a click of the same visitor on the same link since that time is
        looked for in the same transaction, and if one exists its ``(id, timestamp)`` is the
        result and nothing is stored. Otherwise ``raw``'s own id and time are.

        ``adopted`` (with ``check_since``): ``raw``'s id was handed out by another process,
        which may have died before storing it, or be storing it now; it is stored unless a
        click with that id already is (the id is never stored twice, nor counted twice).

        A plain method handing out the future, not a coroutine: awaiting the future directly
        saves a coroutine frame on every click.

        With a writer thread (PostgreSQL) the click is enriched here, on the event loop, as it
        comes in: the writer's turn is the critical path of every click in its batch (the
        next batch waits for it), while the loop has idle moments when the writer waits on
        the database. Measured on PostgreSQL + Redis, 64 connections, alternating runs of
        the two versions: 1.08x the redirects a second (every one of six pairs faster).
        Writing on the loop (SQLite), the batch enriches its clicks together when it starts,
        as before: there, enriching each click as it came measured 0.96x (medians of 6 and 8
        pairs), the parser's tables colder between requests than in one run of 30.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, int]] = loop.create_future()
        click = raw if self.inline is not None else self.enrich(raw)
        self._pending.append((click, check_since, future))
        if adopted:
            self._adopted.add(raw.id)
        self._arrived = True
        if not self._writing:
            self._writing = True
            self._idle.clear()
            self._turns = 0
            loop.call_soon(self._gather, loop)
        return future

    def earns(self, click_id: str) -> None:
        """Mark the click about to be recorded as one on a partner's link: its batch looks
        for a click reward (``commission.clicks``). Clicks on plain links cost nothing."""
        self._earning.add(click_id)

    def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the batch once a turn of the loop brought no new click, or after
        ``_GATHER_TURNS`` turns.

        Under load the requests of one wave reach the loop over a few turns; a click that
        misses its wave's batch waits for the next one, which is what p99 is made of. A
        commit costs about the same for 30 clicks as for 60 (it rewrites the same few pages).
        Alone, a click waits two short turns (microseconds). Measured in alternating runs at
        64 connections: 5-27% more redirects a second and a lower p99 than starting after
        two turns whatever came.
        """
        self._turns += 1
        if self._arrived and self._turns < _GATHER_TURNS and len(self._pending) < self.batch_max:
            self._arrived = False
            loop.call_soon(self._gather, loop)
            return
        self._start_batch(loop)

    def _start_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stats.start()
        batch = self._pending[: self.batch_max]
        del self._pending[: self.batch_max]
        clicks = [(click, check_since) for click, check_since, _ in batch]
        adopted: frozenset[str] = frozenset()
        if self._adopted:
            adopted = frozenset(click.id for click, _ in clicks if click.id in self._adopted)
            self._adopted -= adopted
        earning: frozenset[str] = frozenset()
        if self._earning:
            earning = frozenset(click.id for click, _ in clicks if click.id in self._earning)
            self._earning -= earning
        if self.inline is not None:
            # SQLite in WAL mode commits in well under a millisecond without fsync: doing it
            # on the event loop avoids two thread hand-offs and GIL contention per batch.
            # Only when no other writer holds the database: the loop must never wait for
            # one, since that writer may need the loop to reach its commit.
            with self.inline.held(blocking=False) as free:
                if free:
                    done: asyncio.Future[tuple[list[Click], dict[str, tuple[str, int]]]]
                    done = loop.create_future()
                    try:
                        done.set_result(self._write(clicks, adopted, earning))
                    except Exception as exc:
                        done.set_exception(exc)
            if free:
                self._finish(loop, batch, done)
                return
        task = loop.run_in_executor(self._executor, self._write, clicks, adopted, earning)
        task.add_done_callback(lambda done: self._finish(loop, batch, done))

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Pending],
        done: asyncio.Future[tuple[list[Click], dict[str, tuple[str, int]]]],
    ) -> None:
        error = done.exception()
        repeats = {} if error is not None else done.result()[1]
        self.stats.finish(len(batch), len(repeats), error is None)
        for click, _, future in batch:
            if future.done():
                continue
            if error is None:
                future.set_result(repeats.get(click.id, (click.id, click.timestamp)))
            else:
                future.set_exception(error)
        if error is not None:
            log.error("redirect.click.write_failed", error=repr(error), clicks=len(batch))
        elif self.on_stored is not None:
            self.on_stored()
        if self._pending:
            self._start_batch(loop)
        else:
            self._writing = False
            self._idle.set()

    def enrich(self, raw: RawClick) -> Click:
        """The stored form of a click: user agent, place and referer worked out."""
        agent = parse_agent(raw.user_agent)
        place = self.geo.locate(raw.ip, raw.header_country)
        # Positional, in column order, and without the NamedTuple's own __new__ (a Python
        # frame, ~0.5 µs): this runs once per click on the hot path.
        return new_record(
            Click,
            (
                raw.id,
                raw.timestamp,
                raw.workspace_id,
                raw.link_id,
                raw.domain,
                raw.key,
                raw.url,
                raw.trigger,
                place.country,
                place.region,
                place.city,
                place.continent,
                agent.device,
                agent.browser,
                agent.browser_version,
                agent.os,
                agent.os_version,
                agent.engine,
                raw.user_agent[:1024],
                referer_host(raw.referer_url),
                raw.referer_url[:2048],
                raw.identity_hash,
                truncate_ip(raw.ip) if self.keep_ip else None,
            ),
        )

    def _write(
        self,
        checked: list[tuple[Click | RawClick, int | None]],
        adopted: frozenset[str],
        earning: frozenset[str] = frozenset(),
    ) -> tuple[list[Click], dict[str, tuple[str, int]]]:
        clicks = [c if isinstance(c, Click) else self.enrich(c) for c, _ in checked]
        checks = [since for _, since in checked if since is not None]
        if not checks:
            self.store.write_clicks(clicks, earning)
            return clicks, {}
        repeats = self.store.write_clicks_once(clicks, min(checks), adopted, earning)
        return [c for c in clicks if c.id not in repeats], repeats

    async def drain(self) -> None:
        """Wait until every click handed in so far is written."""
        await self._idle.wait()

    def close(self) -> None:
        """Stop the writer thread (after ``drain``)."""
        self._executor.shutdown(wait=True)

"""The events store on the relational database (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import chain
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from codeqr.commission.clicks import ClickEarnings
from codeqr.events.dedupe import WINDOW_MS, Forgotten, visitor_key
from codeqr.events.models import click_events
from codeqr.events.outbox import Changed
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms
from codeqr.kit.db import Database
from codeqr.kit.ids import click_id as time_ordered_id

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

_CLICK_COLUMNS = list(Click._fields)
_FINISH_BELOW = 256
"""Frames left in the log below which a checkpoint pass holds writers off to copy them all."""
_CHECKPOINT_NICE = 0
_PRUNE_EVERY_MS = 60_000
"""How often the table of recent visitors drops the ones older than the dedupe window."""
_ROWS_PER_INSERT = 64
"""Clicks per multi-row INSERT on SQLite. One statement that binds a whole batch takes about
a quarter less time a click than ``executemany`` (a statement step per row), and capping the
rows keeps the distinct statements few enough for the connection's statement cache."""

# The one-hour dedupe's fallback on SQLite. An index on click_events.identity_hash would put
# every click at a random place in a large B-tree, writing a log page per click; this table
# lives in the writer connection's temporary database instead (no log, no fsync, gone with
# the process). It holds what process memory cannot: the last hour's visitors as of start-up,
# and the young visitors memory has since forgotten (``RecentVisitors.keep``).
_EARLIER_CLICKS = (
    "SELECT identity_hash, link_id, id, timestamp FROM click_events "
    "WHERE identity_hash IN ({marks}) AND timestamp >= {mark} ORDER BY timestamp"
)
_EARLIER_VISITORS = (
    "SELECT visitor, click_id, ts FROM temp.recent_visitors WHERE visitor IN ({marks}) "
    "AND ts >= {mark}"
)
_RECENT_VISITORS = (
    # Keyed by ``dedupe.visitor_key``, as process memory is: small rows, integer compares.
    "CREATE TEMP TABLE recent_visitors ("
    "visitor INTEGER PRIMARY KEY, click_id TEXT NOT NULL, ts INTEGER NOT NULL)",
    "CREATE INDEX temp.recent_visitors_ts ON recent_visitors (ts)",
)


class _Flusher:
    """File descriptors of the database and its log, kept open to fsync them.

    They stay open until every SQLite connection of the process to the file is closed:
    closing any descriptor of a file drops all of the process's POSIX locks on it, SQLite's
    included. Another process (a CLI command, a backup) could then think it is the last
    connection, checkpoint and reset the log under this one, and corrupt the database.
    """

    def __init__(self, path: str) -> None:
        self.fds: list[int] = []
        for name in (path, path + "-wal"):
            with contextlib.suppress(OSError):
                self.fds.append(os.open(name, os.O_RDONLY))

    def fsync(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.fsync(fd)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


class SqlEventsStore:
    """Events in the same database as links, so a click and its counter commit together.

    Writes go through the DB-API directly (one statement per batch, no ORM): this is the
    click path. On SQLite they use one dedicated connection, owned by the click writer; a
    background thread keeps the write-ahead log short (see ``_checkpoint_loop``), and the
    dedupe's fallback reads the writer's own table of recent visitors (``_RECENT_VISITORS``).
    """

    def __init__(self, db: Database, *, checkpoint_every: float = 0.25) -> None:
        self.db = db
        placeholder = self._mark = "?" if db.is_sqlite else "%s"
        cols = ", ".join(f'"{c}"' for c in _CLICK_COLUMNS)
        marks = ", ".join(placeholder for _ in _CLICK_COLUMNS)
        self._insert_clicks = f"INSERT INTO click_events ({cols}) VALUES ({marks})"
        fields = ", ".join(
            f"(r->>{i})::bigint" if c == "timestamp" else f"r->>{i}"
            for i, c in enumerate(_CLICK_COLUMNS)
        )
        self._insert_json = (
            f"INSERT INTO click_events ({cols}) SELECT {fields} "
            "FROM jsonb_array_elements(%s::jsonb) AS r"
        )
        """A batch's rows as one JSON parameter (PostgreSQL), a click an array in column
        order: psycopg's ``executemany`` adapts and sends each row as a statement of its own,
        ~1.7 ms of the writer's CPU for 32 clicks on this VM against ~0.4 ms for one
        ``json.dumps`` and one statement. Arrays rather than objects keyed by column: the
        tuples dump as they are (1.7 µs a click against 4.5 µs), and PostgreSQL reads them in
        ~10% less time (``jsonb``: ``->>`` of a ``json`` value parses it again each time)."""
        self._insert_rows: dict[int, str] = {}
        """Multi-row INSERTs by row count (SQLite)."""
        self._insert_unless_taken = self._insert_clicks + " ON CONFLICT (id) DO NOTHING"
        self._bump_link = (
            f"UPDATE links SET clicks = clicks + {placeholder}, "
            f"last_clicked = {placeholder} WHERE id = {placeholder}"
        )
        self._sqlite: sqlite3.Connection | None = None
        self._checkpoint_every = checkpoint_every
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._flusher: _Flusher | None = None
        self._forgotten: list[Forgotten] = []
        """Young visitors memory let go of, for the table of recent visitors (SQLite)."""
        self._pg: Any = None
        """The writer's own pooled connection on PostgreSQL, kept between batches."""
        self._pruned_at = 0
        self._note_clicks = (
            "INSERT INTO event_outbox (kind, ids, workspace_id, first_ms) "
            f"VALUES ('{Changed.clicks.value}', {placeholder}, NULL, {placeholder})"
            if db.events_outbox
            else None
        )
        """Notes each batch of clicks in the outbox for ClickHouse (``events.outbox``)."""
        self._earnings = ClickEarnings(sqlite=db.is_sqlite)
        """Click rewards of clicks on partner links (``earning`` below)."""
        self._note_webhook_clicks = (
            "INSERT INTO webhook_click_batches (click_ids, first_ms) "
            f"VALUES ({placeholder}, {placeholder})"
        )
        self.webhook_clicks: ClickWatch | None = None
        """Which stored clicks a ``link.clicked`` webhook may want (``webhook.clicks``):
        their ids are noted in the batch's transaction, for the delivery worker."""
        self.archive: Callable[[str], Click | None] | None = None
        """Where a click no longer kept here is looked up by id (ClickHouse, which keeps
        them once the dedupe window is over: ``events.shipping``)."""

    def _transaction(self, work: Callable[[Any], _T]) -> _T:
        """``work(cursor)`` in one write transaction: committed if it returns, rolled back if
        it raises.

        On PostgreSQL the writer keeps one connection for good, with no ping before each batch
        (the pool's ping was a round trip per batch, a fifth of the writer's time). A kept
        connection found dead (the server restarted, a proxy cut it) is replaced and the batch
        run once more on the new one: nothing of it was committed, or if its commit did land
        before the connection died, the second insert of the same click ids fails whole.
        """
        if self.db.is_sqlite:
            conn = self._sqlite_connection()
            with self.db.gate.held():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn.cursor())
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            self._start_checkpointer()
            return result
        for attempt in (1, 2):
            kept = self._pg
            raw = kept if kept is not None else self.db.engine.raw_connection()
            self._pg = raw
            try:
                result = work(raw.cursor())
                raw.commit()
            except BaseException as exc:
                if not _connection_lost(raw):
                    raw.rollback()
                    raise
                self._pg = None
                with contextlib.suppress(Exception):
                    raw.invalidate()
                if kept is None or attempt == 2 or not isinstance(exc, Exception):
                    raise
                log.warning("events.writer.reconnected", error=repr(exc))
            else:
                return result
        raise AssertionError("unreachable")

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            path = self.db.engine.url.database
            conn = sqlite3.connect(
                path or ":memory:",
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
                # Room for every multi-row INSERT size beside the dedupe's look-ups.
                cached_statements=256,
            )
            synchronous = "FULL" if self.db.fsync else "NORMAL"
            for pragma in (
                "journal_mode=WAL",
                f"synchronous={synchronous}",
                "busy_timeout=30000",
                "cache_size=-16384",
                "wal_autocheckpoint=0",
                "temp_store=FILE",
                "temp.journal_mode=MEMORY",
                "temp.cache_size=-2048",
            ):
                conn.execute(f"PRAGMA {pragma}")
            for statement in _RECENT_VISITORS:
                conn.execute(statement)
            self._sqlite = conn
        return self._sqlite

    def _start_checkpointer(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        # Copying pages competes with the event loop for the same core: let the loop win, so
        # a checkpoint fills idle moments instead of stalling redirects.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _CHECKPOINT_NICE)
        path = self.db.engine.url.database or ":memory:"
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._flusher = flusher = _Flusher(path)
        synchronous = "FULL" if self.db.fsync else "NORMAL"
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        try:
            while not self._stop.wait(self._checkpoint_every):
                # Each pass copies what the previous one left; passes shrink until only a
                # sliver is left. The log can start over only after a pass that copied every
                # frame, which a pass racing a stream of commits never does: the last one
                # holds writers off (the write gate) for the few frames left and the fsyncs.
                # Here, not on the event loop: while the gate is busy the click writer hands
                # its batch to its thread, and the loop goes on reading requests.
                for _ in range(5):
                    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames - copied <= _FINISH_BELOW:
                        # Passes that leave frames behind do not sync the database file;
                        # the finishing pass does, with every page copied so far. Flush
                        # them first, with writers still going, so that it finds little.
                        flusher.fsync()
                        with self.db.gate.held():
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        break
        finally:
            conn.close()

    def write_clicks(self, clicks: Sequence[Click], earning: Collection[str] = ()) -> None:
        """Insert the clicks and add them to their links' counters in one transaction."""
        if not clicks:
            return

        def write(cursor: Any) -> None:
            # Without click rewards to look up, the commit rides the rows' round trip.
            self._insert(cursor, clicks, commit=not earning)
            if earning:
                self._earn(cursor, clicks, earning)

        self._transaction(write)

    @property
    def keeps_visitors(self) -> bool:
        """Whether this store keeps a table of recent visitors (``keep_visitor``)."""
        return self.db.is_sqlite

    def keep_visitor(self, visitor: Forgotten) -> None:
        """Remember a young visitor that process memory forgets (SQLite only); it is in the
        table before the next write checks for repeats. Called on the event loop."""
        self._forgotten.append(visitor)

    def load_recent_visitors(self, now_ms: int) -> int:
        """Until when (ms) a click may repeat one stored before this process started.

        On SQLite the last hour's visitors are copied into the writer's table of recent
        visitors (read by the primary key, whose ids start with their time); PostgreSQL's
        ``click_events`` is asked directly, for an hour from start-up.
        """
        if not self.db.is_sqlite:
            return now_ms + WINDOW_MS
        since = now_ms - WINDOW_MS

        def load(cursor: Any) -> int | None:
            cursor.execute(
                "SELECT identity_hash, link_id, id, timestamp FROM main.click_events "
                "WHERE id >= ? AND timestamp >= ? ORDER BY timestamp",
                (time_ordered_id(since)[:7], since),
            )
            newest: int | None = None
            while rows := cursor.fetchmany(10_000):
                cursor.connection.executemany(
                    "INSERT OR IGNORE INTO temp.recent_visitors VALUES (?, ?, ?)",
                    [(visitor_key(ident, link), id_, ts) for ident, link, id_, ts in rows],
                )
                newest = int(rows[-1][3])
            return newest

        newest = self._transaction(load)
        return now_ms if newest is None else newest + WINDOW_MS

    def write_clicks_once(
        self,
        clicks: Sequence[Click],
        since_ms: int,
        adopted: Collection[str] = (),
        earning: Collection[str] = (),
    ) -> dict[str, tuple[str, int]]:
        """Insert the clicks that are not repeats of a click within the window.

        ``adopted`` clicks carry an id another process handed out (``SharedVisitors``): it
        may be storing that click right now, so theirs are inserted only if the id is not
        taken, and counted only if inserted.
        """
        if not clicks:
            return {}
        forgotten, self._forgotten = self._forgotten, []

        def write(cursor: Any) -> dict[str, tuple[str, int]]:
            if self.db.is_sqlite:
                self._remember_forgotten(cursor, forgotten, since_ms)
            earlier = self._earlier(cursor, clicks, since_ms)
            repeats: dict[str, tuple[str, int]] = {}
            fresh: list[Click] = []
            for click in clicks:
                pair = (click.identity_hash, click.link_id)
                if pair in earlier:
                    repeats[click.id] = earlier[pair]
                else:
                    earlier[pair] = (click.id, click.timestamp)
                    fresh.append(click)
            inserted: list[Click] = []
            if adopted:
                for click in [c for c in fresh if c.id in adopted]:
                    fresh.remove(click)
                    cursor.execute(self._insert_unless_taken, click)
                    if cursor.rowcount == 1:
                        inserted.append(click)
                    else:  # stored meanwhile by the process that handed it out
                        repeats[click.id] = (click.id, click.timestamp)
            self._insert(cursor, fresh, inserted, commit=not earning)
            if earning:
                self._earn(cursor, [*fresh, *inserted], earning)
            return repeats

        try:
            return self._transaction(write)
        except BaseException:
            self._forgotten[:0] = forgotten  # rolled back with the batch: next time
            raise

    def _earn(self, cursor: Any, stored: Sequence[Click], earning: Collection[str]) -> None:
        """Click rewards of the stored clicks whose ids are in ``earning`` (the redirect
        marks clicks on partner links): in the batch's transaction, after its counters."""
        self._earnings.write(cursor, [c for c in stored if c.id in earning], self.webhook_clicks)

    def _remember_forgotten(self, cursor: Any, forgotten: list[Forgotten], since_ms: int) -> None:
        """Put forgotten visitors in the table of recent visitors; drop the expired now and
        then (SQLite)."""
        if forgotten:
            cursor.executemany(
                "INSERT OR REPLACE INTO temp.recent_visitors VALUES (?, ?, ?)", forgotten
            )
        if since_ms - self._pruned_at >= _PRUNE_EVERY_MS:
            cursor.execute("DELETE FROM temp.recent_visitors WHERE ts < ?", (since_ms,))
            self._pruned_at = since_ms

    def _earlier(
        self, cursor: Any, clicks: Sequence[Click], since_ms: int
    ) -> dict[tuple[str, str], tuple[str, int]]:
        """The first click since ``since_ms`` of each of these visitors, per link."""
        earlier: dict[tuple[str, str], tuple[str, int]] = {}
        if self.db.is_sqlite:
            pairs = {
                visitor_key(c.identity_hash, c.link_id): (c.identity_hash, c.link_id)
                for c in clicks
            }
            for chunk in _chunks(list(pairs)):
                marks = ", ".join("?" for _ in chunk)
                cursor.execute(_EARLIER_VISITORS.format(marks=marks, mark="?"), (*chunk, since_ms))
                for key, click_id, ts in cursor.fetchall():
                    earlier[pairs[key]] = (click_id, ts)
            return earlier
        for chunk in _chunks(list({c.identity_hash for c in clicks})):
            marks = ", ".join(self._mark for _ in chunk)
            cursor.execute(_EARLIER_CLICKS.format(marks=marks, mark=self._mark), (*chunk, since_ms))
            for ident, link_id, click_id, ts in cursor.fetchall():
                earlier.setdefault((ident, link_id), (click_id, ts))
        return earlier

    def _insert(
        self,
        cursor: Any,
        clicks: Sequence[Click],
        inserted: Sequence[Click] = (),
        *,
        commit: bool = False,
    ) -> None:
        """Insert ``clicks`` and bump their links' counters, and those of ``inserted``.

        With ``commit`` (the last work of the transaction), PostgreSQL's ``COMMIT`` goes in
        the same pipeline as the rows: one round trip a batch instead of two, and
        ``_transaction``'s own commit finds nothing left to do.
        """
        if not (clicks or inserted):
            return
        after = self._after_rows(clicks, inserted)
        if self.db.is_sqlite:
            for start in range(0, len(clicks), _ROWS_PER_INSERT):
                chunk = clicks[start : start + _ROWS_PER_INSERT]
                cursor.execute(self._insert_statement(len(chunk)), list(chain.from_iterable(chunk)))
            for statement, rows in after:
                cursor.executemany(statement, rows)
            return
        # One round trip for the rows and the counters (psycopg's pipeline mode).
        with cursor.connection.pipeline():
            if clicks:
                cursor.execute(self._insert_json, (_json_rows(clicks),))
            for statement, rows in after:
                cursor.executemany(statement, rows)
            if commit:
                cursor.connection.commit()

    def _after_rows(
        self, clicks: Sequence[Click], inserted: Sequence[Click] = ()
    ) -> list[tuple[str, list[tuple[object, ...]]]]:
        """What a batch writes after its rows, each statement with its parameter rows: the
        links' counters, and the notes for ClickHouse and for ``link.clicked`` webhooks."""
        per_link = Counter(c.link_id for c in chain(clicks, inserted))
        last = {c.link_id: c.timestamp for c in clicks}  # in time order
        for click in inserted:  # adopted: older than the batch's own
            last[click.link_id] = max(last.get(click.link_id, 0), click.timestamp)
        bumps: list[tuple[object, ...]] = []
        # In one order everywhere: two transactions (processes, or batches) that lock the
        # same links' rows in different orders would deadlock, and one would fail whole.
        for link_id, n in sorted(per_link.items()):
            when = from_ms(last[link_id])
            # SQLite keeps datetimes as text: bind them the way SQLAlchemy writes them.
            bound = when.strftime("%Y-%m-%d %H:%M:%S.%f") if self.db.is_sqlite else when
            bumps.append((n, bound, link_id))
        after: list[tuple[str, list[tuple[object, ...]]]] = [(self._bump_link, bumps)]
        if self._note_clicks is not None:
            stored = list(chain(clicks, inserted))
            note = (" ".join(c.id for c in stored), min(c.timestamp for c in stored))
            after.append((self._note_clicks, [note]))
        if self.webhook_clicks is not None:
            watched = self.webhook_clicks.wanted(chain(clicks, inserted))
            if watched:
                hooked = (" ".join(c.id for c in watched), min(c.timestamp for c in watched))
                after.append((self._note_webhook_clicks, [hooked]))
        return after

    def _insert_statement(self, rows: int) -> str:
        statement = self._insert_rows.get(rows)
        if statement is None:
            values = self._insert_clicks.partition(" VALUES ")[2]
            statement = self._insert_clicks + (", " + values) * (rows - 1)
            self._insert_rows[rows] = statement
        return statement

    def close(self) -> None:
        """Close the dedicated writer connection (after a final checkpoint)."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.invalidate()  # closed for good, whether or not its pool is disposed
            self._pg = None
        if self._sqlite is not None:
            self._sqlite.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._sqlite.close()
            self._sqlite = None
        if self._flusher is not None:
            # Last: after this process's connections to the file (see _Flusher).
            self._flusher.close()
            self._flusher = None

    def get_click(self, click_id: str, session: Session | None = None) -> Click | None:
        """A click by id (read through ``session`` when given)."""
        params = {"click_id": click_id}
        if session is not None:
            row = session.execute(_CLICK_BY_ID, params).first()
        else:
            with self.db.engine.connect() as conn:
                row = conn.execute(_CLICK_BY_ID, params).first()
        if row:
            return Click(*row)
        return self.archive(click_id) if self.archive is not None else None


class ClickWatch(Protocol):
    """Picks the clicks of a batch that outbound webhooks may want, and the links whose
    new click commissions they may want."""

    def wanted(self, clicks: Iterable[Click]) -> list[Click]: ...

    def announces_commission(self, workspace_id: str, link_id: str) -> bool: ...


def _connection_lost(raw: Any) -> bool:
    """Whether a pooled DB-API connection is dead (psycopg marks it broken or closed)."""
    conn = raw.dbapi_connection
    return conn is None or bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))


def _json_rows(clicks: Sequence[Click]) -> str:
    """Clicks as a JSON array of arrays in column order (a ``Click`` dumps as one)."""
    return json.dumps(clicks, ensure_ascii=False, separators=(",", ":"))


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Built once: composing a statement costs more Python time than SQLite takes to run it.
_CLICK_BY_ID = select(click_events).where(click_events.c.id == bindparam("click_id"))

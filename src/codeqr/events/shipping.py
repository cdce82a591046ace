"""Shipping events to ClickHouse: what the outbox notes goes out in shipments, exactly once.

With ``CODEQR_EVENTS_URL`` set, a click is stored as without it: in the relational database,
in the transaction that bumps its link's counter, before its redirect answers; that
transaction also notes the batch in ``event_outbox`` (``events.outbox``), as every change of
a lead, sale or refund does. The shipper, a thread of the app, then:

1. takes the oldest noted changes not yet taken (up to ``rows_per_shipment`` outbox rows) and
   marks them with a new shipment token, in one transaction;
2. reads the events they name as they are now and inserts them into ClickHouse, one insert
   per table carrying the token (``events.clickhouse.insert``): sent again, it adds nothing;
   conversions carry a ``_version`` so the latest copy of a changed sale wins;
3. deletes the shipment's outbox rows.

A shipment marked but not deleted (the process died, ClickHouse was down) is sent again,
with the same token, before anything new: nothing is lost and nothing counted twice. Only
one shipper works at a time: SQLite has one process; on PostgreSQL each round takes an
advisory lock, and the processes that do not get it wait for the next round.

Clicks stay in the relational database for the dedupe window (and until shipped): the
one-hour dedupe, the live stream and ``track.lead``'s look-up of a fresh click read them
there. Older ones are deleted, a chunk at a time (``prune``); only clicks stored since
shipping began, which the outbox saw: older history is ``codeqr events copy``'s to move.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Table, bindparam, delete, func, select, text, update

from codeqr.events import clickhouse
from codeqr.events.copy import SOURCES, converter, names
from codeqr.events.dedupe import WINDOW_MS
from codeqr.events.models import click_events, event_outbox
from codeqr.events.outbox import Changed
from codeqr.kit.clock import now_ms
from codeqr.kit.db import Database
from codeqr.kit.ids import click_id as time_ordered_id

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = structlog.get_logger(__name__)

KEEP_CLICKS_MS = WINDOW_MS + 10 * 60_000
"""How long clicks stay in the relational database: the dedupe window and a margin."""
_PRUNE_CHUNK = 5_000
"""Clicks deleted per transaction (SQLite's writer lock is held for each)."""
_ADVISORY_KEY = 0x636F646571727368  # "codeqrsh"
_STARTED = """
CREATE TABLE IF NOT EXISTS events_shipping (started_ms Int64, at DateTime64(3, 'UTC')
    DEFAULT now64(3)) ENGINE = MergeTree ORDER BY started_ms
"""
_CLICK_COLUMNS = [column.name for column in click_events.columns]
_TABLES: dict[Changed, str] = {
    Changed.clicks: "click_events",
    Changed.leads: "lead_events",
    Changed.sales: "sale_events",
    Changed.refunds: "refund_events",
    Changed.refunds_of: "refund_events",
}


class Shipper:
    """Moves noted event changes to ClickHouse (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        client: Client,
        *,
        lock: threading.Lock | None = None,
        interval: float = 1.0,
        rows_per_shipment: int = 2_000,
        keep_clicks_ms: int = KEEP_CLICKS_MS,
        prune_every: float = 60.0,
    ) -> None:
        self.db = db
        self.client = client
        self._client_lock = lock or threading.Lock()
        """chdb is one connection: the analytics reader and the shipper take turns."""
        self.interval = interval
        self.rows_per_shipment = rows_per_shipment
        self.keep_clicks_ms = keep_clicks_ms
        self.prune_every = prune_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0
        self.started_ms: int | None = None
        """When shipping began in this ClickHouse: clicks since then went through the outbox."""
        self.on_failure: Callable[[Exception], None] | None = None
        self._click_json: Any = None
        self._behind_until = 0.0
        """Until when ``caught_up`` answers at once: it just waited in vain."""

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Record when shipping began (the first time) and ship in a thread until ``stop``."""
        self.started_ms = self.begin()
        self._thread = threading.Thread(target=self._loop, name="events-shipper", daemon=True)
        self._thread.start()

    def begin(self) -> int:
        """When shipping began in this ClickHouse, recorded now if it never did."""
        with self._client_lock:
            self.client.command(_STARTED)
            found = self.client.query("SELECT min(started_ms), count() FROM events_shipping")
            first, count = found.result_rows[0]
            if count:
                return int(first)
            started = now_ms()
            self.client.insert("events_shipping", [(started,)], column_names=["started_ms"])
            return started

    def caught_up(self, timeout: float = 1.0) -> bool:
        """Wait until every change noted before this call is in ClickHouse (read-your-writes
        for analytics); ``False`` if that took longer than ``timeout``, and then, for a few
        seconds, answer at once (ClickHouse is down or far behind: answer from what it has)."""
        o = event_outbox.c
        if time.monotonic() < self._behind_until:
            return False
        with self.db.engine.connect() as conn:
            target = conn.execute(select(func.max(o.seq))).scalar()
        if target is None:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            self.nudge()
            with self.db.engine.connect() as conn:
                left = conn.execute(select(o.seq).where(o.seq <= target).limit(1)).first()
            if left is None:
                return True
            if time.monotonic() >= deadline:
                self._behind_until = time.monotonic() + 5.0
                log.warning("events.shipping.behind", waited_s=timeout)
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def nudge(self) -> None:
        """Ship now rather than at the next interval (a reader waits for its writes).

        Not after every group commit: an insert into ClickHouse has a fixed cost of ~13 ms
        (a new part, its projections) whatever its size, so shipping each batch of 30 clicks
        would cap the server near 2,300 clicks/s; once a second it is ~1% of a core."""
        self._wake.set()

    def stop(self) -> None:
        """Ship what is noted, then stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                # Again at once only while behind (a full shipment) or stopping: under a
                # steady load each round would otherwise find a few new batches and make
                # one small insert after another (each with ClickHouse's fixed cost).
                while True:
                    sent = self.ship_once()
                    if not sent or not (stopping or sent >= self.rows_per_shipment):
                        break
                    if self._stop.is_set() and not stopping:
                        break
                if time.monotonic() - self._pruned_at >= self.prune_every and not stopping:
                    self.prune()
            except Exception as exc:  # ClickHouse or the database down: try again later
                log.warning("events.shipping.failed", error=repr(exc))
                if self.on_failure is not None:
                    self.on_failure(exc)
                if stopping:
                    return
                self._stop.wait(min(5.0, self.interval * 10))
            if stopping:
                return
            self._wake.wait(self.interval)
            self._wake.clear()

    # --- one round -------------------------------------------------------------------------

    def ship_once(self) -> int:
        """Send unfinished shipments, then one new one; how many outbox rows went out."""
        with self._turn() as mine:
            if not mine:
                return 0
            sent = 0
            for unfinished in self._unfinished():
                sent += self._send(unfinished)
            claimed = self._claim()
            if claimed is not None:
                sent += self._send(claimed)
            return sent

    @contextlib.contextmanager
    def _turn(self) -> Iterator[bool]:
        """Whether this process ships this round (PostgreSQL: one process at a time)."""
        if self.db.is_sqlite:
            yield True
            return
        with self.db.engine.connect() as conn:
            got = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})")).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})"))
                conn.commit()

    def _unfinished(self) -> list[str]:
        o = event_outbox.c
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(o.shipment)
                .where(o.shipment.is_not(None))
                .group_by(o.shipment)
                .order_by(func.min(o.seq))
            )
            return [str(row[0]) for row in rows]

    def _claim(self) -> str | None:
        """Mark the oldest untaken outbox rows with a new shipment token; ``None`` if none."""
        o = event_outbox.c
        token = uuid.uuid4().hex
        with self.db.transaction() as session:
            seqs = list(
                session.scalars(
                    select(o.seq)
                    .where(o.shipment.is_(None))
                    .order_by(o.seq)
                    .limit(self.rows_per_shipment)
                )
            )
            if not seqs:
                return None
            session.execute(update(event_outbox).where(o.seq.in_(seqs)).values(shipment=token))
        return token

    def _send(self, token: str) -> int:
        """Insert the events of shipment ``token`` into ClickHouse, then forget it."""
        o = event_outbox.c
        wanted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        with self.db.engine.connect() as conn:
            noted = conn.execute(
                select(o.kind, o.ids, o.workspace_id).where(o.shipment == token)
            ).all()
        for kind, ids, workspace_id in noted:
            table = _TABLES[Changed(kind)]
            by = "sale_id" if kind == Changed.refunds_of else "id"
            if ids:
                wanted[table][by].update(ids.split(" "))
            elif workspace_id:
                wanted[table]["workspace_id"].add(workspace_id)
        version = time.time_ns()
        clicks = wanted.pop("click_events", None)
        if clicks:
            lines = self._click_lines(sorted(clicks["id"]))
            if lines:
                with self._client_lock:
                    self.client.raw_insert(
                        "click_events",
                        _CLICK_COLUMNS,
                        "\n".join(lines).encode(),
                        settings={"insert_deduplication_token": f"ship:{token}:click_events"},
                        fmt="JSONEachRow",
                    )
        for table, keys in wanted.items():
            rows = self._read(SOURCES[table], keys)
            rows = [(*row, version) for row in rows]
            if rows:
                columns = [*names(SOURCES[table]), clickhouse.VERSION]
                with self._client_lock:
                    clickhouse.insert(
                        self.client, table, columns, rows, token=f"ship:{token}:{table}"
                    )
        with self.db.transaction() as session:
            session.execute(delete(event_outbox).where(o.shipment == token))
        return len(noted)

    def _click_lines(self, ids: list[str]) -> list[str]:
        """The clicks among ``ids`` as JSON lines, written by the database itself.

        Clicks are the volume, and the shipper runs on the core that answers redirects:
        SQLite or PostgreSQL writing each row as one JSON text, and ClickHouse parsing it,
        costs ~9.5 µs a click where Python tuples through clickhouse-connect's encoder cost
        ~14 µs. The time goes as ``seconds.millis`` text, which ClickHouse reads exactly.
        """
        statement = self._click_json if self._click_json is not None else self._click_query()
        lines: list[str] = []
        with self.db.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                lines.extend(conn.execute(statement, {"ids": chunk}).scalars().all())
        return lines

    def _click_query(self) -> Any:
        if self.db.is_sqlite:
            build, at = "json_object", "printf('%d.%03d', timestamp / 1000, timestamp % 1000)"
        else:
            build = "json_build_object"
            at = "(timestamp / 1000)::text || '.' || lpad((timestamp % 1000)::text, 3, '0')"
        pairs = ", ".join(
            f"'{name}', {at if name == 'timestamp' else f'{chr(34)}{name}{chr(34)}'}"
            for name in _CLICK_COLUMNS
        )
        # As text: PostgreSQL's driver would parse json into dicts only to write them again.
        cast = "" if self.db.is_sqlite else "::text"
        statement = f"SELECT {build}({pairs}){cast} FROM click_events WHERE id IN :ids"
        self._click_json = text(statement).bindparams(bindparam("ids", expanding=True))
        return self._click_json

    def _read(self, table: Table, keys: dict[str, set[str]]) -> list[tuple[Any, ...]]:
        """The rows of ``table`` whose ``id``, ``sale_id`` or ``workspace_id`` is among
        ``keys``, once each, as ClickHouse rows."""
        convert = converter(table)
        found: dict[str, tuple[Any, ...]] = {}
        with self.db.engine.connect() as conn:
            for column, values in keys.items():
                ordered = sorted(values)
                for start in range(0, len(ordered), 500):
                    chunk = ordered[start : start + 500]
                    for row in conn.execute(select(table).where(table.c[column].in_(chunk))):
                        found[row[0]] = convert(row)
        return [found[key] for key in sorted(found)]

    # --- keeping the relational database small ----------------------------------------------

    def prune(self, now: int | None = None) -> int:
        """Delete shipped clicks older than ``keep_clicks_ms`` that were stored since shipping
        began; how many."""
        self._pruned_at = time.monotonic()
        if self.started_ms is None:
            return 0
        cutoff = (now if now is not None else now_ms()) - self.keep_clicks_ms
        o, c = event_outbox.c, click_events.c
        with self.db.engine.connect() as conn:
            pending = conn.execute(
                select(func.min(o.first_ms)).where(o.kind == Changed.clicks.value)
            ).scalar()
        if pending is not None:
            cutoff = min(cutoff, int(pending))
        if cutoff <= self.started_ms:
            return 0
        low, high = time_ordered_id(self.started_ms)[:7], time_ordered_id(cutoff)[:7]
        deleted = 0
        while True:
            with self.db.transaction() as session:
                chunk = (
                    select(c.id)
                    .where(
                        c.id >= low,
                        c.id < high,
                        c.timestamp >= self.started_ms,
                        c.timestamp < cutoff,
                    )
                    .limit(_PRUNE_CHUNK)
                    .scalar_subquery()
                )
                result: Any = session.execute(delete(click_events).where(c.id.in_(chunk)))
                gone = int(result.rowcount or 0)
            deleted += gone
            if not gone or gone < _PRUNE_CHUNK or self._stop.is_set():
                break
        if deleted:
            log.info("events.shipping.pruned", clicks=deleted)
        return deleted

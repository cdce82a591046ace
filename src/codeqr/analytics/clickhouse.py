"""Analytics read from the ClickHouse events store (``events.clickhouse``).

The same questions as ``readers.SqlReader``, asked in ClickHouse's SQL: every query names
the workspace and its range first (the tables' sort key), values travel as bound parameters,
never in the text. Filters on a link's columns, its tags or a customer are resolved to ids in
the relational database (where links, tags and customers live) and sent as arrays. Time
buckets come from ClickHouse's own time-zone functions (``toStartOfDay(timestamp, zone)``),
which follow the zone's DST changes as the SQL reader's ranges do.

Sums are taken in 128 bits, so no number of rows can wrap them; the service clamps them.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from codeqr.analytics.filters import Scope
from codeqr.analytics.readers import Row
from codeqr.analytics.repository import NULLABLE, REFUND_EVENT, Kind, raw_source
from codeqr.analytics.timeframe import Granularity
from codeqr.customer.models import Customer
from codeqr.events import clickhouse
from codeqr.events.models import (
    WHERE_FROM,
    click_events,
)
from codeqr.events.store import Click
from codeqr.kit.ids import click_ms
from codeqr.link.models import Link, LinkTag, Tag
from codeqr.money.bounds import clamp_total

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from codeqr.analytics.service import Scoped

_SHARED = ", ".join(
    ("id", "timestamp", "workspace_id", "link_id", "click_id", "customer_id", *WHERE_FROM)
)
_SALE_FACTS = f"""(
    SELECT {_SHARED}, event_name, 1 AS sale_count, reporting_amount AS amount, test
    FROM sale_events FINAL
    UNION ALL
    SELECT {_SHARED}, '{REFUND_EVENT}' AS event_name, 0 AS sale_count,
        -reporting_amount AS amount, test
    FROM refund_events FINAL
)"""
"""One row per sale and one per refund (its amount negative), as ``repository.sale_facts``."""


def _read(table: str) -> str:
    """How a query names ``table``: conversions with ``FINAL``, their latest copies only."""
    return f"{table} FINAL" if table in clickhouse.REPLACING_TABLES else table


_SOURCES: dict[Kind, tuple[str, str]] = {
    Kind.clicks: ("click_events", "count() AS clicks"),
    Kind.leads: ("lead_events FINAL", "sum(event_quantity) AS leads"),
    Kind.sales: (_SALE_FACTS, "sum(sale_count) AS sales, sum(toInt128(amount)) AS saleAmount"),
}
_MEASURES = {Kind.clicks: ("clicks",), Kind.leads: ("leads",), Kind.sales: ("sales", "saleAmount")}

_BUCKETS = {
    Granularity.hour: "toUnixTimestamp(toStartOfHour({time}, {{zone:String}}))",
    Granularity.day: "toUnixTimestamp(toStartOfDay({time}, {{zone:String}}))",
    Granularity.month: (
        "toUnixTimestamp(toDateTime(toStartOfMonth({time}, {{zone:String}}), {{zone:String}}))"
    ),
}
"""A row's bucket: the epoch second its local hour, day or month starts. Clicks bucket their
quarter hour (the same local hour, day or month: every zone's offset is a multiple of 15
minutes), so the click rollups can answer."""

_QUARTER_MS = 900_000
_DAY_MS = 86_400_000


class _Query:
    """Conditions and their bound parameters, named ``p0``, ``p1``…"""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.parameters: dict[str, Any] = {}

    def bind(self, value: Any, kind: str) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{kind}}}"

    def among(self, column: str, values: Sequence[str], *, negate: bool, nullable: bool) -> None:
        held = f"has({self.bind(list(values), 'Array(String)')}, {column})"
        if not negate:
            self.conditions.append(f"({column} IS NOT NULL AND {held})")
        elif nullable:
            self.conditions.append(f"({column} IS NULL OR NOT {held})")
        else:
            self.conditions.append(f"NOT {held}")


def _instant(q: _Query, ms: int) -> str:
    return f"fromUnixTimestamp64Milli({q.bind(ms, 'Int64')}, 'UTC')"


def _raw_time(q: _Query, start: int | None, end: int) -> str:
    """``[start, end)`` on the events' own timestamps (``start`` ``None``: open)."""
    before = f"timestamp < {_instant(q, end)}"
    return before if start is None else f"timestamp >= {_instant(q, start)} AND {before}"


class ClickHouseReader:
    """``readers.EventsReader`` over a ClickHouse client (see the module docstring)."""

    def __init__(
        self, client: Client, *, in_process: bool, lock: threading.Lock | None = None
    ) -> None:
        self.client = client
        # chdb's client is one connection: one query at a time (with the shipper too, which
        # shares ``lock``); a server takes many.
        self._lock = (lock or threading.Lock()) if in_process else None
        self.settle: Callable[[], object] | None = None
        """Called before each query: waits until ClickHouse has every event committed so far
        (``Shipper.caught_up``), so an answer counts what its caller just stored."""

    def _rows(self, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self.settle is not None:
            self.settle()
        if self._lock is None:
            found = self.client.query(sql, parameters=parameters).result_rows
        else:
            with self._lock:
                found = self.client.query(sql, parameters=parameters).result_rows
        return [tuple(row) for row in found]

    def _where(self, session: Session, scoped: Scoped, kind: Kind) -> _Query:
        """The workspace, test rows and filters of a query (its time: ``_time_parts``)."""
        q = _Query()
        workspace = scoped.workspace_id
        q.conditions.append(f"workspace_id = {q.bind(workspace, 'String')}")
        if kind is not Kind.clicks and not scoped.with_test:
            q.conditions.append("NOT test")
        for f in scoped.filters:
            scope, values = f.field.scope, list(f.values)
            if scope is Scope.event:
                name = f.field.column
                q.among(name, values, negate=f.negate, nullable=name in NULLABLE)
            elif scope is Scope.link:
                column = getattr(Link, f.field.column)
                ids = session.scalars(
                    select(Link.id).where(Link.workspace_id == workspace, column.in_(values))
                )
                q.among("link_id", list(ids), negate=f.negate, nullable=True)
            elif scope is Scope.tag:
                tagged = session.scalars(
                    select(LinkTag.link_id)
                    .join(Tag, Tag.id == LinkTag.tag_id)
                    .where(Tag.workspace_id == workspace, LinkTag.tag_id.in_(values))
                )
                q.among("link_id", list(tagged), negate=f.negate, nullable=True)
            elif scope is Scope.customer:
                if kind is Kind.clicks:
                    brought = session.scalars(
                        select(Customer.click_id).where(
                            Customer.workspace_id == workspace,
                            Customer.id.in_(values),
                            Customer.click_id.is_not(None),
                        )
                    )
                    q.among("id", [str(c) for c in brought], negate=f.negate, nullable=False)
                else:
                    q.among("customer_id", values, negate=f.negate, nullable=True)
            elif kind is not Kind.clicks:  # Scope.conversion: clicks have no event name
                q.among("event_name", values, negate=f.negate, nullable=False)
        return q

    def _measured(self, rows: list[tuple[Any, ...]], kind: Kind, width: int) -> list[Row]:
        names = _MEASURES[kind]
        return [
            (tuple(row[:width]), dict(zip(names, map(clamp_total, row[width:]), strict=True)))
            for row in rows
        ]

    def _time_parts(self, q: _Query, kind: Kind, start: int | None, end: int) -> list[str]:
        """``[start, end)`` as conditions OR'ed by UNION ALL. For clicks: the whole quarter
        hours written on the slot (which the click rollups hold), and the edges before the
        first and after the last whole quarter hour on the clicks themselves."""
        if kind is not Kind.clicks:
            return [_raw_time(q, start, end)]
        first = None if start is None else -(-start // _QUARTER_MS) * _QUARTER_MS
        last = end // _QUARTER_MS * _QUARTER_MS
        if first is not None and first >= last:
            return [_raw_time(q, start, end)]
        slot = clickhouse.SLOT
        whole = [f"{slot} < {_instant(q, last)}"]
        if first is not None:
            whole.append(f"{slot} >= {_instant(q, first)}")
        parts = [" AND ".join(whole)]
        if start is not None and first is not None and start < first:
            parts.append(_raw_time(q, start, first))
        if last < end:
            parts.append(_raw_time(q, last, end))
        return parts

    def _measure(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        keys: Sequence[tuple[str, str]],
        start: int | None,
        end: int,
        parameters: dict[str, Any] | None = None,
    ) -> list[Row]:
        """The measures of ``kind`` per ``keys`` (``(expression, name)``) over
        ``[start, end)``, empty keys left out."""
        table, measures = _SOURCES[kind]
        q = self._where(session, scoped, kind)
        q.parameters.update(parameters or {})
        names = [name for _, name in keys]
        known = [f"{name} IS NOT NULL AND {name} != ''" for expr, name in keys if expr == name]
        selected = ", ".join([*(f"{expr} AS {name}" for expr, name in keys), measures])
        grouping = f" GROUP BY {', '.join(names)}" if names else ""
        parts = [
            f"SELECT {selected} FROM {table} "
            f"WHERE {' AND '.join([*q.conditions, *known, time])}{grouping}"
            for time in self._time_parts(q, kind, start, end)
        ]
        if len(parts) == 1:
            sql = parts[0]
        else:  # clicks only: the parts' counts added up
            outer = ", ".join([*names, "sum(clicks) AS clicks"])
            sql = f"SELECT {outer} FROM ({' UNION ALL '.join(parts)}){grouping}"
        return self._measured(self._rows(sql, q.parameters), kind, len(keys))

    def total(self, session: Session, scoped: Scoped, kind: Kind) -> dict[str, int]:
        tf = scoped.timeframe
        found = self._measure(session, scoped, kind, (), tf.start_ms, tf.end_ms)
        return found[0][1] if found else dict.fromkeys(_MEASURES[kind], 0)

    def grouped(
        self, session: Session, scoped: Scoped, kind: Kind, columns: Sequence[str]
    ) -> list[Row]:
        tf = scoped.timeframe
        keys = [(column, column) for column in columns]
        return self._measure(session, scoped, kind, keys, tf.start_ms, tf.end_ms)

    def grouped_by_link(
        self, session: Session, scoped: Scoped, kind: Kind, column: str
    ) -> list[Row]:
        per_link = self.grouped(session, scoped, kind, ("link_id",))
        ids = [key[0] for key, _ in per_link]
        value_of: dict[str, Any] = {}
        for chunk in range(0, len(ids), 5_000):
            query = select(Link.id, getattr(Link, column)).where(
                Link.workspace_id == scoped.workspace_id, Link.id.in_(ids[chunk : chunk + 5_000])
            )
            value_of.update((link_id, value) for link_id, value in session.execute(query))
        return [
            ((value_of[key[0]],), values)
            for key, values in per_link
            if value_of.get(key[0]) not in (None, "")
        ]

    def per_bucket(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        bounds: Sequence[int],
        granularity: Granularity,
    ) -> dict[int, dict[str, int]]:
        time = clickhouse.SLOT if kind is Kind.clicks else "timestamp"
        bucket = _BUCKETS[granularity].format(time=time)
        zone = {"zone": scoped.timeframe.zone.key}
        found: dict[int, dict[str, int]] = {}
        rows = self._measure(
            session, scoped, kind, [(bucket, "bucket")], bounds[0], bounds[-1], zone
        )
        for key, values in rows:
            # The first bound may be clipped to the range's start: its bucket starts before.
            n = max(bisect_right(bounds, int(key[0]) * 1000) - 1, 0)
            found[n] = values
        return found

    def event_span(self, session: Session, workspace_id: str) -> tuple[int, int] | None:
        # Each end of each table read in the sort key's order: a granule or two, not a scan.
        parts = " UNION ALL ".join(
            f"(SELECT timestamp AS at FROM {_read(table)} "
            "WHERE workspace_id = {workspace:String} "
            f"ORDER BY timestamp {order} LIMIT 1)"
            for table in ("click_events", "lead_events", "sale_events", "refund_events")
            for order in ("ASC", "DESC")
        )
        sql = (
            "SELECT toUnixTimestamp64Milli(min(at)), toUnixTimestamp64Milli(max(at)), count() "
            f"FROM ({parts})"
        )
        ((first, last, count),) = self._rows(sql, {"workspace": workspace_id})
        return (int(first), int(last)) if count else None

    def _stored(
        self, table: Table, where: str, parameters: dict[str, Any], tail: str = ""
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` as the SQL store holds them: ``timestamp`` in ms, ``metadata``
        parsed (the stored text is JSON)."""
        names = [column.name for column in table.columns]
        selected = ", ".join(
            "toUnixTimestamp64Milli(timestamp) AS at_ms" if name == "timestamp" else name
            for name in names
        )
        sql = f"SELECT {selected} FROM {_read(table.name)} WHERE {where}{tail}"
        out = []
        for row in self._rows(sql, parameters):
            found = dict(zip(names, row, strict=True))
            if found.get("metadata") is not None:
                found["metadata"] = json.loads(found["metadata"])
            out.append(found)
        return out

    def page(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        *,
        newest_first: bool,
        offset: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        table = raw_source(kind).rows
        assert isinstance(table, Table)
        q = self._where(session, scoped, kind)
        tf = scoped.timeframe
        q.conditions.append(_raw_time(q, tf.start_ms, tf.end_ms))
        order = "DESC" if newest_first else "ASC"
        tail = (
            f" ORDER BY timestamp {order}, id {order}"
            f" LIMIT {q.bind(limit, 'UInt32')} OFFSET {q.bind(offset, 'UInt64')}"
        )
        return self._stored(table, " AND ".join(q.conditions), q.parameters, tail)

    def click(self, click_id: str) -> Click | None:
        """A click by id, whatever its workspace (``track.lead`` with an old click id)."""
        made = click_ms(click_id)
        if made is None:
            return None
        q = _Query()
        q.conditions.append(f"id = {q.bind(click_id, 'String')}")
        q.conditions.append(f"timestamp >= {_instant(q, made - _DAY_MS)}")
        q.conditions.append(f"timestamp <= {_instant(q, made + _DAY_MS)}")
        rows = self._stored(click_events, " AND ".join(q.conditions), q.parameters, " LIMIT 1")
        if not rows:
            return None
        return Click(**{name: rows[0][name] for name in Click._fields})

    def clicks_by_id(
        self, session: Session, workspace_id: str, ids: Sequence[str]
    ) -> dict[str, Mapping[str, Any]]:
        if not ids:
            return {}
        q = _Query()
        q.conditions.append(f"workspace_id = {q.bind(workspace_id, 'String')}")
        q.among("id", sorted(set(ids)), negate=False, nullable=False)
        # A click id begins with its millisecond: a range of the sort key, not a scan.
        made = [click_ms(i) for i in ids]
        if all(ms is not None for ms in made):
            known = [ms for ms in made if ms is not None]
            q.conditions.append(f"timestamp >= {_instant(q, min(known) - _DAY_MS)}")
            q.conditions.append(f"timestamp <= {_instant(q, max(known) + _DAY_MS)}")
        rows = self._stored(click_events, " AND ".join(q.conditions), q.parameters)
        return {row["id"]: row for row in rows}

"""``codeqr events copy``: a deployment's events from its SQL database into ClickHouse.

Each table is read in id order (event ids begin with their millisecond, so this is time
order too) a page at a time, and each page is one insert with a deduplication token made
of its first and last id and its size. After each page the copy records how far it got in
``events_copy_progress`` (in ClickHouse). A copy that was stopped starts again from there:
the page that was in flight is read again with the same bounds, so its insert carries the
same token and adds nothing if it had landed. When every table is copied, counts per UTC day
are compared between the two stores.

Events written to the SQL store while a copy runs are copied too if their id sorts after
the copy's position; running the copy again after the switch picks up the rest. Once the app
ships events itself (``events.shipping``), the clicks stored since are its to send (and its
to delete from the SQL store after the dedupe window): the copy and its comparison stop at
that time. Conversions, copied whole, are kept once in ClickHouse whichever sent them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, select

from codeqr.events import clickhouse
from codeqr.events.models import click_events, lead_events, refund_events, sale_events
from codeqr.kit.db import Database

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

SOURCES: dict[str, Table] = {
    "click_events": click_events,
    "lead_events": lead_events,
    "sale_events": sale_events,
    "refund_events": refund_events,
}

_PROGRESS = """
CREATE TABLE IF NOT EXISTS events_copy_progress (
    table_name String,
    page UInt64,
    last_id String,
    copied UInt64,
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (table_name, page)
"""

Progress = Callable[[str, int], None]
"""Told ``(table, rows)`` after each page."""


@dataclass
class TableReport:
    table: str
    total: int
    """Rows in the SQL table."""
    copied: int = 0
    """Rows this run inserted."""
    mismatched_days: list[tuple[date, int, int]] = field(default_factory=list)
    """``(day, SQL count, ClickHouse count)`` for each day that differs."""


def count(db: Database, table: str, before: int | None = None) -> int:
    """Rows of ``table`` in the SQL store (older than ``before``, in ms, when given)."""
    source = SOURCES[table]
    query = select(func.count()).select_from(source)
    if before is not None:
        query = query.where(source.c.timestamp < before)
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def shipping_began(client: Client) -> int | None:
    """When the app began shipping events to this ClickHouse (ms), if it has."""
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() "
        "AND name = 'events_shipping'"
    ).result_rows[0][0]
    if not exists:
        return None
    first, shipped = client.query(
        "SELECT min(started_ms), count() FROM events_shipping"
    ).result_rows[0]
    return int(first) if shipped else None


def copy_events(
    db: Database,
    client: Client,
    *,
    page: int = 50_000,
    progress: Progress | None = None,
    tables: tuple[str, ...] = clickhouse.TABLES,
) -> list[TableReport]:
    """Copy every events table (see the module docstring); a report per table."""
    clickhouse.migrate(client)
    client.command(_PROGRESS)
    shipped_from = shipping_began(client)
    reports = []
    for table in tables:
        before = shipped_from if table == "click_events" else None
        report = TableReport(table, count(db, table, before))
        number, after = _position(client, table)
        for rows, last in _pages(db, SOURCES[table], after, page, before):
            token = f"copy:{table}:{rows[0][0]}:{last}:{len(rows)}"
            clickhouse.insert(client, table, names(SOURCES[table]), rows, token=token)
            number += 1
            client.insert(
                "events_copy_progress",
                [(table, number, last, len(rows))],
                ["table_name", "page", "last_id", "copied"],
            )
            report.copied += len(rows)
            if progress is not None:
                progress(table, len(rows))
        report.mismatched_days = compare_days(db, client, table, before)
        reports.append(report)
    return reports


def _position(client: Client, table: str) -> tuple[int, str]:
    """The last page a copy of ``table`` recorded and its last id (``(0, '')`` before the
    first). By page number, not by the largest id: the SQL database's collation, which
    orders the pages, need not be ClickHouse's byte order."""
    rows = client.query(
        "SELECT page, last_id FROM events_copy_progress WHERE table_name = {table:String} "
        "ORDER BY page DESC LIMIT 1",
        parameters={"table": table},
    ).result_rows
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, "")


def names(table: Table) -> list[str]:
    return [column.name for column in table.columns]


def _pages(
    db: Database, table: Table, after: str, size: int, before: int | None
) -> Iterator[tuple[list[Any], str]]:
    """Pages of ``table``'s rows with ids after ``after`` (and times before ``before``), as
    ClickHouse rows, and each page's last id."""
    convert = converter(table)
    while True:
        query = select(table).where(table.c.id > after).order_by(table.c.id).limit(size)
        if before is not None:
            query = query.where(table.c.timestamp < before)
        with db.engine.connect() as conn:
            rows = [convert(row) for row in conn.execute(query)]
        if not rows:
            return
        after = rows[-1][0]
        yield rows, after


def converter(table: Table) -> Callable[[Any], tuple[Any, ...]]:
    """SQL row → ClickHouse row: milliseconds to a UTC datetime, JSON to its text."""
    order = names(table)
    at = order.index("timestamp")
    json_at = order.index("metadata") if "metadata" in order else None

    def convert(row: Any) -> tuple[Any, ...]:
        values = list(row)
        values[at] = datetime.fromtimestamp(values[at] / 1000, tz=UTC)
        if json_at is not None and values[json_at] is not None:
            values[json_at] = json.dumps(values[json_at], separators=(",", ":"))
        return tuple(values)

    return convert


def compare_days(
    db: Database, client: Client, table: str, before: int | None = None
) -> list[tuple[date, int, int]]:
    """Days (UTC) whose count of ``table`` rows (older than ``before``, when given) differs
    between the SQL store and ClickHouse: ``(day, SQL count, ClickHouse count)``."""
    source = SOURCES[table]
    day = source.c.timestamp // 86_400_000
    query = select(day, func.count()).group_by(day)
    where = ""
    if before is not None:
        query = query.where(source.c.timestamp < before)
        where = f" WHERE timestamp < fromUnixTimestamp64Milli({int(before)})"
    with db.engine.connect() as conn:
        sql = {int(number): int(total) for number, total in conn.execute(query)}
    final = " FINAL" if table in clickhouse.REPLACING_TABLES else ""
    rows = client.query(
        f"SELECT toUInt32(toDate(timestamp, 'UTC')), count() FROM {table}{final}{where} GROUP BY 1"
    ).result_rows
    copied = {int(number): int(total) for number, total in rows}
    return [
        (date.fromordinal(date(1970, 1, 1).toordinal() + number), sql.get(number, 0), got)
        for number in sorted(sql.keys() | copied.keys())
        if (got := copied.get(number, 0)) != sql.get(number, 0)
    ]

"""The stream's reads of the four events tables, all by id.

Event ids start with the time they were minted (7 characters of milliseconds in an alphabet
that sorts like ASCII), and they are minted as the row is inserted, so ``id > x`` is "stored
after x" up to the few milliseconds between minting and commit. Those reads only work when
the database compares ids byte by byte: SQLite always does; PostgreSQL does when its
collation is ``C`` (see ``byte_order``), else each comparison names ``COLLATE "C"``, which is
correct but cannot use the primary key's index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, select, text

from codeqr.analytics.event_list import EventType
from codeqr.events.models import click_events, lead_events, refund_events, sale_events

TABLES: dict[EventType, Table] = {
    "click": click_events,
    "lead": lead_events,
    "sale": sale_events,
    "refund": refund_events,
}
_PAGE = 2000
_BYTE_ORDER_COLLATIONS = {"c", "posix", "c.utf8", "c.utf-8", "ucs_basic"}


def byte_order(conn: Connection) -> bool:
    """Whether plain string comparison of ids is byte order (and may use the index)."""
    if conn.dialect.name != "postgresql":
        return True
    row = conn.execute(
        text("SELECT to_jsonb(d) FROM pg_database d WHERE datname = current_database()")
    ).scalar_one()
    provider = row.get("datlocprovider", "c")
    locale = (row.get("datlocale") or row.get("daticulocale") or "").lower()
    if provider == "b":  # PostgreSQL 17's builtin provider: C and C.UTF-8 sort by code point
        return locale in _BYTE_ORDER_COLLATIONS
    return provider == "c" and str(row.get("datcollate", "")).lower() in _BYTE_ORDER_COLLATIONS


def _id(table: Table, plain: bool) -> ColumnElement[str]:
    column: ColumnElement[str] = table.c.id
    return column if plain else column.collate("C")


def ids_since(conn: Connection, kind: EventType, low: str, *, plain: bool) -> list[tuple[str, str]]:
    """``(id, workspace id)`` of every row whose id sorts after ``low``, oldest first."""
    table = TABLES[kind]
    key = _id(table, plain)
    found: list[tuple[str, str]] = []
    cursor = low
    while True:
        page = conn.execute(
            select(table.c.id, table.c.workspace_id).where(key > cursor).order_by(key).limit(_PAGE)
        ).all()
        found.extend((row[0], row[1]) for row in page)
        if len(page) < _PAGE:
            return found
        cursor = page[-1][0]


def rows_by_id(conn: Connection, kind: EventType, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Whole rows of one table, by id."""
    wanted = list(ids)
    if not wanted:
        return []
    table = TABLES[kind]
    return [dict(row._mapping) for row in conn.execute(select(table).where(table.c.id.in_(wanted)))]


def latest_after(
    conn: Connection, workspace_id: str, after: str, limit: int, *, plain: bool
) -> list[tuple[EventType, dict[str, Any]]]:
    """The workspace's newest ``limit`` rows of the four tables with ids after ``after``,
    oldest first."""
    found: list[tuple[EventType, dict[str, Any]]] = []
    for kind, table in TABLES.items():
        key = _id(table, plain)
        rows = conn.execute(
            select(table)
            .where(table.c.workspace_id == workspace_id, key > after)
            .order_by(key.desc())
            .limit(limit)
        )
        found.extend((kind, dict(row._mapping)) for row in rows)
    found.sort(key=lambda item: item[1]["id"].encode())
    return found[-limit:]

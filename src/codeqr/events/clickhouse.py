"""The ClickHouse events store's connection and schema (SPEC §1).

Clicks, leads, sales and refunds are kept in four MergeTree tables with the columns of the
SQL events tables (``events.models``), typed for ClickHouse:

- ordered by ``(workspace_id, timestamp, id)``: every analytics query names one workspace
  and a time range, so it reads a contiguous slice of each part; partitioned by month;
- the where-from columns a breakdown groups by (country, device, browser, OS, referer,
  trigger…) are ``LowCardinality``; ids and URLs plain strings;
- ``timestamp`` is ``DateTime64(3, 'UTC')`` (the SQL store's milliseconds), so buckets come
  from ClickHouse's own time-zone functions (``toStartOfDay(timestamp, 'America/New_York')``),
  DST-correct;
- aggregate projections count clicks per quarter hour and a few columns
  (``CLICK_ROLLUPS``), which the analytics of a long range read instead of the clicks;
- a ``minmax`` index on ``timestamp`` lets a lookup by event id (whose first 7 characters are
  its millisecond, ``kit.ids.click_id``) skip every granule of another millisecond whatever
  the workspace;
- no TTL: events are kept.

Exactly-once: every insert carries an ``insert_deduplication_token`` derived from what it
holds, and the tables keep the tokens of their last 10,000 inserts
(``non_replicated_deduplication_window``; replicated tables and ClickHouse Cloud keep theirs
by default), so an insert retried after a timeout or a crash adds nothing the second time.

Migrations are numbered statements run in order by ``migrate``; the ``schema_migrations``
table records each one applied, so running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import structlog

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = structlog.get_logger(__name__)

SCHEMES = ("chdb", "clickhouse", "http", "https")
"""``CODEQR_EVENTS_URL`` schemes: chdb (in-process), a server over HTTP, or HTTPS (Cloud)."""

DEDUPLICATION_WINDOW = 10_000
"""Inserts whose token a table remembers (a retried insert older than that could double)."""


class EventsUrlError(ValueError):
    """A ``CODEQR_EVENTS_URL`` that names no ClickHouse this store can use."""


def check_url(url: str) -> str:
    """``url`` if it names a ClickHouse: ``chdb:///ABSOLUTE/PATH``, or ``clickhouse://``,
    ``http://`` or ``https://`` with a host; else ``EventsUrlError`` saying why."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES:
        raise EventsUrlError(
            f"unknown scheme {parsed.scheme!r}: use chdb:///PATH, clickhouse://HOST or https://HOST"
        )
    if parsed.scheme == "chdb":
        if parsed.netloc or not parsed.path.startswith("/") or parsed.path == "/":
            raise EventsUrlError("chdb needs an absolute directory: chdb:///var/lib/codeqr/events")
    elif not parsed.hostname:
        raise EventsUrlError(f"{parsed.scheme}:// needs a host")
    return url


def is_in_process(url: str) -> bool:
    """Whether ``url`` runs ClickHouse inside this process (chdb: one process only)."""
    return urlparse(url).scheme == "chdb"


def connect(url: str) -> Client:
    """A client for ``url`` (see ``check_url``); the database is the URL's path for a server,
    ``?database=`` for chdb, ``default`` otherwise."""
    import clickhouse_connect

    parsed = urlparse(check_url(url))
    if parsed.scheme == "chdb":
        database = parse_qs(parsed.query).get("database", [None])[0]
        return clickhouse_connect.get_client(
            interface="chdb", path=parsed.path, database=database or "default"
        )
    interface = "https" if parsed.scheme == "https" else "http"
    dsn = parsed._replace(scheme=interface).geturl()
    return clickhouse_connect.get_client(dsn=dsn, interface=interface)


# --- schema ---------------------------------------------------------------------------------

_LC = "LowCardinality(String)"
_WHERE_FROM = f"""
    domain {_LC},
    key String,
    url String,
    trigger {_LC},
    country {_LC},
    region {_LC},
    city {_LC},
    continent {_LC},
    device {_LC},
    browser {_LC},
    os {_LC},
    referer {_LC},
    referer_url String"""


SLOT = "toStartOfFifteenMinutes(timestamp)"
"""A click's quarter hour: what the click rollups count by. Every time zone's offset is a
multiple of 15 minutes, so a local hour, day or month is a whole number of slots."""

CLICK_ROLLUPS: dict[str, tuple[str, ...]] = {
    "total": (),
    "country_device": ("country", "device"),
    "place": ("continent", "country", "region", "city"),
    "technology": ("device", "browser", "os", "trigger"),
    "link": ("link_id", "url"),
    "referer": ("referer",),
}
"""The click rollups: aggregate projections counting clicks per workspace, slot and these
columns. ClickHouse reads the smallest one holding every column a query groups or filters
by, when the query's time bounds are written on ``SLOT``; any other query reads the clicks."""


def _projection(name: str, columns: tuple[str, ...]) -> str:
    keys = ", ".join(("workspace_id", SLOT, *columns))
    return f"PROJECTION {name} (SELECT {keys}, count() GROUP BY {keys})"


def _table(
    name: str, columns: str, projections: tuple[str, ...] = (), *, engine: str = "MergeTree"
) -> str:
    extra = "".join(f",\n    {p}" for p in projections)
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    {columns.strip()},
    INDEX ix_timestamp timestamp TYPE minmax GRANULARITY 1{extra}
)
ENGINE = {engine}
PARTITION BY toYYYYMM(timestamp)
ORDER BY (workspace_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}
"""


_CLICKS = _table(
    "click_events",
    f"""
    id String,
    timestamp DateTime64(3, 'UTC'),
    workspace_id LowCardinality(String),
    link_id String,
    domain {_LC},
    key String,
    url String,
    trigger {_LC},
    country {_LC},
    region {_LC},
    city {_LC},
    continent {_LC},
    device {_LC},
    browser {_LC},
    browser_version {_LC},
    os {_LC},
    os_version {_LC},
    engine {_LC},
    ua String,
    referer {_LC},
    referer_url String,
    identity_hash String,
    ip Nullable(String)""",
    tuple(_projection(name, columns) for name, columns in CLICK_ROLLUPS.items()),
)

_LEAD_COLUMNS = f"""
    id String,
    timestamp DateTime64(3, 'UTC'),
    workspace_id LowCardinality(String),
    link_id String,
    click_id String,
    customer_id String,
    event_name String,
    event_quantity Int32,
    metadata Nullable(String),
    test Bool,
    {_WHERE_FROM.strip()}"""
_LEADS = _table("lead_events", _LEAD_COLUMNS)

_SALE_COLUMNS = f"""
    id String,
    timestamp DateTime64(3, 'UTC'),
    workspace_id LowCardinality(String),
    link_id Nullable(String),
    click_id Nullable(String),
    customer_id Nullable(String),
    event_name String,
    amount Int64,
    currency {_LC},
    reporting_amount Nullable(Int64),
    reporting_currency {_LC},
    fx_rate Nullable(String),
    fx_date Nullable(String),
    fx_missing Bool,
    payment_processor {_LC},
    invoice_id Nullable(String),
    metadata Nullable(String),
    stripe_customer_id Nullable(String),
    payment_intent_id Nullable(String),
    test Bool,
    {_WHERE_FROM.strip()}"""
_SALES = _table("sale_events", _SALE_COLUMNS)

_REFUND_COLUMNS = f"""
    id String,
    timestamp DateTime64(3, 'UTC'),
    workspace_id LowCardinality(String),
    sale_id String,
    link_id Nullable(String),
    click_id Nullable(String),
    customer_id Nullable(String),
    charge_id String,
    amount Int64,
    currency {_LC},
    reporting_amount Nullable(Int64),
    reporting_currency {_LC},
    refunded_total Int64,
    test Bool,
    {_WHERE_FROM.strip()}"""
_REFUNDS = _table("refund_events", _REFUND_COLUMNS)

VERSION = "_version"
"""The column of the conversion tables saying which copy of a row is the latest."""

_REPLACING = {
    "lead_events": _LEAD_COLUMNS,
    "sale_events": _SALE_COLUMNS,
    "refund_events": _REFUND_COLUMNS,
}
"""Conversions change after they are stored (a sale attributed late, a sale re-converted to
a new reporting currency): each change is sent again with a higher ``_version``, and the
tables keep the latest (``ReplacingMergeTree``; reads say ``FINAL``). Clicks never change."""


REPLACING_TABLES = frozenset(_REPLACING)


def _make_replacing(client: Client) -> None:
    """Rebuild the conversion tables as ``ReplacingMergeTree`` with their rows; a run cut
    short is finished by the next (a table already rebuilt is left as it is)."""
    for name, body in _REPLACING.items():
        client.command(f"DROP TABLE IF EXISTS {name}_old")
        engine = client.query(
            "SELECT engine FROM system.tables WHERE database = currentDatabase() "
            "AND name = {name:String}",
            parameters={"name": name},
        ).result_rows
        if engine and engine[0][0] == "ReplacingMergeTree":
            continue
        client.command(f"DROP TABLE IF EXISTS {name}_new")
        columns = f"{body.strip()},\n    {VERSION} UInt64"
        client.command(_table(f"{name}_new", columns, engine=f"ReplacingMergeTree({VERSION})"))
        client.command(f"INSERT INTO {name}_new SELECT *, 0 FROM {name}")
        client.command(f"RENAME TABLE {name} TO {name}_old, {name}_new TO {name}")
        client.command(f"DROP TABLE {name}_old")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str | Callable[[Client], None], ...]
    """Statements, or steps that look before they change (each safe to run again)."""


MIGRATIONS = (
    Migration(1, "events tables", (_CLICKS, _LEADS, _SALES, _REFUNDS)),
    Migration(2, "conversions keep their latest copy", (_make_replacing,)),
)
"""Applied in order, each once; append, never edit one that has shipped."""

TABLES = ("click_events", "lead_events", "sale_events", "refund_events")

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version
"""


def applied(client: Client) -> list[int]:
    """Versions already applied, in order."""
    client.command(_VERSIONS)
    rows = client.query("SELECT DISTINCT version FROM schema_migrations ORDER BY version")
    return [int(row[0]) for row in rows.result_rows]


def migrate(client: Client) -> list[int]:
    """Apply every migration not applied yet; the versions it applied."""
    done = set(applied(client))
    ran: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements:
            # Each is idempotent: a migration cut short reruns.
            if isinstance(statement, str):
                client.command(statement)
            else:
                statement(client)
        client.insert(
            "schema_migrations", [(migration.version, migration.name)], ["version", "name"]
        )
        log.info("events.clickhouse.migrated", version=migration.version, name=migration.name)
        ran.append(migration.version)
    return ran


def columns(client: Client, table: str) -> dict[str, str]:
    """``table``'s columns and their ClickHouse types, in order."""
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {table:String} ORDER BY position",
        parameters={"table": table},
    )
    return {str(name): str(kind) for name, kind in rows.result_rows}


def insert(client: Client, table: str, names: list[str], rows: list[Any], *, token: str) -> None:
    """Insert ``rows`` into ``table`` once: retried with the same ``token``, adds nothing."""
    client.insert(table, rows, column_names=names, settings={"insert_deduplication_token": token})

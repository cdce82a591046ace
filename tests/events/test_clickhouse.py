"""The ClickHouse events store's schema, and ``codeqr events copy`` into it (chdb, the real
engine in-process).

chdb keeps one engine per process: each test opens its own directory and closes every
client before it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from codeqr import migrate
from codeqr.events import clickhouse
from codeqr.events.copy import SOURCES, compare_days, copy_events
from codeqr.events.models import click_events, lead_events, refund_events, sale_events
from codeqr.kit.db import Database
from codeqr.kit.ids import click_id
from codeqr.settings import Settings

CODEQR = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "codeqr")
DAY = 86_400_000
# 2026-02-27 22:00 UTC: the events cross a day, a month and (in New York) a DST change.
START = 1_772_229_600_000


@pytest.fixture
def ch(tmp_path: Path) -> Iterator[Any]:
    client = clickhouse.connect(f"chdb://{tmp_path / 'events'}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    settings.ensure_data_dir()
    database = Database(settings.sqlalchemy_url)
    migrate.upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def _where_from(n: int) -> dict[str, Any]:
    return {
        "domain": "go.test",
        "key": f"k{n % 3}",
        "url": "https://shop.test/",
        "trigger": "qr" if n % 4 == 0 else "link",
        "country": ["US", "DE", "FR"][n % 3],
        "region": "",
        "city": "",
        "continent": "NA",
        "device": ["Mobile", "Desktop"][n % 2],
        "browser": "Chrome",
        "os": "iOS",
        "referer": "(direct)",
        "referer_url": "",
    }


def fill(db: Database, clicks: int = 60, *, start: int = START, step: int = 3_600_000) -> None:
    """``clicks`` clicks an hour apart from ``start``, a lead for every third, a sale for
    every sixth (one without a link or a rate), a refund of the first sale."""
    click_rows, leads, sales = [], [], []
    for n in range(clicks):
        at = start + n * step
        cid = click_id(at)
        place = _where_from(n)
        click_rows.append(
            {
                "id": cid,
                "timestamp": at,
                "workspace_id": "ws_1",
                "link_id": f"link_{n % 3}",
                **place,
                "browser_version": "120",
                "os_version": "17",
                "engine": "Blink",
                "ua": f"Mozilla/5.0 Test/{n}",
                "identity_hash": f"{n:032d}",
                "ip": None if n % 5 else "203.0.113.9",
            }
        )
        if n % 3 == 0:
            leads.append(
                {
                    "id": click_id(at + 1),
                    "timestamp": at + 1,
                    "workspace_id": "ws_1",
                    "link_id": f"link_{n % 3}",
                    "click_id": cid,
                    "customer_id": f"cus_{n}",
                    "event_name": "Sign up",
                    "event_quantity": 1 + n % 2,
                    "metadata": {"plan": "pro", "n": n} if n % 2 else None,
                    "test": False,
                    **place,
                }
            )
        if n % 6 == 0:
            linked = n != 6
            sales.append(
                {
                    "id": click_id(at + 2),
                    "timestamp": at + 2,
                    "workspace_id": "ws_1",
                    "link_id": f"link_{n % 3}" if linked else None,
                    "click_id": cid if linked else None,
                    "customer_id": f"cus_{n}" if linked else None,
                    "event_name": "Purchase",
                    "amount": 4_900 + n,
                    "currency": "usd",
                    "reporting_amount": 4_900 + n if linked else None,
                    "reporting_currency": "usd",
                    "fx_rate": None,
                    "fx_date": None,
                    "fx_missing": not linked,
                    "payment_processor": "stripe",
                    "invoice_id": f"in_{n}",
                    "metadata": None,
                    "stripe_customer_id": None,
                    "payment_intent_id": f"pi_{n}",
                    "test": n == 12,
                    **(place if linked else dict.fromkeys(place, "")),
                }
            )
    first = sales[0]
    refund = {
        "id": click_id(first["timestamp"] + DAY),
        "timestamp": first["timestamp"] + DAY,
        "workspace_id": "ws_1",
        "sale_id": first["id"],
        "link_id": first["link_id"],
        "click_id": first["click_id"],
        "customer_id": first["customer_id"],
        "charge_id": "ch_1",
        "amount": 1_000,
        "currency": "usd",
        "reporting_amount": 1_000,
        "reporting_currency": "usd",
        "refunded_total": 1_000,
        "test": False,
        **{name: first[name] for name in _where_from(0)},
    }
    with db.transaction() as session:
        session.execute(insert(click_events), click_rows)
        session.execute(insert(lead_events), leads)
        session.execute(insert(sale_events), sales)
        session.execute(insert(refund_events), [refund])


def ch_count(client: Any, table: str) -> int:
    return int(client.query(f"SELECT count() FROM {table}").result_rows[0][0])


def sql_count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return len(conn.execute(select(SOURCES[table].c.id)).all())


# --- URL and schema -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "chdb:///var/lib/codeqr/events",
        "clickhouse://default:secret@ch.internal:8123/codeqr",
        "https://abc.eu-west-1.aws.clickhouse.cloud:8443/codeqr",
    ],
)
def test_urls_of_a_clickhouse_are_accepted(url: str) -> None:
    assert clickhouse.check_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://db/codeqr", "unknown scheme"),
        ("chdb://relative/path", "absolute directory"),
        ("chdb:///", "absolute directory"),
        ("clickhouse:///codeqr", "needs a host"),
        ("ftp://ch.internal", "unknown scheme"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(clickhouse.EventsUrlError, match=why):
        clickhouse.check_url(url)


@pytest.mark.sqlite_only  # no relational database involved: run once
def test_migrations_run_once_and_are_recorded(ch: Any) -> None:
    assert clickhouse.migrate(ch) == [1, 2]
    assert clickhouse.migrate(ch) == []
    assert clickhouse.applied(ch) == [1, 2]
    tables = {row[0] for row in ch.query("SHOW TABLES").result_rows}
    assert set(clickhouse.TABLES) <= tables


@pytest.mark.sqlite_only
def test_conversions_become_replacing_tables_with_their_rows(ch: Any) -> None:
    """Migration 2 on tables that migration 1 made and filled: rows kept, and from then on
    a sale sent again with a higher version replaces its copy."""
    clickhouse.applied(ch)
    for statement in clickhouse.MIGRATIONS[0].statements:
        assert isinstance(statement, str)
        ch.command(statement)
    ch.insert("schema_migrations", [(1, "events tables")], ["version", "name"])
    names = [column.name for column in SOURCES["sale_events"].columns]
    sale_id = click_id(START)
    row = _ch_row(names, id=sale_id, amount=100)
    ch.insert("sale_events", [row], column_names=names)
    assert clickhouse.migrate(ch) == [2]
    engine = ch.query(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() "
        "AND name = 'sale_events'"
    ).result_rows[0][0]
    assert engine == "ReplacingMergeTree"
    assert ch.query("SELECT amount, _version FROM sale_events FINAL").result_rows == [(100, 0)]
    changed = _ch_row(names, id=sale_id, amount=250)
    ch.insert("sale_events", [[*changed, 7]], column_names=[*names, clickhouse.VERSION])
    assert ch.query("SELECT amount FROM sale_events FINAL").result_rows == [(250,)]
    # Cut short and run again (the tables are already rebuilt): nothing changes.
    for step in clickhouse.MIGRATIONS[1].statements:
        assert not isinstance(step, str)
        step(ch)
    assert ch.query("SELECT amount FROM sale_events FINAL").result_rows == [(250,)]


def _ch_row(names: list[str], **values: Any) -> list[Any]:
    """A sale row for ClickHouse: empty strings, no amounts converted, at ``START``."""
    row: dict[str, Any] = dict.fromkeys(names, "")
    row.update(workspace_id="ws_1", event_name="Purchase", currency="usd", test=False)
    row.update(reporting_currency="usd", fx_missing=False, payment_processor="custom")
    for nullable in ("link_id", "click_id", "customer_id", "reporting_amount", "fx_rate"):
        row[nullable] = None
    for nullable in ("fx_date", "invoice_id", "metadata", "stripe_customer_id"):
        row[nullable] = None
    row["payment_intent_id"] = None
    row["timestamp"] = datetime.fromtimestamp(START / 1000, tz=UTC)
    row.update(values)
    return [row[name] for name in names]


@pytest.mark.sqlite_only
def test_each_table_has_the_sql_tables_columns_in_their_order(ch: Any) -> None:
    clickhouse.migrate(ch)
    for table in clickhouse.TABLES:
        sql = [column.name for column in SOURCES[table].columns]
        if table in clickhouse.REPLACING_TABLES:
            sql.append(clickhouse.VERSION)  # which copy of a changed conversion is latest
        assert list(clickhouse.columns(ch, table)) == sql, table


@pytest.mark.sqlite_only
def test_the_schema_is_typed_for_the_queries(ch: Any) -> None:
    clickhouse.migrate(ch)
    clicks = clickhouse.columns(ch, "click_events")
    assert clicks["timestamp"] == "DateTime64(3, 'UTC')"
    for name in ("country", "device", "browser", "os", "referer", "trigger"):
        assert clicks[name] == "LowCardinality(String)", name
    assert clicks["ip"] == "Nullable(String)"
    sales = clickhouse.columns(ch, "sale_events")
    assert sales["reporting_amount"] == "Nullable(Int64)"
    assert sales["link_id"] == "Nullable(String)"
    (key, partition) = ch.query(
        "SELECT sorting_key, partition_key FROM system.tables "
        "WHERE database = currentDatabase() AND name = 'click_events'"
    ).result_rows[0]
    assert key == "workspace_id, timestamp, id"
    assert partition == "toYYYYMM(timestamp)"


@pytest.mark.sqlite_only
def test_an_insert_retried_with_its_token_adds_nothing(ch: Any) -> None:
    """A batch across two months (two parts), sent three times as a retry after a timeout
    would: stored once. Another batch with the same rows and another token is stored."""
    clickhouse.migrate(ch)
    names = list(clickhouse.columns(ch, "click_events"))
    base = dict.fromkeys(names, "")
    base["ip"] = None
    rows = []
    for n, at in enumerate([START, START + 2 * DAY, START + 3 * DAY]):  # Feb 27, Mar 1, Mar 2
        values = {**base, "id": click_id(at), "workspace_id": "ws_1", "link_id": "link_1"}
        values["timestamp"] = datetime.fromtimestamp(at / 1000, tz=UTC)
        values["ua"] = f"ua{n}"
        rows.append([values[name] for name in names])
    for _ in range(3):
        clickhouse.insert(ch, "click_events", names, rows, token="batch-1")
    assert ch_count(ch, "click_events") == 3
    clickhouse.insert(ch, "click_events", names, rows, token="batch-2")
    assert ch_count(ch, "click_events") == 6


# --- events copy ----------------------------------------------------------------------------


def test_copy_moves_every_event_and_the_days_agree(db: Database, ch: Any) -> None:
    fill(db)
    pages: list[tuple[str, int]] = []
    reports = copy_events(db, ch, page=7, progress=lambda table, rows: pages.append((table, rows)))
    for report in reports:
        assert report.copied == report.total == sql_count(db, report.table), report
        assert report.mismatched_days == [], report
        assert ch_count(ch, report.table) == report.total
    assert [r.table for r in reports] == list(clickhouse.TABLES)
    assert sum(rows for table, rows in pages if table == "click_events") == 60
    assert max(rows for _, rows in pages) == 7
    days = ch.query(
        "SELECT toDate(timestamp, 'UTC') AS day, count() FROM click_events GROUP BY day "
        "ORDER BY day"
    ).result_rows
    assert days == [
        (date(2026, 2, 27), 2),
        (date(2026, 2, 28), 24),
        (date(2026, 3, 1), 24),
        (date(2026, 3, 2), 10),
    ]


def test_copied_values_are_the_stored_ones(db: Database, ch: Any) -> None:
    fill(db, clicks=13)
    copy_events(db, ch)
    with db.engine.connect() as conn:
        sale = conn.execute(select(sale_events).where(sale_events.c.link_id.is_(None))).one()
        lead = next(row for row in conn.execute(select(lead_events)) if row.metadata)
        click = conn.execute(select(click_events).where(click_events.c.ip.is_not(None))).first()
    assert click is not None
    got = ch.query(
        "SELECT toUnixTimestamp64Milli(timestamp), link_id, reporting_amount, fx_missing, "
        "country FROM sale_events WHERE id = {id:String}",
        parameters={"id": sale.id},
    ).result_rows
    assert got == [(sale.timestamp, None, None, True, "")]
    (metadata,) = ch.query(
        "SELECT metadata FROM lead_events WHERE id = {id:String}", parameters={"id": lead.id}
    ).result_rows[0]
    assert json.loads(metadata) == lead.metadata
    (ms, ip, ua) = ch.query(
        "SELECT toUnixTimestamp64Milli(timestamp), ip, ua FROM click_events WHERE id = {id:String}",
        parameters={"id": click.id},
    ).result_rows[0]
    assert (ms, ip, ua) == (click.timestamp, click.ip, click.ua)


def test_a_stopped_copy_goes_on_where_it_stopped_and_doubles_nothing(db: Database, ch: Any) -> None:
    fill(db)

    class Stop(Exception):
        pass

    seen = 0

    def stop_after_three_pages(table: str, rows: int) -> None:
        nonlocal seen
        seen += 1
        if seen == 3:
            raise Stop

    with pytest.raises(Stop):
        copy_events(db, ch, page=10, progress=stop_after_three_pages)
    assert ch_count(ch, "click_events") == 30
    reports = copy_events(db, ch, page=10)
    assert [r.copied for r in reports] == [30, 20, 10, 1]
    for report in reports:
        assert report.mismatched_days == []
        assert ch_count(ch, report.table) == report.total


def test_a_page_whose_progress_was_lost_is_sent_again_and_adds_nothing(
    db: Database, ch: Any
) -> None:
    """Killed between a page's insert and its progress record: the next run reads the same
    page again (same bounds, same token), and ClickHouse drops the repeat."""
    fill(db)
    copy_events(db, ch, page=25, tables=("click_events",))
    assert ch_count(ch, "click_events") == 60
    ch.command("ALTER TABLE events_copy_progress DELETE WHERE page = 3 SETTINGS mutations_sync = 1")
    (report,) = copy_events(db, ch, page=25, tables=("click_events",))
    assert report.copied == 10, "the last page, sent again"
    assert ch_count(ch, "click_events") == 60
    assert report.mismatched_days == []


def test_days_that_differ_are_reported(db: Database, ch: Any) -> None:
    fill(db)
    copy_events(db, ch, tables=("click_events",))
    with db.transaction() as session:
        first = session.execute(select(click_events.c.id).order_by(click_events.c.id)).first()
        assert first is not None
        session.execute(delete(click_events).where(click_events.c.id == first.id))
    assert compare_days(db, ch, "click_events") == [(date(2026, 2, 27), 1, 2)]


@pytest.mark.sqlite_only  # the command on the embedded default
def test_the_command_copies_a_deployment_and_says_the_days_agree(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    fill(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env.update(CODEQR_DATA_DIR=str(settings.data_dir), CODEQR_SECRET_KEY="test-secret-key")
    target = f"chdb://{tmp_path / 'copied'}"
    done = subprocess.run(
        [CODEQR, "events", "copy", "--to", target, "--page", "16"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "click_events: 60 rows, 60 copied now" in done.stdout
    assert "counts per day equal in both stores" in done.stdout
    again = subprocess.run(
        [CODEQR, "events", "copy", "--to", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "click_events: 60 rows, 0 copied now" in again.stdout
    client = clickhouse.connect(target)
    try:
        assert ch_count(client, "click_events") == 60
        assert ch_count(client, "sale_events") == 10
    finally:
        client.close()


@pytest.mark.sqlite_only
def test_the_command_refuses_a_url_that_is_no_clickhouse(settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env.update(CODEQR_DATA_DIR=str(settings.data_dir))
    done = subprocess.run(
        [CODEQR, "events", "copy", "--to", "postgresql://db/x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "error: --to: unknown scheme 'postgresql'" in done.stderr


# --- the click rollups ----------------------------------------------------------------------


def _plans(db: Database, ch: Any, kind: Any, columns: tuple[str, ...], filters: list[Any]) -> str:
    """What ClickHouse reads for a breakdown of the ``fill`` data over its whole range."""
    from zoneinfo import ZoneInfo

    from codeqr.analytics.clickhouse import ClickHouseReader
    from codeqr.analytics.service import Scoped
    from codeqr.analytics.timeframe import Timeframe

    asked: list[tuple[str, dict[str, Any]]] = []
    query = ch.query

    def recording(sql: str, parameters: dict[str, Any]) -> Any:
        asked.append((sql, parameters))
        return query(sql, parameters=parameters)

    ch.query = recording
    scoped = Scoped(
        "ws_1", Timeframe(START - 1, START + 4 * DAY + 7, ZoneInfo("UTC"), None), filters
    )
    reader = ClickHouseReader(ch, in_process=True)
    with db.transaction() as session:
        rows = reader.grouped(session, scoped, kind, columns)
    ch.query = query
    ((sql, parameters),) = asked
    plan = ch.query(f"EXPLAIN projections = 1 {sql}", parameters=parameters).result_rows
    return f"{len(rows)} rows\n" + "\n".join(str(row[0]) for row in plan)


def test_a_long_breakdown_of_clicks_reads_a_rollup_and_the_edges_raw(db: Database, ch: Any) -> None:
    from codeqr.analytics.filters import FIELDS, Filter
    from codeqr.analytics.repository import Kind

    fill(db)
    copy_events(db, ch)
    plan = _plans(db, ch, Kind.clicks, ("country",), [])
    assert plan.startswith("3 rows"), plan
    assert "ReadFromMergeTree (country_device)" in plan, plan
    device = next(f for f in FIELDS if f.param == "device")
    plan = _plans(db, ch, Kind.clicks, ("country",), [Filter(device, ("Mobile",), False)])
    assert "ReadFromMergeTree (country_device)" in plan, plan
    # A click of a customer is known by its id, which no rollup holds: the clicks are read.
    customer = next(f for f in FIELDS if f.param == "customerId")
    plan = _plans(db, ch, Kind.clicks, ("country",), [Filter(customer, ("cus_3",), False)])
    assert "country_device" not in plan, plan


def test_clicks_looked_up_by_id_are_the_stored_ones(db: Database, ch: Any) -> None:
    """By id, through the range of the sort key their ids' milliseconds give."""
    from codeqr.analytics import repository as repo
    from codeqr.analytics.clickhouse import ClickHouseReader

    fill(db)
    copy_events(db, ch)
    with db.engine.connect() as conn:
        ids = [row.id for row in conn.execute(select(click_events.c.id))][5:40:7]
    reader = ClickHouseReader(ch, in_process=True)
    with db.transaction() as session:
        got = reader.clicks_by_id(session, "ws_1", [*ids, click_id(START)])
        expected = repo.clicks_by_id(session, "ws_1", ids)
        assert reader.clicks_by_id(session, "ws_2", ids) == {}
    assert set(got) == set(ids)
    assert {k: dict(v) for k, v in got.items()} == {k: dict(v) for k, v in expected.items()}

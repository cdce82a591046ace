"""Analytics on the ClickHouse events store (chdb, in-process) at 100 million clicks.

Generates one workspace with a year of events inside ClickHouse with its own functions
(``numbers()``, ``cityHash64``; nothing row by row from Python): 100,000,000 clicks,
1,000,000 leads and 100,000 sales over 200 links, its links in a SQLite database beside.
Then times the analytics service (the work of ``GET /api/analytics`` without HTTP) reading
through ``analytics.clickhouse.ClickHouseReader``, each query ``--repeat`` times. With
``--sqlite-clicks N`` the same queries run in the same run on the SQLite default holding N
clicks (``bench/analytics.py``'s data set and rollups), reported side by side, not targeted.
Usage::

    .venv/bin/python bench/clickhouse_analytics.py [--clicks 100000000] [--repeat 20]
        [--path DIR (reuse or keep the generated data)] [--sqlite-clicks 10000000]

Targets (issue 16): the median of each query it names (``TARGETED``) ≤ 150 ms and its max
≤ 500 ms over 20 runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from codeqr import migrate
from codeqr.analytics import rollup
from codeqr.analytics.clickhouse import ClickHouseReader
from codeqr.analytics.readers import SQL
from codeqr.events import clickhouse
from codeqr.kit.db import Database
from codeqr.workspace import service as ws

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import COUNTRIES, DEVICES, generate, time_cases

BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
# The queries issue 16 names; the others are measured for the dashboard.
TARGETED = (
    "count 30d",
    "count 1y",
    "composite count 1y",
    "timeseries 30d",
    "timeseries 1y",
    "timeseries 1y New_York",
    "countries 1y",
    "top_links 1y",
    "devices 1y",
    "countries 1y US & Mobile",
)
MEDIAN_MS = 150.0
MAX_MS = 500.0
YEAR_MS = 365 * 86_400_000
LINKS = 200

CASES: dict[str, dict[str, Any]] = {
    "count 30d": {"event": "clicks", "interval": "30d"},
    "count 1y": {"event": "clicks", "interval": "1y"},
    "composite count 1y": {"event": "composite", "interval": "1y"},
    "timeseries 30d": {"groupBy": "timeseries", "interval": "30d"},
    "timeseries 1y": {"groupBy": "timeseries", "interval": "1y"},
    "timeseries 1y New_York": {
        "groupBy": "timeseries",
        "timezone": "America/New_York",
        "interval": "1y",
    },
    "composite timeseries 1y": {"event": "composite", "groupBy": "timeseries", "interval": "1y"},
    "countries 1y": {"groupBy": "countries", "interval": "1y"},
    "top_links 1y": {"groupBy": "top_links", "interval": "1y"},
    "devices 1y": {"groupBy": "devices", "interval": "1y"},
    "utm_sources 1y": {"groupBy": "utm_sources", "interval": "1y"},
    "countries 1y US & Mobile": {
        "groupBy": "countries",
        "country": "US",
        "device": "Mobile",
        "interval": "1y",
    },
    "composite top_links 1y": {"event": "composite", "groupBy": "top_links", "interval": "1y"},
}


def _links(path: Path) -> str:
    """The relational side: the workspace and its links (no events); the workspace id."""
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        user = ws.create_user(session, "bench@example.com", "correct horse battery")
        workspace = ws.create_workspace(
            session, name="Bench", slug="bench", owner=user, plan="business"
        )
        workspace_id = workspace.id
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO links (id, workspace_id, domain, key, key_lower, url, track_conversion,"
            " archived, clicks, leads, sales, sale_amount, created_at, updated_at, utm_source)"
            " VALUES (?, ?, 'cq.test', ?, ?, ?, 1, 0, 0, 0, 0, 0, '2025-01-01', '2025-01-01', ?)",
            [
                (
                    f"lnk_{n}",
                    workspace_id,
                    f"lnk_{n}",
                    f"lnk_{n}",
                    f"https://x.test/{n}",
                    f"s{n % 7}",
                )
                for n in range(LINKS)
            ],
        )
    db.dispose()
    return workspace_id


def _pick(values: list[str], salt: int) -> str:
    """A ClickHouse expression choosing one of ``values`` by a hash of the row number."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"[{quoted}][cityHash64(number, {salt}) % {len(values)} + 1]"


_WHERE_FROM = (
    f"'cq.test', 'k', 'https://x.test/', 'link', {_pick(COUNTRIES, 2)}, 'R', 'City', 'EU', "
    f"{_pick(DEVICES, 3)}, {_pick(BROWSERS, 4)}"
)


def generate_events(client: Any, workspace_id: str, clicks: int, now_ms: int) -> None:
    """A year of events up to ``now_ms``, made by ClickHouse (see the module docstring)."""
    params = {"ws": workspace_id, "now": now_ms, "year": YEAR_MS}
    at = (
        "fromUnixTimestamp64Milli("
        "toInt64({now:Int64} - cityHash64(number, 0) % {year:Int64}), 'UTC')"
    )
    link = f"concat('lnk_', toString(cityHash64(number, 1) % {LINKS}))"
    client.command(
        f"""INSERT INTO click_events SELECT
            concat('c', leftPad(toString(number), 15, '0')), {at}, {{ws:String}}, {link},
            {_WHERE_FROM}, '1', 'OS', '1', 'Blink', 'ua', '(direct)', '',
            concat('h', toString(number)), NULL
        FROM numbers({clicks})""",
        parameters=params,
    )
    client.command(
        f"""INSERT INTO lead_events SELECT
            concat('l', leftPad(toString(number), 15, '0')), {at}, {{ws:String}}, {link},
            concat('c', leftPad(toString(number), 15, '0')), concat('cus', toString(number)),
            'Sign up', 1, NULL, false, {_WHERE_FROM}, 'OS', '(direct)', '', 0
        FROM numbers({clicks // 100})""",
        parameters=params,
    )
    client.command(
        f"""INSERT INTO sale_events SELECT
            concat('s', leftPad(toString(number), 15, '0')), {at}, {{ws:String}}, {link},
            concat('c', leftPad(toString(number), 15, '0')), concat('cus', toString(number)),
            'Purchase', 1000, 'USD', 1000, 'USD', NULL, NULL, false, 'custom',
            concat('in_', toString(number)), NULL, NULL, NULL, false,
            {_WHERE_FROM}, 'OS', '(direct)', '', 0
        FROM numbers({clicks // 1000})""",
        parameters=params,
    )
    for table in clickhouse.TABLES:  # the steady state: parts merged, as a day later
        client.command(f"OPTIMIZE TABLE {table} FINAL")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=100_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--path", type=Path, help="reuse (or keep) the generated data here")
    parser.add_argument("--sqlite-clicks", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.path or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        links_db = root / "links.db"
        fresh = not links_db.exists()
        workspace_id = _links(links_db) if fresh else ""
        client = clickhouse.connect(f"chdb://{(root / 'events').resolve()}")
        clickhouse.migrate(client)
        if fresh:
            started = time.perf_counter()
            generate_events(client, workspace_id, args.clicks, int(time.time() * 1000))
            print(f"generated {args.clicks:,} clicks in {time.perf_counter() - started:.1f} s")
        stored = client.query("SELECT count() FROM click_events").result_rows[0][0]
        print(f"ClickHouse {client.server_version} (chdb), {stored:,} clicks")
        db = Database(f"sqlite:///{links_db}")
        results = {
            "chdb": time_cases(
                db, CASES, args.repeat, ClickHouseReader(client, in_process=True), "chdb   "
            )
        }
        db.dispose()
        client.close()
        if args.sqlite_clicks:
            path = root / "sqlite.db"
            if not path.exists():
                started = time.perf_counter()
                generate(
                    path, args.sqlite_clicks, args.sqlite_clicks // 100, args.sqlite_clicks // 1000
                )
                print(f"SQLite: generated in {time.perf_counter() - started:.1f} s")
            sqlite = Database(f"sqlite:///{path}")
            migrate.upgrade(sqlite.engine)
            rollup.refresh(sqlite)
            results["sqlite"] = time_cases(sqlite, CASES, args.repeat, SQL, "sqlite ")
            sqlite.dispose()
    chdb = results["chdb"]

    def within(names: Any) -> bool:
        return all(chdb[n]["median_ms"] <= MEDIAN_MS and chdb[n]["max_ms"] <= MAX_MS for n in names)

    print(
        f"Issue targets on chdb (median ≤ {MEDIAN_MS:.0f} ms, max ≤ {MAX_MS:.0f} ms over "
        f"{args.repeat} runs; {', '.join(TARGETED)}): {'met' if within(TARGETED) else 'NOT met'}. "
        f"All cases: {'within' if within(chdb) else 'NOT all within'} those bounds."
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

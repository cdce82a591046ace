"""Analytics query benchmark on the embedded SQLite default.

Generates one workspace with a year of data (1M clicks, 100k leads, 10k sales by default,
over 200 links) in a fresh database, then times ``GET /api/analytics`` work (the service
call, without HTTP) for the queries the dashboard makes most. Usage::

    .venv/bin/python bench/analytics.py [--clicks 1000000] [--repeat 20] [--json FILE]

Targets (issue: analytics): every query's median ≤ 100 ms and max ≤ 300 ms over 20 runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from codeqr import migrate
from codeqr.analytics import rollup, service
from codeqr.analytics.readers import SQL, EventsReader
from codeqr.analytics.schemas import AnalyticsQuery
from codeqr.kit.db import Database
from codeqr.link.service import LinkContext
from codeqr.workspace import service as ws

COUNTRIES = ["US", "FR", "DE", "IN", "GB", "BR", "JP", "CA", "ES", "IT"]
DEVICES = ["Desktop", "Mobile", "Tablet"]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
YEAR_MS = 365 * 86_400_000
# The queries the analytics issue names; the other cases are measured for the dashboard.
TARGETED = (
    "count 30d",
    "count 1y",
    "timeseries 30d",
    "timeseries 1y",
    "countries 30d",
    "top_links 30d",
)
MEDIAN_MS = 100.0
MAX_MS = 300.0


def generate(path: Path, clicks: int, leads: int, sales: int) -> str:
    """Fill the database at ``path``; the workspace id."""
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        user = ws.create_user(session, "bench@example.com", "correct horse battery")
        workspace = ws.create_workspace(
            session, name="Bench", slug="bench", owner=user, plan="business"
        )
        workspace_id = workspace.id
    db.dispose()
    rng = random.Random(1)
    now = int(time.time() * 1000)
    conn = sqlite3.connect(path)
    links = [f"lnk_{n}" for n in range(200)]
    conn.executemany(
        "INSERT INTO links (id, workspace_id, domain, key, key_lower, url, track_conversion,"
        " archived, clicks, leads, sales, sale_amount, created_at, updated_at, utm_source)"
        " VALUES (?, ?, 'cq.test', ?, ?, ?, 1, 0, 0, 0, 0, 0, '2025-01-01', '2025-01-01', ?)",
        [
            (lk, workspace_id, lk, lk, f"https://x.test/{lk}", f"s{n % 7}")
            for n, lk in enumerate(links)
        ],
    )
    rows = []
    for n in range(clicks):
        country = rng.choice(COUNTRIES)
        rows.append(
            (
                f"c{n:015d}",
                now - rng.randrange(YEAR_MS),
                workspace_id,
                rng.choice(links),
                "cq.test",
                "k",
                "https://x.test/",
                "link",
                country,
                "R",
                "City",
                "EU",
                rng.choice(DEVICES),
                rng.choice(BROWSERS),
                "1",
                "OS",
                "1",
                "Blink",
                "ua",
                "(direct)",
                "",
                f"h{n}",
                None,
            )
        )
    # The redirect writes clicks as they happen: in time order, as here.
    rows.sort(key=lambda r: r[1])
    conn.executemany(f"INSERT INTO click_events VALUES ({', '.join('?' * 23)})", rows)
    snap = (
        "domain, key, url, trigger, country, region, city, continent, device, browser, os,"
        " referer, referer_url"
    )
    conn.executemany(
        "INSERT INTO lead_events (id, timestamp, workspace_id, link_id, click_id, customer_id,"
        f" event_name, event_quantity, {snap}) VALUES ({', '.join('?' * 21)})",
        [
            (
                f"l{n:015d}",
                r[1],
                workspace_id,
                r[3],
                r[0],
                f"cus{n}",
                "Sign up",
                1,
                *r[4:14],
                r[15],
                "(direct)",
                "",
            )
            for n, r in enumerate(rows[:: max(1, clicks // leads)][:leads])
        ],
    )
    conn.executemany(
        "INSERT INTO sale_events (id, timestamp, workspace_id, link_id, click_id, customer_id,"
        " event_name, amount, currency, reporting_amount, reporting_currency, fx_missing,"
        f" payment_processor, {snap}) VALUES ({', '.join('?' * 26)})",
        [
            (
                f"s{n:015d}",
                r[1],
                workspace_id,
                r[3],
                r[0],
                f"cus{n}",
                "Purchase",
                1000,
                "USD",
                1000,
                "USD",
                0,
                "custom",
                *r[4:14],
                r[15],
                "(direct)",
                "",
            )
            for n, r in enumerate(rows[:: max(1, clicks // sales)][:sales])
        ],
    )
    conn.commit()
    conn.close()
    return workspace_id


def time_cases(
    db: Database,
    cases: dict[str, dict[str, Any]],
    repeat: int,
    reader: EventsReader = SQL,
    label: str = "",
) -> dict[str, dict[str, float]]:
    """Each case's ``GET /api/analytics`` work for the ``bench`` workspace, ``repeat``
    times through ``reader``: its median and max in ms, printed as they come."""
    ctx = LinkContext("cq.test", "https://cq.test")
    results: dict[str, dict[str, float]] = {}
    with db.transaction() as session:
        workspace = ws.get_workspace(session, "bench")
        for name, params in cases.items():
            query = AnalyticsQuery.model_validate(params)
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                service.retrieve(session, ctx, workspace, query, reader)
                times.append((time.perf_counter() - t0) * 1000)
            results[name] = {"median_ms": statistics.median(times), "max_ms": max(times)}
            print(
                f"{label}{name:28s} median {results[name]['median_ms']:8.1f} ms"
                f"   max {results[name]['max_ms']:8.1f} ms",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--db", type=Path, help="reuse (or keep) the generated database here")
    parser.add_argument("--raw", action="store_true", help="read every click (no rollups)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        started = time.perf_counter()
        if not path.exists():
            generate(path, args.clicks, args.clicks // 10, args.clicks // 100)
            print(f"generated in {time.perf_counter() - started:.1f} s")
        db = Database(f"sqlite:///{path}")
        # What the server's rollup worker does at start and every few minutes.
        migrate.upgrade(db.engine)
        started = time.perf_counter()
        days = rollup.rebuild(db, now_ms=0) if args.raw else rollup.refresh(db)
        print(f"rolled up {days} days in {time.perf_counter() - started:.1f} s")
        today = datetime.now(UTC).date()
        month = {"start": (today - timedelta(days=29)).isoformat(), "end": today.isoformat()}
        year = {"interval": "1y"}
        cases: dict[str, dict[str, Any]] = {
            "count 30d": {"event": "clicks", **month},
            "count 1y": {"event": "clicks", **year},
            "composite count 30d": {"event": "composite", **month},
            "composite count 1y": {"event": "composite", **year},
            "timeseries 30d": {"groupBy": "timeseries", **month},
            "timeseries 1y": {"groupBy": "timeseries", **year},
            "timeseries 1y New_York": {
                "groupBy": "timeseries",
                "timezone": "America/New_York",
                **year,
            },
            "composite timeseries 30d": {"event": "composite", "groupBy": "timeseries", **month},
            "countries 30d": {"groupBy": "countries", **month},
            "top_links 30d": {"groupBy": "top_links", **month},
            "composite top_links 30d": {"event": "composite", "groupBy": "top_links", **month},
            "utm_sources 30d": {"groupBy": "utm_sources", **month},
            "countries 1y": {"groupBy": "countries", **year},
            "devices 1y": {"groupBy": "devices", **year},
            "top_links 1y": {"groupBy": "top_links", **year},
            "composite countries 1y": {"event": "composite", "groupBy": "countries", **year},
            "composite top_links 1y": {"event": "composite", "groupBy": "top_links", **year},
            "composite timeseries 1y": {"event": "composite", "groupBy": "timeseries", **year},
            "cities 1y Kolkata": {"groupBy": "cities", "timezone": "Asia/Kolkata", **year},
            "leads countries 1y": {"event": "leads", "groupBy": "countries", **year},
            "sales top_links 1y": {"event": "sales", "groupBy": "top_links", **year},
        }
        results = time_cases(db, cases, args.repeat)
        db.dispose()

    def within(names: Any) -> bool:
        return all(
            results[n]["median_ms"] <= MEDIAN_MS and results[n]["max_ms"] <= MAX_MS for n in names
        )

    print(
        f"Issue targets (median ≤ {MEDIAN_MS:.0f} ms, max ≤ {MAX_MS:.0f} ms over {args.repeat} "
        f"runs; {', '.join(TARGETED)}): {'met' if within(TARGETED) else 'NOT met'}. "
        f"All cases: {'within' if within(results) else 'NOT all within'} those bounds."
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Conversion tracking benchmark: ``track.lead`` and ``track.sale`` beside the redirect.

One CodeQR server pinned to one core (SQLite, the embedded default), wrk on the other, in
one run:

1. redirects of a tracked link, every request a distinct visitor (the clicks the leads need,
   and the redirect rate the issue's ratio is taken against);
2. ``POST /api/track/lead`` at 32 connections, each request a new customer on one of those
   clicks (customer created, lead stored, link counter moved, one transaction);
3. ``POST /api/track/sale`` at 32 connections, each request a new invoice for one of the
   customers of step 2, a third of them in EUR (converted at the ECB rate).

Afterwards the stored rows are counted against the 2xx answers wrk saw: every answered
request must have its lead or sale, nothing more. Usage::

    .venv/bin/python bench/track.py [--seconds 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HOST,
    SERVER_CPU,
    BenchError,
    Run,
    Server,
    describe_machine,
    free_port,
    measure,
    note,
    running,
)
from redirect import VENV_BIN, cli, code_version, codeqr_env

BENCH = Path(__file__).resolve().parent
TRACK_LUA = BENCH / "track.lua"
CONNECTIONS = 32
TARGET_RATE = 2_000
TARGET_P99_MS = 20.0
TARGET_RATIO = 0.15
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
SLUG = "bench"


@dataclass
class Phase:
    label: str
    rate: float
    p50_ms: float
    p99_ms: float
    answered: int
    bad_status: int
    stored: int


def count(db: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        return int(conn.execute(sql).fetchone()[0] or 0)


def phase(run: Run, stored: int) -> Phase:
    return Phase(
        label=run.label,
        rate=run.wrk.rate,
        p50_ms=run.wrk.p50_ms,
        p99_ms=run.wrk.p99_ms,
        answered=run.wrk.requests,
        bad_status=run.wrk.bad_status,
        stored=stored,
    )


def bench(seconds: int, work: Path) -> dict[str, Any]:
    data = work / "codeqr"
    data.mkdir()
    port = free_port()
    domain = f"{HOST}:{port}"
    env = codeqr_env(data, domain, "process")
    note("CodeQR: setting up a fresh instance with the CLI")
    cli(env, work, "users", "create", "--email", EMAIL, "--password", PASSWORD)
    workspace = ["workspaces", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL]
    cli(env, work, *workspace, "--plan", "business")
    token = str(cli(env, work, "keys", "create", "--workspace", SLUG)["key"])
    link = ["links", "create", "--workspace", SLUG, "--url", "https://example.com/pricing"]
    cli(env, work, *link, "--key", "tracked", "--track-conversion")
    db = data / "codeqr.db"
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    base = f"http://{domain}"
    phases: dict[str, Phase] = {}
    with running(Server("CodeQR", command, work / "codeqr.log", env=env, cwd=work)) as server:
        server.wait_ready(port, "/tracked")
        note("warm-up: redirects, then a few leads")
        measure("warm-up", server, base + "/tracked", CONNECTIONS, 3, "warm")

        note(f"redirects of the tracked link: {seconds} s")
        clicks_before = count(db, "SELECT COUNT(*) FROM click_events")
        run = measure(
            "redirect (tracked link)",
            server,
            base + "/tracked",
            CONNECTIONS,
            seconds,
            "redirect",
            patience=20,
        )
        phases["redirect"] = phase(
            run, count(db, "SELECT COUNT(*) FROM click_events") - clicks_before
        )

        ids = work / "clicks.txt"
        with contextlib.closing(sqlite3.connect(db)) as conn:
            rows = conn.execute("SELECT id FROM click_events ORDER BY id").fetchall()
        ids.write_text("\n".join(r[0] for r in rows) + "\n")

        measure(
            "warm-up lead",
            server,
            base + "/api/track/lead",
            CONNECTIONS,
            2,
            "warmlead",
            script=TRACK_LUA,
            script_args=("lead", token, str(ids)),
        )
        note(f"track.lead: {seconds} s at {CONNECTIONS} connections")
        leads_before = count(db, "SELECT COUNT(*) FROM lead_events")
        run = measure(
            "track.lead",
            server,
            base + "/api/track/lead",
            CONNECTIONS,
            seconds,
            "lead",
            patience=20,
            script=TRACK_LUA,
            script_args=("lead", token, str(ids)),
        )
        leads = count(db, "SELECT COUNT(*) FROM lead_events") - leads_before
        phases["lead"] = phase(run, leads)
        # Sales go to customers lead-1 … lead-N. Only the last CONNECTIONS requests wrk sent
        # can be unanswered, so every one up to answered - CONNECTIONS exists (the count of
        # rows would also take in warm-up leads that were still in flight).
        customers = max(1, run.wrk.requests - CONNECTIONS)

        note(f"track.sale: {seconds} s at {CONNECTIONS} connections")
        sales_before = count(db, "SELECT COUNT(*) FROM sale_events")
        run = measure(
            "track.sale",
            server,
            base + "/api/track/sale",
            CONNECTIONS,
            seconds,
            "sale",
            patience=20,
            script=TRACK_LUA,
            script_args=("sale", token, str(ids), str(customers), "lead"),
        )
        phases["sale"] = phase(run, count(db, "SELECT COUNT(*) FROM sale_events") - sales_before)
    return {
        "machine": asdict(describe_machine()),
        "code": code_version(),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "server_cpu": SERVER_CPU,
        "phases": {name: asdict(p) for name, p in phases.items()},
    }


def report(result: dict[str, Any]) -> tuple[str, bool]:
    phases = {k: Phase(**v) for k, v in result["phases"].items()}
    redirect = phases["redirect"].rate
    lines = [
        f"Conversion tracking, {result['connections']} connections, {result['seconds']} s per "
        f"run, server on CPU {result['server_cpu']}, code {result['code']}",
        "",
        "| run | requests/s | p50 | p99 | × redirect | answered | non-2xx/3xx | rows stored |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    ok = True
    for name, p in phases.items():
        ratio = p.rate / redirect if redirect else 0.0
        lines.append(
            f"| {p.label} | {p.rate:,.0f} | {p.p50_ms:.2f} ms | {p.p99_ms:.2f} ms | "
            f"{ratio:.2f} | {p.answered:,} | {p.bad_status} | {p.stored:,} |"
        )
        if name != "redirect":
            met = p.rate >= TARGET_RATE and p.p99_ms <= TARGET_P99_MS and ratio >= TARGET_RATIO
            ok = ok and met and p.bad_status == 0 and p.stored >= p.answered
    lines += [
        "",
        f"Targets: ≥ {TARGET_RATE:,}/s, p99 ≤ {TARGET_P99_MS:.0f} ms, ≥ {TARGET_RATIO} × the "
        f"redirect rate, every answered request stored: {'met' if ok else 'NOT met'}.",
    ]
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="codeqr-track-bench-") as tmp:
            result = bench(args.seconds, Path(tmp))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    text, ok = report(result)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

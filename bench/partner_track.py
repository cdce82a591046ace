"""Partner programs benchmark: ``track.sale`` on a partner's link against a plain link.

One CodeQR server pinned to one core (SQLite, the embedded default), wrk on the other, in
one run: a plain tracked link and a partner's link of a program with a 20% lifetime sale
reward. Distinct visitors click each link, customers sign up on each link's clicks
(``track.lead``), then ``POST /api/track/sale`` runs at 32 connections for the plain
link's customers and the partner's in turn (plain, partner, three times), every
request a new invoice, a third in EUR. The partner's sales each make a commission in the
sale's transaction. Afterwards the sales stored are counted against the 2xx answers, and
the commissions against the partner's sales. Usage::

    .venv/bin/python bench/partner_track.py [--seconds 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HOST,
    SERVER_CPU,
    BenchError,
    Server,
    describe_machine,
    free_port,
    measure,
    note,
    running,
)
from redirect import VENV_BIN, cli, code_version, codeqr_env
from track import CONNECTIONS, EMAIL, PASSWORD, SLUG, TRACK_LUA, Phase, count, phase

TARGET_RATIO = 0.8
LEAD_SECONDS = 5


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
    plain_id = str(cli(env, work, *link, "--key", "plain", "--track-conversion")["id"])
    reward = ["program", "reward", "--workspace", SLUG, "--event", "sale"]
    cli(env, work, *reward, "--type", "percentage", "--amount", "20", "--lifetime")
    db = data / "codeqr.db"
    # The business plan's API rate (1,200 a minute a key) would answer most requests 429:
    # lifted in this throw-away database, so the runs measure the work, not the limiter.
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("UPDATE plans SET api_rate_per_minute = 100000000 WHERE name = 'business'")
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    base = f"http://{domain}"
    phases: dict[str, Phase] = {}
    with running(Server("CodeQR", command, work / "codeqr.log", env=env, cwd=work)) as server:
        server.wait_ready(port, "/plain")
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
            made = api.post("/api/partners", json={"email": "partner@example.com"})
            if made.status_code != 201:
                raise BenchError(f"partner not created: {made.text}")
            partner_id = made.json()["id"]
            body = {"partnerId": partner_id, "url": "https://example.com/pricing", "key": "partner"}
            made = api.post("/api/partners/links", json=body)
            if made.status_code != 201:
                raise BenchError(f"partner link not created: {made.text}")
            link_ids = {"plain": plain_id, "partner": made.json()["id"]}
        measure("warm-up", server, base + "/plain", CONNECTIONS, 3, "warm")
        customers: dict[str, int] = {}
        for name in ("plain", "partner"):
            note(f"clicks on the {name} link")
            measure(f"clicks ({name})", server, f"{base}/{name}", CONNECTIONS, 4, f"c{name}")
            ids = work / f"clicks-{name}.txt"
            with contextlib.closing(sqlite3.connect(db)) as conn:
                rows = conn.execute(
                    "SELECT id FROM click_events WHERE link_id = ? ORDER BY id",
                    (link_ids[name],),
                ).fetchall()
            ids.write_text("\n".join(r[0] for r in rows) + "\n")
            note(f"track.lead on the {name} link's clicks: {LEAD_SECONDS} s")
            run = measure(
                f"track.lead ({name})",
                server,
                base + "/api/track/lead",
                CONNECTIONS,
                LEAD_SECONDS,
                f"{name}lead",
                script=TRACK_LUA,
                script_args=("lead", token, str(ids)),
            )
            customers[name] = max(1, run.wrk.requests - CONNECTIONS)
        ids_file = str(work / "clicks-plain.txt")  # read by the script, unused by sales
        cpu: dict[str, float] = {}
        for turn in (1, 2, 3):
            for name in ("plain", "partner"):
                label = f"track.sale ({name} link) #{turn}"
                note(f"{label}: {seconds} s at {CONNECTIONS} connections")
                before = count(db, "SELECT COUNT(*) FROM sale_events")
                run = measure(
                    label,
                    server,
                    base + "/api/track/sale",
                    CONNECTIONS,
                    seconds,
                    f"s{name}{turn}",
                    patience=20,
                    script=TRACK_LUA,
                    script_args=("sale", token, ids_file, str(customers[name]), f"{name}lead"),
                )
                stored = count(db, "SELECT COUNT(*) FROM sale_events") - before
                phases[f"{name}{turn}"] = phase(run, stored)
                cpu[f"{name}{turn}"] = run.server_cpu
        time.sleep(1)  # the last run's requests in flight when wrk stopped
        partner = link_ids["partner"]
        # One statement each, one snapshot: every partner sale has exactly one commission,
        # and every sale commission is a partner sale's.
        partner_sales = count(db, f"SELECT COUNT(*) FROM sale_events WHERE link_id = '{partner}'")
        mismatched = count(
            db,
            "SELECT (SELECT COUNT(*) FROM sale_events s WHERE s.link_id = "
            f"'{partner}' AND (SELECT COUNT(*) FROM commissions c WHERE c.type = 'sale' "
            "AND c.event_id = s.id) != 1) + (SELECT COUNT(*) FROM commissions c WHERE "
            "c.type = 'sale' AND NOT EXISTS (SELECT 1 FROM sale_events s WHERE s.id = "
            f"c.event_id AND s.link_id = '{partner}'))",
        )
    return {
        "machine": asdict(describe_machine()),
        "code": code_version(),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "server_cpu": SERVER_CPU,
        "phases": {name: asdict(p) for name, p in phases.items()},
        "server_cpu_share": cpu,
        "partner_sales": partner_sales,
        "mismatched": mismatched,
    }


def report(result: dict[str, Any], what: str = "track.sale") -> tuple[str, bool]:
    phases = {k: Phase(**v) for k, v in result["phases"].items()}
    cpu: dict[str, float] = result["server_cpu_share"]
    lines = [
        f"{what}, plain link vs partner link (20% lifetime sale reward), "
        f"{result['connections']} connections, {result['seconds']} s per run, server on CPU "
        f"{result['server_cpu']}, code {result['code']}",
        "",
        "| run | requests/s | p50 | p99 | server CPU | CPU µs/request | answered | non-2xx "
        "| sales stored |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    ok = True
    cost: dict[str, float] = {}
    for key, p in phases.items():
        cost[key] = cpu[key] / p.rate * 1e6 if p.rate else 0.0
        lines.append(
            f"| {p.label} | {p.rate:,.0f} | {p.p50_ms:.2f} ms | {p.p99_ms:.2f} ms | "
            f"{cpu[key]:.0%} | {cost[key]:,.0f} | {p.answered:,} | {p.bad_status} | "
            f"{p.stored:,} |"
        )
        ok = ok and p.bad_status == 0 and p.stored >= p.answered
    turns = sorted({k.removeprefix("plain") for k in phases if k.startswith("plain")})
    rates = sorted(phases[f"partner{t}"].rate / phases[f"plain{t}"].rate for t in turns)
    costs = sorted(cost[f"plain{t}"] / cost[f"partner{t}"] for t in turns)
    ratio, by_cost = rates[len(rates) // 2], costs[len(costs) // 2]
    one_each = result["mismatched"] == 0
    ok = ok and ratio >= TARGET_RATIO and one_each
    lines += [
        "",
        f"partner / plain requests/s, median of the {len(turns)} side-by-side pairs: "
        f"{ratio:.2f} (pairs {', '.join(f'{r:.2f}' for r in rates)}; target ≥ {TARGET_RATIO}); "
        f"by server CPU per request: {by_cost:.2f} "
        f"(pairs {', '.join(f'{r:.2f}' for r in costs)}). {result['partner_sales']:,} partner "
        f"sales, each with exactly one commission: "
        f"{'yes' if one_each else 'NO (' + str(result['mismatched']) + ' off)'}; "
        f"{'met' if ok else 'NOT met'}.",
    ]
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep", type=Path, help="work in this (new) directory, kept")
    args = parser.parse_args(argv)
    try:
        if args.keep:
            args.keep.mkdir(parents=True)
            result = bench(args.seconds, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="codeqr-partner-bench-") as tmp:
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

"""Stripe webhook benchmark: signed ``checkout.session.completed`` deliveries, each a new
attributable sale, verified, stored in the inbox and processed before the answer.

One CodeQR server pinned to one core (SQLite, the embedded default), wrk on the other at 16
connections. Every event is the shared Payment Link session (``tests/fixtures/stripe/events``) with
its own event id, session, payment intent and buyer, and a ``client_reference_id`` naming a
click of the workspace: each one finds the click, creates the customer, records the lead
"Sign up" and the sale, moves the counters and stamps the event handled, in one transaction.

Afterwards the stored sales and handled events are counted against the 2xx answers wrk saw.
Usage::

    .venv/bin/python bench/stripe_webhooks.py [--seconds 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
from track import Phase, count, phase

BENCH = Path(__file__).resolve().parent
STRIPE_LUA = BENCH / "stripe_webhooks.lua"
EVENT = (
    BENCH.parent
    / "tests"
    / "fixtures"
    / "stripe"
    / "events"
    / "checkout.session.completed.payment_link_client_reference_id.json"
)
CONNECTIONS = 16
TARGET_RATE = 500
TARGET_P99_MS = 50.0
SECRET = "whsec_bench_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
API_KEY = "rk_test_bench"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
SLUG = "bench"


def seed_clicks(db: Path, link_key: str, n: int, prefix: str = "b") -> list[str]:
    """``n`` clicks of the tracked link, written straight into the events table (the
    redirect benchmark measures making them; here they only need to exist); their ids
    start with ``prefix`` (one character)."""
    ids = [f"{prefix}{i:015d}" for i in range(n)]
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        workspace_id, link_id, domain = conn.execute(
            "SELECT workspace_id, id, domain FROM links WHERE key = ?", (link_key,)
        ).fetchone()
        now = int(time.time() * 1000)
        conn.executemany(
            "INSERT INTO click_events (id, timestamp, workspace_id, link_id, domain, key, url,"
            " trigger, country, region, city, continent, device, browser, browser_version, os,"
            " os_version, engine, ua, referer, referer_url, identity_hash) VALUES"
            " (?, ?, ?, ?, ?, ?, 'https://example.com/pricing', 'link', 'US', '', '', 'NA',"
            " 'Desktop', 'Chrome', '120', 'Linux', '', 'Blink', 'bench', '(direct)', '', ?)",
            [(c, now, workspace_id, link_id, domain, link_key, c) for c in ids],
        )
        conn.commit()
    return ids


def write_events(path: Path, tag: str, clicks: list[str]) -> None:
    """One signed event per click: a new session, payment and buyer each."""
    template = json.loads(EVENT.read_bytes())
    t = int(time.time())
    with path.open("w", encoding="utf-8") as out:
        for n, click in enumerate(clicks):
            event = copy.deepcopy(template)
            event["id"] = f"evt_{tag}_{n}"
            session = event["data"]["object"]
            session["id"] = f"cs_test_{tag}_{n}"
            session["payment_intent"] = f"pi_{tag}_{n}"
            session["client_reference_id"] = f"codeqr_id_{click}"
            session["customer_details"]["email"] = f"{tag}-{n}@example.com"
            body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
            mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
            out.write(f"t={t},v1={mac.hexdigest()}\t{body.decode()}\n")


def connect_account(env: dict[str, str], work: Path) -> dict[str, Any]:
    """``codeqr stripe connect`` with a restricted key, Stripe (the tests' stand-in, for this
    step only) vouching that the key is the account's; the run itself never calls Stripe."""
    sys.path.insert(0, str(BENCH.parent))  # the repository: the tests' Stripe stand-in
    from tests.stripe.standin import StripeStandIn

    standin = StripeStandIn()
    standin.add_account(ACCOUNT, API_KEY)
    standin.start()
    try:
        connect = ["stripe", "connect", "--workspace", SLUG, "--account", ACCOUNT]
        vouched = {**env, "CODEQR_STRIPE_API_BASE": standin.base}
        return cli(vouched, work, *connect, "--test-webhook-secret", SECRET, "--api-key", API_KEY)
    finally:
        standin.stop()


def bench(seconds: int, work: Path, profile: Path | None = None) -> dict[str, Any]:
    data = work / "codeqr"
    data.mkdir()
    port = free_port()
    domain = f"{HOST}:{port}"
    env = codeqr_env(data, domain, "process")
    note("CodeQR: setting up a fresh instance with the CLI")
    cli(env, work, "users", "create", "--email", EMAIL, "--password", PASSWORD)
    workspace = ["workspaces", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL]
    cli(env, work, *workspace, "--plan", "business")
    link = ["links", "create", "--workspace", SLUG, "--url", "https://example.com/pricing"]
    cli(env, work, *link, "--key", "tracked", "--track-conversion")
    hook = connect_account(env, work)
    db = data / "codeqr.db"
    # Enough distinct events that the run never repeats one, even at several times the target.
    per_run = max(20_000, seconds * 2_500)
    clicks = seed_clicks(db, "tracked", per_run + 5_000)
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    url = str(hook["webhookUrl"])
    phases: dict[str, Phase] = {}
    with running(Server("CodeQR", command, work / "codeqr.log", env=env, cwd=work)) as server:
        server.wait_ready(port, "/tracked")
        warm = work / "warm.tsv"
        write_events(warm, "warm", clicks[:5_000])
        note("warm-up: 3 s of deliveries")
        measure(
            "warm-up",
            server,
            url,
            CONNECTIONS,
            3,
            "warm",
            script=STRIPE_LUA,
            script_args=(str(warm),),
        )
        events = work / "events.tsv"
        write_events(events, "run", clicks[5_000:])
        note(f"signed checkout.session.completed deliveries: {seconds} s")
        sales_before = count(db, "SELECT COUNT(*) FROM sale_events")
        handled_before = count(
            db, "SELECT COUNT(*) FROM stripe_events WHERE handled_at IS NOT NULL"
        )
        spy = (
            subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(seconds),
                    "--format",
                    "raw",
                    "--output",
                    str(profile),
                    "--rate",
                    "200",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if profile
            else None
        )
        run = measure(
            "checkout.session.completed",
            server,
            url,
            CONNECTIONS,
            seconds,
            "stripe",
            patience=20,
            script=STRIPE_LUA,
            script_args=(str(events),),
        )
        if spy is not None:
            spy.wait(timeout=60)
        if run.wrk.sent is not None and run.wrk.sent >= per_run:
            raise BenchError("the run used up its distinct events: raise per_run")
        sales = count(db, "SELECT COUNT(*) FROM sale_events") - sales_before
        handled = (
            count(db, "SELECT COUNT(*) FROM stripe_events WHERE handled_at IS NOT NULL")
            - handled_before
        )
        phases["stripe"] = phase(run, min(sales, handled))
        unattributed = count(db, "SELECT COUNT(*) FROM sale_events WHERE customer_id IS NULL")
        if unattributed:
            raise BenchError(f"{unattributed} sales were not attributed")
    return {
        "machine": asdict(describe_machine()),
        "code": code_version(),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "server_cpu": SERVER_CPU,
        "phases": {name: asdict(p) for name, p in phases.items()},
    }


def report(result: dict[str, Any]) -> tuple[str, bool]:
    p = Phase(**result["phases"]["stripe"])
    ok = (
        p.rate >= TARGET_RATE
        and p.p99_ms <= TARGET_P99_MS
        and p.bad_status == 0
        and p.stored >= p.answered
    )
    lines = [
        f"Stripe webhooks, {result['connections']} connections, {result['seconds']} s, server "
        f"on CPU {result['server_cpu']}, code {result['code']}",
        "",
        "| run | events/s | p50 | p99 | answered | non-2xx | sales stored and events handled |",
        "|---|--:|--:|--:|--:|--:|--:|",
        f"| {p.label} | {p.rate:,.0f} | {p.p50_ms:.2f} ms | {p.p99_ms:.2f} ms | "
        f"{p.answered:,} | {p.bad_status} | {p.stored:,} |",
        "",
        f"Targets: ≥ {TARGET_RATE}/s, p99 ≤ {TARGET_P99_MS:.0f} ms, every answered event "
        f"stored and handled: {'met' if ok else 'NOT met'}.",
    ]
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--profile", type=Path, help="py-spy the server into this file")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="codeqr-stripe-bench-") as tmp:
            result = bench(args.seconds, Path(tmp), args.profile)
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

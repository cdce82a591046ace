"""The scale-out benchmark (issue 15): redirects with distinct visitors, in one run, on
(a) one process on SQLite, (b) one process on PostgreSQL + Redis, (c) ``--workers 2`` on
PostgreSQL + Redis.

    .venv/bin/python bench/scaleout.py [--duration 15] [--quick]

Every request is a new visitor of a link (``bench/distinct_visitors.lua``), so every answer
stores a click, and in (b) and (c) claims its visitor in Redis. (a) and (b) run the server
on CPU 0 and wrk on CPU 1, as ``bench/redirect.py`` does; PostgreSQL and Redis are not
pinned (they share the machine with wrk: that is the cost of the services). (c) lets its two
workers use both cores, beside wrk. After each run the clicks stored are counted against the
requests wrk sent. Needs wrk, taskset, PostgreSQL at ``CODEQR_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test, where a database of its own is made and dropped)
and Redis at ``CODEQR_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/13, flushed first).
Exit status: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from codeqr.events.models import click_events
from harness import (
    HOST,
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    ClickCheck,
    Run,
    Server,
    describe_machine,
    free_port,
    measure,
    note,
    running,
)
from redirect import VENV_BIN, cli, code_version

CONNECTIONS = 64
MIN_SERVICES_RATIO = 0.6
"""(b) at least this share of (a)."""
MAX_P99_MS = 15.0
"""p99 of (b) at 64 connections."""
EMAIL = "bench@example.com"
DESTINATION = "https://example.com/landing"


@dataclass
class Phase:
    name: str
    label: str
    runs: dict[str, Run]


def _database(admin_url: str) -> str:
    name = f"cq_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def _stored(url: str, link_id: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(click_events.c.link_id == link_id)
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def _settled(url: str, link_id: str) -> int:
    last = _stored(url, link_id)
    for _ in range(30):
        time.sleep(0.3)
        now = _stored(url, link_id)
        if now == last:
            return now
        last = now
    return last


def phase(
    work: Path,
    name: str,
    label: str,
    env: dict[str, str],
    db_url: str | None,
    seconds: int,
    warmup: int,
    *,
    workers: int = 1,
) -> Phase:
    """Set an instance up with the CLI, serve it, measure the untracked and tracked links."""
    work.mkdir(parents=True)
    port = free_port()
    env = {**env, "CODEQR_SHORT_DOMAIN": f"{HOST}:{port}", "CODEQR_DATA_DIR": str(work / "data")}
    cli(env, work, "users", "create", "--email", EMAIL, "--password", "bench-password-1")
    workspace = ["workspaces", "create", "--name", "Bench", "--slug", "bench", "--owner", EMAIL]
    cli(env, work, *workspace, "--plan", "business")
    link = ["links", "create", "--workspace", "bench", "--url", DESTINATION]
    plain = str(cli(env, work, *link, "--key", "bench")["id"])
    tracked = str(cli(env, work, *link, "--key", "tracked", "--track-conversion")["id"])
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    cpus = None
    if workers > 1:
        command += ["--workers", str(workers)]
        cpus = f"{SERVER_CPU},{LOAD_CPU}"
    runs: dict[str, Run] = {}
    with running(
        Server(label, command, work / "server.log", env=env, cwd=work, cpus=cpus)
    ) as server:
        server.wait_ready(port, "/bench")
        base = f"http://{HOST}:{port}"
        note(f"{label}: warm-up {warmup} s")
        measure(f"{label} warm-up", server, base + "/bench", CONNECTIONS, warmup, f"{name}-w")
        database = db_url or f"sqlite:///{work / 'data' / 'codeqr.db'}"
        for kind, link_id, path in (
            ("untracked", plain, "/bench"),
            ("tracked", tracked, "/tracked"),
        ):
            note(f"{label}, {kind} link: {seconds} s at {CONNECTIONS} connections")
            before = _stored(database, link_id)
            run = measure(label, server, base + path, CONNECTIONS, seconds, f"{name}-{kind}")
            stored = _settled(database, link_id) - before
            run.clicks = ClickCheck(stored, run.wrk.sent, run.wrk.requests, run.wrk.bad_status)
            runs[kind] = run
    return Phase(name, label, runs)


def main(argv: list[str] | None = None) -> int:
    """Run the three set-ups one after another and print the report."""
    parser = argparse.ArgumentParser(description="CodeQR scale-out benchmark")
    parser.add_argument("--duration", type=int, help="seconds per run (default 15; 5 with --quick)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seconds = args.duration or (5 if args.quick else 15)
    warmup = 1 if args.quick else 2
    admin = os.environ.get("CODEQR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("CODEQR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(
                f"bench/scaleout.py: missing {tool} (apt-get install wrk util-linux)",
                file=sys.stderr,
            )
            return 2
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    base_env["CODEQR_SECRET_KEY"] = "bench-secret"
    machine = describe_machine()
    code = code_version()
    os.sched_setaffinity(0, {LOAD_CPU})
    phases: list[Phase] = []
    try:
        with tempfile.TemporaryDirectory(prefix="codeqr-scaleout-") as tmp:
            work = Path(tmp)
            a = phase(work / "a", "a", "(a) 1 process, SQLite", base_env, None, seconds, warmup)
            phases.append(a)
            for name, workers in (("b", 1), ("c", 2)):
                db = _database(admin)
                redis.Redis.from_url(redis_url).flushdb()
                env = {**base_env, "CODEQR_DATABASE_URL": db, "CODEQR_REDIS_URL": redis_url}
                label = (
                    "(b) 1 process, PostgreSQL + Redis"
                    if workers == 1
                    else "(c) --workers 2, PostgreSQL + Redis"
                )
                try:
                    phases.append(
                        phase(work / name, name, label, env, db, seconds, warmup, workers=workers)
                    )
                finally:
                    _drop(admin, db)
    except BenchError as exc:
        print(f"bench/scaleout.py: {exc}", file=sys.stderr)
        return 2
    return report(phases, machine, code, seconds, argv)


def report(
    phases: list[Phase], machine: object, code: str, seconds: int, argv: list[str] | None
) -> int:
    """Print the Markdown for docs/benchmarks.md; 0 when every target is met."""
    by = {p.name: p for p in phases}
    rate = {n: p.runs["untracked"].wrk.rate for n, p in by.items()}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python", "bench/scaleout.py", *(argv or sys.argv[1:])])
    print(f"### Scale-out, {when} ({code})\n")
    print(f"`{command}`; {machine}\n")
    print("| set-up | link | redirects/s | p50 ms | p99 ms | server CPU | clicks stored / sent |")
    print("|---|---|---:|---:|---:|---:|---|")
    for p in phases:
        for kind, run in p.runs.items():
            w = run.wrk
            stored = f"{run.clicks.stored:,} / {run.clicks.sent or 0:,}" if run.clicks else "-"
            print(
                f"| {p.label} | {kind} | {w.rate:,.0f} | {w.p50_ms:.2f} | {w.p99_ms:.2f} "
                f"| {run.server_cpu:.2f} | {stored} |"
            )
    ok = True
    print()
    if "b" in rate and "a" in rate:
        ratio = rate["b"] / rate["a"]
        met = ratio >= MIN_SERVICES_RATIO
        ok &= met
        print(
            f"- (b)/(a) = {ratio:.2f} (target ≥ {MIN_SERVICES_RATIO}): {'met' if met else 'MISSED'}"
        )
        p99 = by["b"].runs["untracked"].wrk.p99_ms
        met = p99 <= MAX_P99_MS
        ok &= met
        verdict = "met" if met else "MISSED"
        print(f"- p99 of (b) = {p99:.2f} ms (target ≤ {MAX_P99_MS:.0f} ms): {verdict}")
    if "c" in rate and "b" in rate:
        print(f"- (c)/(b) = {rate['c'] / rate['b']:.2f}")
    lost = [
        f"{p.label} {kind}"
        for p in phases
        for kind, run in p.runs.items()
        if run.clicks is not None and not run.clicks.ok
    ]
    ok &= not lost
    print(f"- every answered click stored: {'yes' if not lost else 'NO: ' + ', '.join(lost)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

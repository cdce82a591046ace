"""The scale-out benchmark (issue 15): redirects with distinct visitors, in one run, on
(a) one process on SQLite, (b) one process on PostgreSQL + Redis, (c) ``--workers 2`` on
PostgreSQL + Redis.

    .venv/bin/python bench/scaleout.py [--duration 15] [--rounds 3] [--quick]

Every request is a new visitor of a link (``bench/distinct_visitors.lua``), so every answer
stores a click, and in (b) and (c) claims its visitor in Redis. (a) and (b) run the server
on CPU 0 and wrk on CPU 1, as ``bench/redirect.py`` does; PostgreSQL and Redis are not
pinned (they share the machine with wrk: that is the cost of the services). (c) lets its two
workers use both cores, beside wrk. The three are served side by side for the whole run and
measured in rounds, one run of each in turn, so that the machine's drift falls on all alike;
ratios are medians of the rounds' ratios. After each run the clicks stored are counted
against the requests wrk sent. Needs wrk, taskset, PostgreSQL's server binaries (the
benchmark starts a server of its own, configured as docs/operations.md recommends and with
its WAL recycled: ``bench/own_postgres.py`` says why), or with ``--postgres-url`` (or
``CODEQR_BENCH_POSTGRES_URL``) a running server, where databases of its own are made and
dropped; and Redis at ``CODEQR_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/13,
flushed first).
Exit status: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
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
from own_postgres import own_postgres
from redirect import VENV_BIN, cli, code_version

CONNECTIONS = 64
MIN_SERVICES_RATIO = 0.6
"""(b) at least this share of (a)."""
MAX_P99_MS = 15.0
"""p99 of (b) at 64 connections."""
EMAIL = "bench@example.com"
DESTINATION = "https://example.com/landing"


@dataclass
class Instance:
    """One set-up, served for the whole benchmark: its runs are taken in rounds, alternating
    with the other set-ups', so a drift of the machine's speed (this VM's runs of one set-up
    vary by ±20% from minute to minute) falls on all of them alike."""

    name: str
    label: str
    server: Server
    base: str
    database: str
    links: dict[str, tuple[str, str]]
    """By kind of link: its id and path."""
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, kind: str) -> Run:
        """The run of the median rate (the lower of the two middle ones)."""
        runs = sorted(self.runs[kind], key=lambda run: run.wrk.rate)
        return runs[(len(runs) - 1) // 2]


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


def start(
    stack: contextlib.ExitStack,
    work: Path,
    name: str,
    label: str,
    env: dict[str, str],
    db_url: str | None,
    warmup: int,
    *,
    workers: int = 1,
) -> Instance:
    """Set an instance up with the CLI and serve it (until ``stack`` closes), warmed up."""
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
    server = stack.enter_context(
        running(Server(label, command, work / "server.log", env=env, cwd=work, cpus=cpus))
    )
    server.wait_ready(port, "/bench")
    base = f"http://{HOST}:{port}"
    note(f"{label}: warm-up {warmup} s")
    measure(f"{label} warm-up", server, base + "/bench", CONNECTIONS, warmup, f"{name}-w")
    database = db_url or f"sqlite:///{work / 'data' / 'codeqr.db'}"
    links = {"untracked": (plain, "/bench"), "tracked": (tracked, "/tracked")}
    return Instance(name, label, server, base, database, links, {k: [] for k in links})


def take_run(instance: Instance, kind: str, seconds: int, round_: int) -> None:
    """One wrk run on one link of ``instance``, its stored clicks counted against it."""
    link_id, path = instance.links[kind]
    note(f"{instance.label}, {kind} link, round {round_}: {seconds} s at {CONNECTIONS} connections")
    before = _stored(instance.database, link_id)
    tag = f"{instance.name}-{kind}-{round_}"
    run = measure(instance.label, instance.server, instance.base + path, CONNECTIONS, seconds, tag)
    stored = _settled(instance.database, link_id) - before
    run.clicks = ClickCheck(stored, run.wrk.sent, run.wrk.requests, run.wrk.bad_status)
    instance.runs[kind].append(run)


def main(argv: list[str] | None = None) -> int:
    """Serve the three set-ups side by side, run them in alternating rounds, report."""
    parser = argparse.ArgumentParser(description="CodeQR scale-out benchmark")
    parser.add_argument("--duration", type=int, help="seconds per run (default 15; 5 with --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="runs per set-up and link (3)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CODEQR_BENCH_POSTGRES_URL"),
        help="a running server's admin URL (default: start one of the benchmark's own)",
    )
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    seconds = args.duration or (5 if args.quick else 15)
    warmup = 1 if args.quick else 2
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
    instances: list[Instance] = []
    databases: list[str] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="codeqr-scaleout-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            admin = args.postgres_url or stack.enter_context(own_postgres())
            work = Path(tmp)
            label = "(a) 1 process, SQLite"
            instances.append(start(stack, work / "a", "a", label, base_env, None, warmup))
            redis.Redis.from_url(redis_url).flushdb()
            for name, workers in (("b", 1), ("c", 2)):
                db = _database(admin)
                databases.append(db)
                # One Redis for both: their links' ids differ, and so do their visitors' keys.
                env = {**base_env, "CODEQR_DATABASE_URL": db, "CODEQR_REDIS_URL": redis_url}
                label = (
                    "(b) 1 process, PostgreSQL + Redis"
                    if workers == 1
                    else "(c) --workers 2, PostgreSQL + Redis"
                )
                instances.append(
                    start(stack, work / name, name, label, env, db, warmup, workers=workers)
                )
            for round_ in range(1, rounds + 1):
                for kind in ("untracked", "tracked"):
                    for instance in instances:
                        take_run(instance, kind, seconds, round_)
    except BenchError as exc:
        print(f"bench/scaleout.py: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.postgres_url:  # its own server went with everything on it
            for db in databases:
                _drop(args.postgres_url, db)
    return report(instances, machine, code, seconds, argv)


def report(
    instances: list[Instance], machine: object, code: str, seconds: int, argv: list[str] | None
) -> int:
    """Print the Markdown for docs/benchmarks.md; 0 when every target is met."""
    by = {i.name: i for i in instances}
    rounds = len(instances[0].runs["untracked"])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python", "bench/scaleout.py", *(argv or sys.argv[1:])])
    print(f"### Scale-out, {when} ({code})\n")
    print(f"`{command}`; {machine}\n")
    print(
        f"{rounds} rounds of {seconds} s runs, the set-ups alternating; each row is the run "
        "of the median rate, the last column every round's rate.\n"
    )
    print(
        "| set-up | link | redirects/s | p50 ms | p99 ms | server CPU | clicks stored / sent "
        "| rounds (redirects/s) |"
    )
    print("|---|---|---:|---:|---:|---:|---|---|")
    for instance in instances:
        for kind, runs in instance.runs.items():
            w = (run := instance.median(kind)).wrk
            stored = sum(r.clicks.stored for r in runs if r.clicks)
            sent = sum((r.clicks.sent or 0) for r in runs if r.clicks)
            rates = ", ".join(f"{r.wrk.rate:,.0f}" for r in runs)
            print(
                f"| {instance.label} | {kind} | {w.rate:,.0f} | {w.p50_ms:.2f} | {w.p99_ms:.2f} "
                f"| {run.server_cpu:.2f} | {stored:,} / {sent:,} | {rates} |"
            )

    def ratio(top: str, bottom: str, kind: str = "untracked") -> float:
        """The median over rounds of the round's ratio of rates on ``kind``'s link."""
        pairs = zip(by[top].runs[kind], by[bottom].runs[kind], strict=True)
        return statistics.median(t.wrk.rate / b.wrk.rate for t, b in pairs)

    ok = True
    print()
    if "b" in by and "a" in by:
        b_over_a = ratio("b", "a")
        met = b_over_a >= MIN_SERVICES_RATIO
        ok &= met
        verdict = "met" if met else "MISSED"
        target = f"target ≥ {MIN_SERVICES_RATIO}"
        print(f"- (b)/(a) = {b_over_a:.2f} (median of rounds; {target}): {verdict}")
        print(f"- (b)/(a) on the tracked link = {ratio('b', 'a', 'tracked'):.2f} (for reference)")
        p99s = [r.wrk.p99_ms for r in by["b"].runs["untracked"]]
        p99 = statistics.median(p99s)
        met = p99 <= MAX_P99_MS
        ok &= met
        verdict = "met" if met else "MISSED"
        target = f"target ≤ {MAX_P99_MS:.0f} ms"
        each = ", ".join(f"{v:.1f}" for v in p99s)
        print(f"- p99 of (b) = {p99:.2f} ms (median of rounds {each}; {target}): {verdict}")
    if "c" in by and "b" in by:
        print(f"- (c)/(b) = {ratio('c', 'b'):.2f} (median of rounds)")
    lost = [
        f"{i.label} {kind} round {n}"
        for i in instances
        for kind, runs in i.runs.items()
        for n, run in enumerate(runs, 1)
        if run.clicks is not None and not run.clicks.ok
    ]
    ok &= not lost
    print(f"- every answered click stored: {'yes' if not lost else 'NO: ' + ', '.join(lost)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

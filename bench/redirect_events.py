"""Redirects with events in ClickHouse (chdb) beside the SQLite default, in one run.

    .venv/bin/python bench/redirect_events.py [--rounds 3] [--duration 10]

Two fresh CodeQR servers set up alike with the CLI: the embedded default, and the same with
``CODEQR_EVENTS_URL=chdb:///…`` (clicks still land in SQLite with their counters before each
302, and a thread of the same process ships them to ClickHouse). Each runs alone on CPU 0,
wrk on CPU 1, 64 connections, every request a distinct visitor; the two are measured in
alternating rounds, so a slow minute of this VM falls on both. After the runs every server is
stopped and ClickHouse is counted: each click stored in SQLite must be there exactly once.
Issue 16's target: chdb at least 0.8 of the default's rate. Exit status: 0 met, 1 missed, 2
the benchmark could not run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from harness import HOST, LOAD_CPU, BenchError, Server, free_port, note
from redirect import (
    DESTINATION,
    EMAIL,
    PASSWORD,
    SLUG,
    VENV_BIN,
    Clicks,
    check_tools,
    cli,
    codeqr_env,
    measure_codeqr,
)

CONNECTIONS = 64
TARGET = 0.8


class Instance:
    """One CodeQR server and its data, set up with the CLI."""

    def __init__(self, work: Path, name: str, events_url: str | None) -> None:
        self.name = name
        self.data = work / name
        self.data.mkdir(parents=True)
        self.port = free_port()
        self.env = codeqr_env(self.data, f"{HOST}:{self.port}", "process")
        self.events_url = events_url
        if events_url:
            self.env["CODEQR_EVENTS_URL"] = events_url
        cli(self.env, work, "users", "create", "--email", EMAIL, "--password", PASSWORD)
        workspace = ["workspaces", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL]
        cli(self.env, work, *workspace, "--plan", "business")
        link = ["links", "create", "--workspace", SLUG, "--url", DESTINATION, "--key", "bench"]
        self.link_id = str(cli(self.env, work, *link)["id"])
        self.work = work
        self.clicks = Clicks(self.data / "codeqr.db")
        self.rates: list[float] = []
        self.starts = 0
        self._server: Server | None = None

    @property
    def server(self) -> Server:
        assert self._server is not None, "not started"
        return self._server

    def start(self) -> None:
        self.starts += 1
        command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(self.port)]
        log = self.work / f"{self.name}-{self.starts}.log"
        self._server = Server(self.name, command, log, env=self.env, cwd=self.work)
        self.server.wait_ready(self.port, "/bench")

    def run(self, seconds: int, tag: str, *, warmup: bool = False) -> None:
        url = f"http://{HOST}:{self.port}/bench"
        run = measure_codeqr(
            self.name, self.server, self.clicks, self.link_id, url, CONNECTIONS, seconds, tag,
            patience=0.0 if warmup else 30.0,
        )  # fmt: skip
        checked = run.clicks
        if checked is not None and not checked.ok:
            raise BenchError(f"{self.name}: {checked} (a click lost or a bad answer)")
        if not warmup:
            self.rates.append(run.wrk.rate)
            note(f"  {self.name}: {run.wrk.rate:,.0f}/s, p99 {run.wrk.p99_ms:.1f} ms")


def clickhouse_clicks(url: str, link_id: str) -> tuple[int, int]:
    """``(rows, distinct ids)`` of the link's clicks in ClickHouse (its server stopped)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from codeqr.events import clickhouse

    client = clickhouse.connect(url)
    try:
        rows = client.query(
            "SELECT count(), uniqExact(id) FROM click_events WHERE link_id = {l:String}",
            parameters={"l": link_id},
        ).result_rows
    finally:
        client.close()
    return int(rows[0][0]), int(rows[0][1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Redirects with events in chdb vs SQLite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    args = parser.parse_args(argv)
    try:
        check_tools()
        os.sched_setaffinity(0, {LOAD_CPU})
        with tempfile.TemporaryDirectory(prefix="codeqr-bench-events-") as tmp:
            work = Path(tmp)
            note("setting up two fresh instances with the CLI")
            sqlite = Instance(work, "sqlite", None)
            chdb = Instance(work, "chdb", f"chdb://{work / 'events'}")
            pair = (sqlite, chdb)
            for number in range(args.rounds):
                note(f"round {number + 1} of {args.rounds}")
                for one in pair if number % 2 == 0 else reversed(pair):
                    one.start()
                    try:
                        one.run(2, f"warmup-{one.name}-{number}", warmup=True)
                        one.run(args.duration, f"run-{one.name}-{number}")
                    finally:
                        one.server.stop()
            stored = chdb.clicks.stored(chdb.link_id)
            assert chdb.events_url is not None
            rows, distinct = clickhouse_clicks(chdb.events_url, chdb.link_id)
    except BenchError as exc:
        print(f"bench/redirect_events.py: {exc}", file=sys.stderr)
        return 2
    base = statistics.median(sqlite.rates)
    got = statistics.median(chdb.rates)
    ratio = got / base
    met = ratio >= TARGET and rows == distinct == stored
    print("| events store | redirects/s per round | median | ratio |")
    print("|---|---|---:|---:|")
    for one in (sqlite, chdb):
        rounds = ", ".join(f"{rate:,.0f}" for rate in one.rates)
        median = statistics.median(one.rates)
        print(f"| {one.name} | {rounds} | {median:,.0f} | {median / base:.2f} |")
    print(
        f"\nchdb: {stored:,} clicks stored in SQLite, {rows:,} rows in ClickHouse "
        f"({distinct:,} distinct ids); target ratio >= {TARGET}: {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

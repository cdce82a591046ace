"""The redirect benchmark: CodeQR beside nginx and a bare ASGI app, in one run.

    .venv/bin/python bench/redirect.py [--duration 15] [--quick]

Each server runs alone on CPU 0 and wrk on CPU 1, 64 connections, every request a distinct
visitor (``bench/distinct_visitors.lua``), so that every CodeQR redirect stores a click before
its 302 leaves. After each CodeQR run the clicks in the database are counted against the
requests wrk sent, and the server's RSS is read after 100k and 1M redirects (20k and 200k with
``--quick``). The report is printed as Markdown for docs/benchmarks.md and kept as JSON in
bench/results/. Exit status: 0 every target met, 1 a target missed, 2 the benchmark could not
run. Only 127.0.0.1 is used; every process started here is stopped on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

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
    nginx_path,
    note,
    rss_kib,
    running,
)
from report import CONNECTIONS, CodeQRResult, Memory, Options, Report, judge, markdown, save

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"

EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
SLUG = "bench"
DESTINATION = "https://example.com/landing"
MEMORY_CAP_S = 1800
"""Longest the memory run may take to reach its last mark."""


def check_tools() -> None:
    """wrk, nginx and taskset, or the command that installs them."""
    missing = [
        name
        for name, found in (("wrk", shutil.which("wrk")), ("nginx-light", nginx_path()))
        if not found
    ]
    if missing:
        raise BenchError(
            f"missing: {', '.join(missing)}; install with\n"
            f"  sudo apt-get install -y {' '.join(missing)}"
        )
    if shutil.which("taskset") is None:
        raise BenchError("missing: taskset; install with\n  sudo apt-get install -y util-linux")
    if not (VENV_BIN / "codeqr").exists():
        raise BenchError("no .venv/bin/codeqr; run `make install` first")
    allowed = os.sched_getaffinity(0)
    if not {SERVER_CPU, LOAD_CPU} <= allowed:
        raise BenchError(f"needs CPUs {SERVER_CPU} and {LOAD_CPU}; allowed here: {sorted(allowed)}")


class Clicks:
    """Counts in CodeQR's SQLite file, read beside the running server (WAL allows it)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def _scalar(self, sql: str, params: tuple[str, ...] = ()) -> int:
        with contextlib.closing(sqlite3.connect(self.db, timeout=30, isolation_level=None)) as conn:
            row = conn.execute(sql, params).fetchone()
        return int(row[0] or 0)

    def stored(self, link_id: str) -> int:
        """Rows in ``click_events`` for one link."""
        return self._scalar("SELECT COUNT(*) FROM click_events WHERE link_id = ?", (link_id,))

    def settled(self, link_id: str, timeout: float = 10.0) -> int:
        """``stored`` once it stops moving (the last requests may still be committing)."""
        last = self.stored(link_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.stored(link_id)
            if now == last:
                return now
            last = now
        return last


class RssWatch(threading.Thread):
    """Reads the server's RSS when the redirects it has served cross each mark."""

    def __init__(self, pid: int, db: Path, marks: tuple[int, ...]) -> None:
        super().__init__(name="rss-watch", daemon=True)
        self.pid = pid
        self.db = db
        self.marks = marks
        self.samples: dict[int, tuple[int, int]] = {}
        """mark → (redirects when read, RSS in KiB)."""
        self.redirects = 0
        self.error: str | None = None
        self.finished = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        """Poll the links' click counters (one row each, cheap) ten times a second."""
        try:
            with contextlib.closing(
                sqlite3.connect(self.db, timeout=30, isolation_level=None)
            ) as conn:
                while not self._halt.is_set() and len(self.samples) < len(self.marks):
                    (total,) = conn.execute("SELECT COALESCE(SUM(clicks), 0) FROM links").fetchone()
                    self.redirects = int(total)
                    for mark in self.marks:
                        if mark not in self.samples and self.redirects >= mark:
                            self.samples[mark] = (self.redirects, rss_kib(self.pid))
                    time.sleep(0.1)
        except Exception as exc:
            self.error = repr(exc)
        finally:
            self.finished.set()

    def halt(self) -> None:
        """Stop polling and wait for the thread."""
        self._halt.set()
        self.join(timeout=10)


def measure_codeqr(
    label: str,
    server: Server,
    clicks: Clicks,
    link_id: str,
    url: str,
    connections: int,
    seconds: int,
    tag: str,
    until: threading.Event | None = None,
    patience: float = 0.0,
) -> Run:
    """``measure``, then count the clicks the run stored against the requests wrk sent."""
    before = clicks.stored(link_id)
    run = measure(label, server, url, connections, seconds, tag, until, patience)
    run.clicks = ClickCheck(
        stored=clicks.settled(link_id) - before,
        sent=run.wrk.sent,
        completed=run.wrk.requests,
        bad_status=run.wrk.bad_status,
    )
    return run


# -- the three servers -----------------------------------------------------------------------


def baseline(server: Server, port: int, label: str, opts: Options) -> Run:
    """Warm a baseline server up, then measure it at 64 connections."""
    url = f"http://{HOST}:{port}/bench"
    note(f"{label}: warm-up {opts.warmup} s, then {opts.seconds} s")
    measure(f"{label} warm-up", server, url, CONNECTIONS, opts.warmup, f"warmup-{port}")
    return measure(
        label, server, url, CONNECTIONS, opts.seconds, f"run-{port}", patience=opts.wait_idle
    )


def nginx_phase(work: Path, opts: Options) -> Run:
    """The ceiling: nginx answering ``return 302`` from a config written for this run."""
    port = free_port()
    prefix = work / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    template = string.Template((BENCH / "nginx.conf.template").read_text())
    conf.write_text(template.substitute(prefix=prefix, port=port))
    command = [nginx_path(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    with running(Server("nginx", command, work / "nginx.log")) as server:
        server.wait_ready(port, "/bench")
        return baseline(server, port, "nginx", opts)


def bare_phase(work: Path, opts: Options) -> Run:
    """The floor of any Python answer: bench/bare_asgi.py under CodeQR's uvicorn options."""
    port = free_port()
    command = [str(VENV_BIN / "python"), str(BENCH / "bare_asgi.py"), "--host", HOST]
    command += ["--port", str(port)]
    with running(Server("bare ASGI", command, work / "bare.log", cwd=work)) as server:
        server.wait_ready(port, "/bench")
        return baseline(server, port, "bare ASGI", opts)


def codeqr_env(data: Path, domain: str, durability: str) -> dict[str, str]:
    """The environment of the CLI and the server: this run's data, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env["CODEQR_DATA_DIR"] = str(data)
    # wrk sends ``Host: 127.0.0.1:PORT``; the default domain must be exactly that.
    env["CODEQR_SHORT_DOMAIN"] = domain
    env["CODEQR_DURABILITY"] = durability
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    """Run ``codeqr ... --json`` and return what it printed."""
    done = subprocess.run(
        [str(VENV_BIN / "codeqr"), *args, "--json"],
        env=env,
        cwd=cwd,  # not the repository: its .env must not leak into the benchmark
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise BenchError(f"codeqr {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def codeqr_phase(work: Path, opts: Options, *, memory: bool = True) -> CodeQRResult:
    """Set up an instance with the CLI, serve it, measure both links, then (with ``memory``)
    its memory."""
    data = work / "codeqr"
    data.mkdir(parents=True)
    port = free_port()
    domain = f"{HOST}:{port}"
    env = codeqr_env(data, domain, opts.durability)
    note("CodeQR: setting up a fresh instance with the CLI")
    cli(env, work, "users", "create", "--email", EMAIL, "--password", PASSWORD)
    workspace = ["workspaces", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL]
    cli(env, work, *workspace, "--plan", "business")
    link = ["links", "create", "--workspace", SLUG, "--url", DESTINATION]
    plain = str(cli(env, work, *link, "--key", "bench")["id"])
    tracked = str(cli(env, work, *link, "--key", "tracked", "--track-conversion")["id"])
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    with running(Server("CodeQR", command, work / "codeqr.log", env=env, cwd=work)) as server:
        server.wait_ready(port, "/bench")
        server.wait_ready(port, "/tracked")
        start_kib = rss_kib(server.pid)
        clicks = Clicks(data / "codeqr.db")
        watch = RssWatch(server.pid, clicks.db, opts.marks)
        watch.start()
        base = f"http://{domain}"
        runs: dict[str, Run] = {}

        def run(name: str, label: str, link_id: str, path: str, conns: int, secs: int) -> None:
            note(f"{label}: {secs} s at {conns} connection{'s' if conns > 1 else ''}")
            until = watch.finished if name == "memory" else None
            patience = 0.0 if name == "warmup" else opts.wait_idle
            runs[name] = measure_codeqr(
                label, server, clicks, link_id, base + path, conns, secs, name, until, patience
            )

        try:
            run("warmup", "CodeQR warm-up", plain, "/bench", CONNECTIONS, opts.warmup)
            run("untracked", "CodeQR, untracked link", plain, "/bench", CONNECTIONS, opts.seconds)
            run("tracked", "CodeQR, tracked link", tracked, "/tracked", CONNECTIONS, opts.seconds)
            run("single", "CodeQR, 1 connection", plain, "/bench", 1, opts.seconds)
            if memory and not watch.finished.is_set():
                low, high = opts.marks
                note(f"CodeQR memory: until {high:,} redirects served (RSS read at {low:,})")
                run("memory", "CodeQR, memory run", plain, "/bench", CONNECTIONS, MEMORY_CAP_S)
        finally:
            watch.halt()
        if watch.error is not None:
            raise BenchError(f"reading RSS failed: {watch.error}")
        memory = Memory(start_kib, dict(watch.samples), rss_kib(server.pid), watch.redirects)
    return CodeQRResult(runs, memory)


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes (the tree is what runs)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return f"{commit} with uncommitted changes in src/" if dirty else commit


# -- main ------------------------------------------------------------------------------------


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that every ``finally`` stops its server.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the three servers one after another and print the report."""
    parser = argparse.ArgumentParser(description="CodeQR redirect benchmark (docs/benchmarks.md)")
    parser.add_argument(
        "--duration", type=int, help="seconds per measured run (default 15; 5 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs; RSS at 20k/200k redirects, not 100k/1M"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for both cores to be quiet (default 60)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        metavar="N",
        help="measure N fresh CodeQR servers and judge the median one by untracked rate "
        "(a server's speed varies from one start to the next on this VM; default 1)",
    )
    parser.add_argument(
        "--durability",
        choices=("process", "fsync"),
        default="process",
        help="CODEQR_DURABILITY of the CodeQR server (default: process, CodeQR's default)",
    )
    args = parser.parse_args(argv)
    seconds = args.duration or (5 if args.quick else 15)
    opts = Options(
        seconds=seconds,
        warmup=1 if args.quick else 2,
        marks=(20_000, 200_000) if args.quick else (100_000, 1_000_000),
        durability=args.durability,
        wait_idle=args.wait_idle,
        command=" ".join(
            [".venv/bin/python", "bench/redirect.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        check_tools()
        machine = describe_machine()
        code = code_version()
        # The orchestration stays off the server's core.
        os.sched_setaffinity(0, {LOAD_CPU})
        with tempfile.TemporaryDirectory(prefix="codeqr-bench-") as tmp:
            work = Path(tmp)
            nginx = nginx_phase(work, opts)
            bare = bare_phase(work, opts)
            instances = [
                codeqr_phase(work / f"instance-{n}", opts, memory=n == 0)
                for n in range(max(1, args.instances))
            ]
    except BenchError as exc:
        print(f"bench/redirect.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench/redirect.py: interrupted; every server it started is stopped", file=sys.stderr)
        return 130
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ranked = sorted(instances, key=lambda one: one.runs["untracked"].wrk.rate)
    median = ranked[(len(ranked) - 1) // 2]
    # The rates of the median server, the memory figures of the one that ran the memory run.
    codeqr = CodeQRResult(median.runs, instances[0].memory)
    report = Report(when, opts, machine, code, nginx, bare, codeqr, instances=instances)
    judge(report)
    print(markdown(report), end="")
    note(f"results: {save(report).relative_to(ROOT)}")
    return 0 if all(t.ok for t in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main())

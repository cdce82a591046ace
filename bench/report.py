"""The result of a redirect benchmark run: the issue's targets, the Markdown, the JSON.

The Markdown goes to stdout as printed here, ready to paste into docs/benchmarks.md; the same
figures go to ``bench/results/redirect-<UTC time>.json`` (gitignored).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import LOAD_CPU, QUIET, SERVER_CPU, ClickCheck, Machine, Run, busy_text

RESULTS = Path(__file__).resolve().parent / "results"

CONNECTIONS = 64
# The targets.
MIN_RATE = 10_000.0
MIN_BARE_RATIO = 0.30
MAX_P99_MS = 10.0
MAX_P50_SINGLE_MS = 1.0
MAX_RSS_GROWTH = 0.20
REFERENCE_NGINX = 130_000.0
"""nginx's rate on the machine the issue's absolute figures were set on."""


@dataclass
class Options:
    """How this run was asked for."""

    seconds: int
    warmup: int
    marks: tuple[int, int]
    durability: str
    wait_idle: float
    command: str


@dataclass
class Memory:
    """The CodeQR server's RSS over the run, in KiB."""

    start_kib: int
    marks: dict[int, tuple[int, int]]
    """mark → (redirects served when read, RSS)."""
    end_kib: int
    redirects: int

    @property
    def growth(self) -> float | None:
        """RSS at the last mark over RSS at the first, minus one."""
        low, high = sorted(self.marks) if len(self.marks) == 2 else (None, None)
        if low is None or high is None:
            return None
        return self.marks[high][1] / self.marks[low][1] - 1


@dataclass
class CodeQRResult:
    """Everything measured on the CodeQR server."""

    runs: dict[str, Run]
    memory: Memory


@dataclass
class Target:
    """One figure of the issue, met or not."""

    goal: str
    measured: str
    ok: bool


@dataclass
class Report:
    """The whole run, as printed and as stored in bench/results/."""

    when: str
    options: Options
    machine: Machine
    code: str
    """The commit measured (``git rev-parse --short HEAD``), and whether src/ was dirty."""
    nginx: Run
    bare: Run
    codeqr: CodeQRResult
    targets: list[Target] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    instances: list[CodeQRResult] = field(default_factory=list)
    """Every CodeQR server measured (``--instances``); ``codeqr`` is the median one."""


def judge(report: Report) -> None:
    """Fill in the targets and the warnings about a disturbed machine."""
    runs = report.codeqr.runs
    bare_rate = report.bare.wrk.rate
    low, high = report.options.marks
    for name in ("untracked", "tracked"):
        run = runs[name]
        report.targets.append(
            Target(
                f"≥ {MIN_RATE:,.0f} redirects/s at {CONNECTIONS} connections, {name} link",
                f"{run.wrk.rate:,.0f}/s",
                run.wrk.rate >= MIN_RATE,
            )
        )
    for name in ("untracked", "tracked"):
        ratio = runs[name].wrk.rate / bare_rate
        report.targets.append(
            Target(
                f"≥ {MIN_BARE_RATIO:.2f} of the bare ASGI rate, {name} link",
                f"{ratio:.2f}",
                ratio >= MIN_BARE_RATIO,
            )
        )
    for name in ("untracked", "tracked"):
        p99 = runs[name].wrk.p99_ms
        report.targets.append(
            Target(
                f"p99 ≤ {MAX_P99_MS:g} ms at {CONNECTIONS} connections, {name} link",
                _ms(p99),
                p99 <= MAX_P99_MS,
            )
        )
    p50 = runs["single"].wrk.p50_ms
    report.targets.append(
        Target(
            f"p50 ≤ {MAX_P50_SINGLE_MS:g} ms at 1 connection", _ms(p50), p50 <= MAX_P50_SINGLE_MS
        )
    )
    growth = report.codeqr.memory.growth
    report.targets.append(
        Target(
            f"RSS growth ≤ {MAX_RSS_GROWTH:.0%} from {low:,} to {high:,} redirects",
            "not reached" if growth is None else f"{growth:+.1%}",
            growth is not None and growth <= MAX_RSS_GROWTH,
        )
    )
    every = [run for one in report.instances or [report.codeqr] for run in one.runs.values()]
    checks = [run.clicks for run in every if run.clicks is not None]
    stored = sum(c.stored for c in checks)
    sent = sum(c.sent or 0 for c in checks)
    bad = sum(c.bad_status for c in checks)
    report.targets.append(
        Target(
            "every redirect stored its click (all CodeQR runs)",
            f"{stored:,} clicks for {sent:,} requests, {bad} non-3xx",
            all(c.ok for c in checks),
        )
    )
    for run in (report.nginx, report.bare, *every):
        if run.label.endswith("warm-up"):
            continue
        before, during = max(run.busy_before.values(), default=0.0), max(run.other_busy.values())
        if before > QUIET or during > QUIET:
            report.warnings.append(
                f"{run.label}: other processes used {busy_text(run.other_busy)} during the run"
                + (f" ({busy_text(run.busy_before)} just before)" if run.busy_before else "")
                + "."
            )


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def markdown(report: Report) -> str:
    """The report, paste-ready for docs/benchmarks.md."""
    opts, m, runs = report.options, report.machine, report.codeqr.runs
    bare, nginx = report.bare.wrk.rate, report.nginx.wrk.rate
    out = [
        f"### Redirect benchmark, {report.when}",
        "",
        f"Command: `{opts.command}` on CodeQR {report.code}  ",
        f"Machine: {m.nproc} cores (`nproc`), {m.cpu_model}; {m.os}; Linux {m.kernel}; "
        f"Python {m.python}; {m.wrk}; {m.nginx}; {m.uvicorn}.  ",
        f"Server on CPU {SERVER_CPU}, wrk (1 thread) on CPU {LOAD_CPU}; {opts.seconds} s per run "
        f"after a {opts.warmup} s warm-up; every request a distinct visitor. CodeQR on SQLite, "
        f"durability `{opts.durability}`, every redirect waits for its click to be written.",
        "",
        "| Server | Conns | Redirects/s | p50 | p99 | × bare ASGI | × nginx "
        "| Server CPU | wrk CPU |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    rows = [
        ("nginx `return 302`", report.nginx),
        ("bare ASGI app (uvicorn)", report.bare),
        ("CodeQR, untracked link", runs["untracked"]),
        ("CodeQR, tracked link", runs["tracked"]),
        ("CodeQR, untracked link", runs["single"]),
    ]
    for name, run in rows:
        w = run.wrk
        ratios = f"{w.rate / bare:.2f} | {w.rate / nginx:.2f}" if run.connections > 1 else "– | –"
        out.append(
            f"| {name} | {run.connections} | {w.rate:,.0f} | {_ms(w.p50_ms)} | {_ms(w.p99_ms)} "
            f"| {ratios} | {run.server_cpu:.0%} | {run.wrk_cpu:.0%} |"
        )
    out += [
        "",
        "| CodeQR run | 302s counted by wrk | In flight at stop | Requests sent "
        "| Clicks stored | Non-3xx | |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for run in runs.values():
        c = run.clicks
        if c is None:
            continue
        sent = "?" if c.sent is None else f"{c.sent:,}"
        flight = "?" if c.sent is None else f"{c.sent - c.completed:,}"
        out.append(
            f"| {run.label.removeprefix('CodeQR').lstrip(', ')} | {c.completed:,} | {flight} "
            f"| {sent} | {c.stored:,} | {c.bad_status:,} | {'ok' if c.ok else 'MISMATCH'} |"
        )
    if len(report.instances) > 1:
        out += [
            "",
            f"{len(report.instances)} fresh CodeQR servers, in the order run; the tables above "
            "show the median one by untracked rate (the memory figures come from the first):",
            "",
            "| Server | Untracked/s | × bare | p99 | Tracked/s | × bare | p99 |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for n, one in enumerate(report.instances, 1):
            u, t = one.runs["untracked"].wrk, one.runs["tracked"].wrk
            out.append(
                f"| {n}{' (median)' if one.runs is runs else ''} | {u.rate:,.0f} "
                f"| {u.rate / bare:.2f} | {_ms(u.p99_ms)} | {t.rate:,.0f} | {t.rate / bare:.2f} "
                f"| {_ms(t.p99_ms)} |"
            )
    mem = report.codeqr.memory
    low, high = opts.marks
    at = {
        mark: f"{_mib(mem.marks[mark][1])} ({mem.marks[mark][0]:,})" if mark in mem.marks else "–"
        for mark in (low, high)
    }
    growth = "–" if mem.growth is None else f"{mem.growth:+.1%}"
    out += [
        "",
        f"| CodeQR RSS (redirects served) | At start | After {low:,} | After {high:,} | Growth |",
        "|---|--:|--:|--:|--:|",
        f"| VmRSS | {_mib(mem.start_kib)} | {at[low]} | {at[high]} | {growth} |",
    ]
    first = report.instances[0].runs if report.instances else runs
    if "memory" in first:
        w = first["memory"].wrk
        out += [
            "",
            f"Memory run: {w.requests:,} redirects in {w.seconds:.0f} s, {w.rate:,.0f}/s, "
            f"p50 {_ms(w.p50_ms)}, p99 {_ms(w.p99_ms)} at {CONNECTIONS} connections.",
        ]
    out += ["", "| Target | Measured | |", "|---|--:|---|"]
    out += [f"| {t.goal} | {t.measured} | {'pass' if t.ok else 'FAIL'} |" for t in report.targets]
    # The absolute targets were set on a machine where nginx answered ~130k/s; this VM's speed
    # drifts (nginx 67k-113k/s seen), and the ratios are what stays comparable across runs.
    out += [
        "",
        f"Machine speed: nginx at {nginx:,.0f}/s is {nginx / REFERENCE_NGINX:.2f} of the "
        f"issue's reference machine ({REFERENCE_NGINX:,.0f}/s).",
    ]
    if report.warnings:
        out += ["", "Disturbed, re-run on a quiet machine:", ""]
        out += [f"- {w}" for w in report.warnings]
    return "\n".join(out) + "\n"


def save(report: Report) -> Path:
    """Keep the run as JSON in bench/results/ (gitignored)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"redirect-{stamp}.json"
    data = asdict(report)
    data["codeqr"]["memory"]["growth"] = report.codeqr.memory.growth
    for run in (data["nginx"], data["bare"], *data["codeqr"]["runs"].values()):
        if run["clicks"] is not None:
            run["clicks"]["ok"] = ClickCheck(**run["clicks"]).ok
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path

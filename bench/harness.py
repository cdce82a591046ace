"""The measuring kit of the benchmarks: wrk runs, pinned servers, CPU and memory readings.

A server runs alone on ``SERVER_CPU`` and wrk on ``LOAD_CPU``; ``measure`` notes, beside
wrk's figures, how much of each core the two used, so that load from anyone else on the
machine shows up in the report instead of silently lowering the numbers.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

LUA = Path(__file__).resolve().parent / "distinct_visitors.lua"
SERVER_CPU = 0
LOAD_CPU = 1
HOST = "127.0.0.1"
QUIET = 0.10
"""Share of a core that others may use before figures are called disturbed."""


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


# -- wrk -------------------------------------------------------------------------------------

_TIME = r"([0-9]*\.?[0-9]+)\s*(us|ms|s|m|h)\b"
_TO_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass
class WrkRun:
    """What one wrk run reported (latencies in milliseconds)."""

    requests: int
    """Responses wrk counted as complete."""
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    bad_status: int
    """wrk's "Non-2xx or 3xx responses"."""
    socket_errors: int
    sent: int | None
    """Requests the Lua script generated and wrk wrote, in flight at the end included."""


def _ms(value: str, unit: str) -> float:
    return float(value) * _TO_MS[unit]


def parse_wrk(text: str) -> WrkRun:
    """Read wrk's ``--latency`` report (and the Lua script's ``sent=`` line)."""
    percentiles: dict[str, float] = {}
    for pct, value, unit in re.findall(
        r"^\s*(\d+(?:\.\d+)?)%\s+" + _TIME + r"\s*$", text, flags=re.MULTILINE
    ):
        percentiles[str(float(pct))] = _ms(value, unit)
    done = re.search(r"^\s*(\d+) requests in " + _TIME, text, flags=re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([0-9.]+)", text, flags=re.MULTILINE)
    if done is None or rate is None or "50.0" not in percentiles or "99.0" not in percentiles:
        raise BenchError(f"cannot read wrk's output:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    sent = re.search(r"^distinct_visitors sent=(\d+)", text, flags=re.MULTILINE)
    return WrkRun(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2), done.group(3)) / 1e3,
        rate=float(rate.group(1)),
        p50_ms=percentiles["50.0"],
        p99_ms=percentiles["99.0"],
        bad_status=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in sock.groups()) if sock else 0,
        # wrk calls request() once on its first thread to check the script (wrk 4.1,
        # script_verify_request) before any connection exists: that one never leaves.
        sent=int(sent.group(1)) - 1 if sent else None,
    )


def wrk_command(
    url: str, connections: int, seconds: int, tag: str, script: Path = LUA, *args: str
) -> list[str]:
    """wrk on the load core, one thread, a Lua script (the distinct-visitor one unless
    told otherwise) with the run's tag and any further arguments."""
    return [
        "taskset",
        "-c",
        str(LOAD_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        tag,
        *args,
    ]


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now (the lead may be benchmarking on fixed ones)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_ticks() -> dict[int, tuple[int, int]]:
    """``cpu → (busy, total)`` jiffies from /proc/stat."""
    ticks: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(v) for v in fields]
            idle = values[3] + values[4]  # idle + iowait
            ticks[int(name[3:])] = (sum(values[:8]) - idle, sum(values[:8]))
    return ticks


def busy_share(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], cpu: int
) -> float:
    """How busy ``cpu`` was between two ``cpu_ticks`` samples (0–1)."""
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return busy / total if total else 0.0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def children_cpu_seconds() -> float:
    """CPU time of every reaped child so far (wrk is the only one reaped while it matters)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Server:
    """A server process pinned to the server core (or to ``cpus``), stopped for sure by
    ``stop``."""

    def __init__(
        self, name: str, command: list[str], log: Path, *, cpus: str | None = None, **popen: Any
    ) -> None:
        self.name = name
        self.log = log
        self._log_file: TextIO = log.open("w")
        # taskset execs its command, so this pid is the server's own.
        self.process = subprocess.Popen(
            ["taskset", "-c", cpus or str(SERVER_CPU), *command],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **popen,
        )
        self.pid = self.process.pid

    def wait_ready(self, port: int, path: str, timeout: float = 60.0) -> None:
        """Wait until ``HEAD path`` answers 302 (HEAD records no click in CodeQR)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                try:
                    conn.request("HEAD", path)
                    status = conn.getresponse().status
                finally:
                    conn.close()
                if status != 302:
                    raise BenchError(f"{self.name} answered {status} to HEAD {path}")
                return
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The end of the server's output, for error messages."""
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to stop (SIGTERM), then kill it if it takes too long."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_file.close()


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Stop the server however the block ends."""
    try:
        yield server
    finally:
        server.stop()


def idle_busy(seconds: float = 1.0) -> dict[str, float]:
    """How busy both cores are over ``seconds`` (our servers idle, so: everyone else)."""
    before = cpu_ticks()
    time.sleep(seconds)
    after = cpu_ticks()
    return {f"cpu{cpu}": busy_share(before, after, cpu) for cpu in (SERVER_CPU, LOAD_CPU)}


def wait_idle(limit: float, patience: float) -> dict[str, float]:
    """Wait up to ``patience`` seconds for a second in which both cores stay under ``limit``.

    The machine may be shared: a test suite on either core would lower the figures. Returns
    the last reading, quiet or not.
    """
    deadline = time.monotonic() + patience
    busy = idle_busy()
    noted = 0.0
    while max(busy.values()) > limit and time.monotonic() < deadline:
        if time.monotonic() - noted >= 5:
            noted = time.monotonic()
            note(f"  waiting for a quiet machine ({busy_text(busy)} busy)")
        busy = idle_busy()
    return busy


def busy_text(busy: dict[str, float]) -> str:
    """``cpu0 12%, cpu1 3%``."""
    return ", ".join(f"{cpu} {share:.0%}" for cpu, share in busy.items())


# -- the machine ----------------------------------------------------------------------------


@dataclass
class Machine:
    """Where the figures were made."""

    nproc: int
    cpu_model: str
    os: str
    kernel: str
    python: str
    wrk: str
    nginx: str
    uvicorn: str


def describe_machine() -> Machine:
    """The facts docs/benchmarks.md quotes."""
    import uvicorn

    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    os_name = platform.system()
    with contextlib.suppress(OSError):
        release = dict(
            line.split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
        os_name = release.get("PRETTY_NAME", os_name).strip('"')
    with contextlib.suppress(OSError):
        os_name += f", {Path('/etc/debian_version').read_text().strip()}"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    nginx_version = "(not installed)"
    if found := nginx_path():  # only the benchmarks behind nginx need it
        nginx = subprocess.run([found, "-v"], capture_output=True, text=True, check=False)
        nginx_version = nginx.stderr.strip().removeprefix("nginx version: ")
    return Machine(
        nproc=int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout),
        cpu_model=model,
        os=os_name,
        kernel=platform.release(),
        python=platform.python_version(),
        wrk=(wrk.stdout or wrk.stderr).split("Copyright")[0].replace("[epoll]", "").strip(),
        nginx=nginx_version,
        uvicorn=f"uvicorn {uvicorn.__version__} (uvloop, httptools)",
    )


def nginx_path() -> str:
    """nginx on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")


# -- runs ------------------------------------------------------------------------------------


@dataclass
class ClickCheck:
    """Clicks a CodeQR run stored against the requests wrk sent and counted."""

    stored: int
    sent: int | None
    completed: int
    bad_status: int

    @property
    def ok(self) -> bool:
        """Every request that reached the server got a 302 and its click, nothing more."""
        return self.bad_status == 0 and self.stored == self.sent


@dataclass
class Run:
    """One wrk run against one server."""

    label: str
    connections: int
    wrk: WrkRun
    server_cpu: float
    """Share of one core the server used over the run."""
    wrk_cpu: float
    other_busy: dict[str, float]
    """Per core, busy share that neither the server nor wrk explains: someone else's load."""
    busy_before: dict[str, float]
    """Per core, busy share in the second before the run, the server idle."""
    clicks: ClickCheck | None = None


def measure(
    label: str,
    server: Server,
    url: str,
    connections: int,
    seconds: int,
    tag: str,
    until: threading.Event | None = None,
    patience: float = 0.0,
    script: Path = LUA,
    script_args: tuple[str, ...] = (),
) -> Run:
    """One wrk run; with ``until``, wrk is stopped (SIGINT, it still reports) once it is set.

    With ``patience``, first wait that long at most for the machine to be quiet.
    """
    command = wrk_command(url, connections, seconds, tag, script, *script_args)
    before = wait_idle(QUIET, patience) if patience else {}
    ticks = cpu_ticks()
    server_cpu = process_cpu_seconds(server.pid)
    wrk_cpu = children_cpu_seconds()
    started = time.monotonic()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as wrk:
        try:
            if until is not None:
                next_note = started + 10
                while wrk.poll() is None and not until.wait(0.1):
                    if time.monotonic() >= next_note:
                        next_note += 10
                        note(f"  … {label}: {time.monotonic() - started:.0f} s")
                if wrk.poll() is None:
                    wrk.send_signal(signal.SIGINT)
            output, _ = wrk.communicate(timeout=seconds + 60)
        except BaseException:
            wrk.kill()
            raise
    elapsed = time.monotonic() - started
    server_share = (process_cpu_seconds(server.pid) - server_cpu) / elapsed
    wrk_share = (children_cpu_seconds() - wrk_cpu) / elapsed
    after = cpu_ticks()
    if wrk.returncode != 0:
        raise BenchError(f"wrk failed ({wrk.returncode}):\n{output}")
    result = parse_wrk(output)
    other = {
        f"cpu{SERVER_CPU}": max(0.0, busy_share(ticks, after, SERVER_CPU) - server_share),
        f"cpu{LOAD_CPU}": max(0.0, busy_share(ticks, after, LOAD_CPU) - wrk_share),
    }
    return Run(label, connections, result, server_share, wrk_share, other, before)


def note(message: str) -> None:
    """Progress, on stderr so that stdout stays the paste-ready report."""
    print(message, file=sys.stderr, flush=True)

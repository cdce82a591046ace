"""The supervisor behind ``codeqr serve --workers N``, with stand-in workers (real forks, no
app): restarts at once after a worker served, backs off while one fails at start, gives up
when none ever could start, and stops every worker on SIGTERM.

Each scenario runs the supervisor in its own Python process, which writes what its workers
do to a file, one line per event: ``<monotonic time> <pid> <event>``.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from codeqr.cli.supervisor import Supervisor

    events, scenario = sys.argv[1], sys.argv[2]

    def note(event):
        fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{time.monotonic()} {os.getpid()} {event}\\n".encode())
        os.close(fd)

    def starts():
        with open(events) as lines:
            return sum(line.split()[2] == "start" for line in lines)

    def flaky(ready):
        # 1st serves for a while then exits; 2nd-4th fail at start; 5th serves for good.
        attempt = starts() + 1
        note("start")
        if 2 <= attempt <= 4:
            note("fail")
            return 1
        ready()
        note("serving")
        if attempt == 1:
            time.sleep(0.3)
            note("exit")
            return 0
        while True:
            time.sleep(1)

    def broken(ready):
        note("start")
        time.sleep(0.2)
        return 1

    def steady(ready):
        note("start")
        ready()
        note("serving")
        try:
            while True:
                time.sleep(1)
        finally:
            note("stopped")

    def slow(ready):
        note("start")
        time.sleep(1.5)
        ready()
        note("serving")
        while True:
            time.sleep(1)

    def stuck(ready):
        # Ignores SIGTERM, as a worker hung in its shutdown would; dumps its stack on USR1.
        import faulthandler, signal
        faulthandler.register(signal.SIGUSR1, file=open(events + ".stacks", "w"))
        signal.signal(signal.SIGTERM, lambda *_: note("sigterm"))
        note("start")
        ready()
        note("serving")
        while True:
            time.sleep(1)

    work = {
        "flaky": flaky, "broken": broken, "steady": steady, "slow": slow, "stuck": stuck
    }[scenario]
    count = 1 if scenario in ("flaky", "slow", "stuck") else 2
    code = Supervisor(count, work, first_delay=0.4, max_delay=1.0, stop_timeout=1.0).run()
    note(f"supervisor-exit {code}")
    sys.exit(code)
    """
)


@contextmanager
def supervise(events: Path, scenario: str) -> Iterator[subprocess.Popen[bytes]]:
    """The supervisor of ``scenario`` running; killed on the way out if it has not ended."""
    events.touch()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(events), scenario],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def lines(events: Path) -> list[tuple[float, int, str]]:
    parsed = []
    for line in events.read_text().splitlines():
        at, pid, event = line.split(" ", 2)
        parsed.append((float(at), int(pid), event))
    return parsed


def wait_for(events: Path, event: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while sum(e == event for _, _, e in lines(events)) < count:
        assert time.monotonic() < deadline, events.read_text()
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_a_worker_that_served_is_restarted_at_once_one_failing_at_start_backs_off(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    with supervise(events, "flaky") as proc:
        wait_for(events, "serving", 2)
        starts = [at for at, _, event in lines(events) if event == "start"]
        exited = next(at for at, _, event in lines(events) if event == "exit")
        assert len(starts) == 5
        assert starts[1] - exited < 0.3, "it had served: replaced at once"
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts[1:])]
        assert gaps[0] >= 0.4
        assert gaps[1] >= 0.8, "the back-off doubles"
        assert 1.0 <= gaps[2] < 1.6, "up to max_delay"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_when_no_worker_ever_starts_the_supervisor_gives_up_with_3(tmp_path: Path) -> None:
    """A worker exiting with an error before any served: the configuration is wrong."""
    events = tmp_path / "events"
    with supervise(events, "broken") as proc:
        assert proc.wait(timeout=20) == 3
    workers = {pid for _, pid, event in lines(events) if event == "start"}
    assert len(workers) == 2, "not retried: the configuration is what fails"
    assert not any(alive(pid) for pid in workers)


def test_a_worker_killed_before_it_served_is_started_again(tmp_path: Path) -> None:
    """A signal from outside (an operator, the OOM killer) is no broken configuration."""
    events = tmp_path / "events"
    with supervise(events, "slow") as proc:
        wait_for(events, "start", 1)
        first = lines(events)[0][1]
        os.kill(first, signal.SIGKILL)
        wait_for(events, "serving", 1)
        assert proc.poll() is None
        starts = [(at, pid) for at, pid, event in lines(events) if event == "start"]
        assert len(starts) == 2
        assert starts[1][1] != first
        assert starts[1][0] - starts[0][0] >= 0.4, "backed off: it died before serving"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_sigterm_stops_every_worker_and_the_supervisor_exits_0(tmp_path: Path) -> None:
    events = tmp_path / "events"
    with supervise(events, "steady") as proc:
        wait_for(events, "serving", 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    happened = lines(events)
    workers = {pid for _, pid, event in happened if event == "start"}
    assert {pid for _, pid, event in happened if event == "stopped"} == workers
    assert happened[-1][2] == "supervisor-exit 0"
    assert not any(alive(pid) for pid in workers)
    assert os.getpid() not in workers


def test_a_worker_stuck_in_its_shutdown_has_its_stack_printed_and_is_killed(
    tmp_path: Path,
) -> None:
    """A stop always ends: past the stop timeout a worker gets SIGUSR2 (its event loop's
    tasks, when it runs one; ignored otherwise), SIGUSR1 (its threads' stacks, to find what
    it waits on) and then SIGKILL."""
    events = tmp_path / "events"
    with supervise(events, "stuck") as proc:
        wait_for(events, "serving", 1)
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        took = time.monotonic() - stopped_at
    happened = lines(events)
    (worker,) = {pid for _, pid, event in happened if event == "start"}
    assert "sigterm" in [event for _, _, event in happened], "asked first"
    assert 2.5 <= took < 10, "1 s of stop timeout, 1.5 s for the dumps, then killed"
    assert "in stuck" in Path(f"{events}.stacks").read_text(), "the worker's stack"
    assert not alive(worker)

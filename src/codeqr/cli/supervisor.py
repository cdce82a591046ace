"""``codeqr serve --workers N``: N forked app processes on one listening socket, kept alive.

The parent binds the socket, forks the workers and then only supervises: it serves nothing
and holds no database connection, so a worker's crash cannot take it down. Each worker is a
whole app (its own event loop, services and caches) that accepts from the shared socket; the
kernel hands each new connection to whichever worker accepts first.

- A worker that dies after it began serving (a crash, ``kill -9``, the OOM killer) is
  replaced at once; one that dies before it served (its start failed) is tried again after a
  back-off that doubles from ``first_delay`` up to ``max_delay``, so a worker that cannot
  start does not spin. When no worker has ever served and one exits with an error at start,
  the configuration is broken: every worker is stopped and ``run`` returns
  ``STARTUP_FAILED``, as a single ``codeqr serve`` that cannot start exits.
- SIGTERM or SIGINT to the parent sends SIGTERM to every worker (each stops accepting,
  finishes the requests in flight and drains its click writer) and ``run`` returns 0 once all
  have exited. A worker still running ``stop_timeout`` seconds later is stuck: it is sent
  SIGUSR2 and SIGUSR1 (a worker prints its event loop's tasks and its threads' stacks), then
  SIGKILL, so a stop always ends. A worker whose parent disappears stops like on SIGTERM
  (``WorkerServer``).

Workers are forked, not spawned: the parent has imported the app, so a worker (re)starts in
the time the app takes to build, not the time Python takes to import it. The parent forks
before it starts any thread and after closing its database pool, which is what makes a fork
safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import structlog
import uvicorn

from codeqr.stream.serving import Server

log = structlog.get_logger(__name__)

STARTUP_FAILED = 3
"""What ``run`` returns when the workers cannot start (uvicorn's own start-failure code)."""

Ready = Callable[[], None]
"""Called once by a worker when it accepts connections."""
Work = Callable[[Ready], int]
"""A worker's whole life, run in the forked process; returns its exit code."""

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket every worker accepts from (uvicorn's default backlog)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


def print_tasks() -> None:
    """Every task of the running event loop with where it waits, to stderr (on SIGUSR2)."""
    for task in asyncio.all_tasks():
        print(f"Task {task.get_name()}: {task.get_coro()!r}", file=sys.stderr)
        task.print_stack(limit=20, file=sys.stderr)
    sys.stderr.flush()


class WorkerServer(Server):
    """``Server`` for a supervised worker: tells the supervisor when it accepts connections,
    and shuts down like on SIGTERM if the supervisor has gone (an orphan would keep
    accepting from the socket with nobody to stop or replace it)."""

    def __init__(
        self, config: uvicorn.Config, *, before_shutdown: Callable[[], None], ready: Ready
    ) -> None:
        super().__init__(config, before_shutdown=before_shutdown)
        self.ready = ready
        self.supervisor = os.getppid()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # A stuck stop is diagnosed from the event loop's side too (``_kill_stuck``).
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, print_tasks)
        await super().startup(sockets)
        if self.started:
            self.ready()

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0 and os.getppid() != self.supervisor:
            self.should_exit = True
        return await super().on_tick(counter)


@dataclass
class _Slot:
    """One of the N places a worker fills; its worker changes across restarts."""

    number: int
    pid: int | None = None
    ready_fd: int | None = None
    """Read end of the pipe the worker writes one byte to when it serves."""
    serving: bool = False
    failures: int = 0
    """Consecutive deaths before serving: the back-off's exponent."""
    start_at: float | None = None
    """When (monotonic) the next worker is due; ``None`` while one runs or none is wanted."""


class Supervisor:
    """Runs ``count`` workers doing ``work`` until told to stop (see the module docstring)."""

    def __init__(
        self,
        count: int,
        work: Work,
        *,
        listener: socket.socket | None = None,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.work = work
        self.listener = listener
        """The workers' listening socket, closed here as they start to stop."""
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stop_timeout = stop_timeout
        """Seconds a worker has to exit after SIGTERM (uvicorn's own graceful shutdown of
        requests in flight takes at most 5 of them)."""
        self._stop_deadline: float | None = None
        self.slots = [_Slot(number) for number in range(1, count + 1)]
        self.worker_number = 0
        """In a worker: the number (1..N) of the slot it fills (0 in the supervisor)."""
        self.stopping = False
        self.exit_code = 0
        self.ever_served = False
        self._wake_r = self._wake_w = -1

    def run(self) -> int:
        """Start the workers and keep them running until SIGTERM or SIGINT; the exit code.

        Must run on the main thread (it handles signals)."""
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        # The C-level handler writes each signal's number to the pipe, waking ``select``;
        # the Python handlers only have to exist (SIGCHLD's default discards it).
        previous_fd = signal.set_wakeup_fd(self._wake_w)
        handled = (*_STOP_SIGNALS, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, _noted) for sig in handled}
        try:
            now = time.monotonic()
            for slot in self.slots:
                slot.start_at = now
            self._loop()
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for slot in self.slots:
                self._close_ready(slot)
            os.close(self._wake_r)
            os.close(self._wake_w)
        return self.exit_code

    def _loop(self) -> None:
        while True:
            self._kill_if_overdue()
            self._start_due()
            if self.stopping and not any(slot.pid for slot in self.slots):
                return
            readable = self._wait()
            if self._wake_r in readable:
                self._signals()
            self._reap()
            for slot in self.slots:
                if slot.ready_fd is not None and slot.ready_fd in readable:
                    self._note_ready(slot)

    def _wait(self) -> list[int]:
        due = [slot.start_at for slot in self.slots if slot.start_at is not None]
        if self._stop_deadline is not None:
            due.append(self._stop_deadline)
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        fds = [self._wake_r, *(s.ready_fd for s in self.slots if s.ready_fd is not None)]
        readable, _, _ = select.select(fds, [], [], timeout)
        return readable

    def _signals(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while numbers := os.read(self._wake_r, 64):
                if any(number in _STOP_SIGNALS for number in numbers):
                    self._stop("a stop signal")

    def _stop(self, why: str, exit_code: int = 0) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.exit_code = exit_code
        log.info("serve.workers.stopping", reason=why)
        # Once the workers have closed theirs too, new connections are refused at once (a
        # load balancer tries another host) instead of waiting in a backlog nobody accepts.
        if self.listener is not None:
            self.listener.close()
        for slot in self.slots:
            slot.start_at = None
            if slot.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)
        self._stop_deadline = time.monotonic() + self.stop_timeout

    def _kill_stuck(self) -> None:
        """Workers still running past the stop timeout: their stacks to the log, then kill."""
        stuck = [(slot.number, slot.pid) for slot in self.slots if slot.pid is not None]
        for number, pid in stuck:
            log.error(
                "serve.worker.stop_timeout", worker=number, pid=pid, seconds=self.stop_timeout
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR2)  # its event loop's tasks, if the loop still runs
                time.sleep(0.5)
                os.kill(pid, signal.SIGUSR1)  # its threads
        if stuck:
            time.sleep(1.0)  # the dump is written by the worker's own signal handler
        for _, pid in stuck:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for slot in self.slots:
                if slot.pid == pid:
                    self._ended(slot, os.waitstatus_to_exitcode(status))

    def _ended(self, slot: _Slot, code: int) -> None:
        # A byte written just before dying still counts: the worker did serve.
        if slot.ready_fd is not None and not slot.serving:
            self._note_ready(slot)
        self._close_ready(slot)
        pid, slot.pid = slot.pid, None
        how = _describe(code)
        if self.stopping:
            log.info("serve.worker.stopped", worker=slot.number, pid=pid, ended=how)
            return
        if slot.serving:
            slot.failures = 0
            slot.start_at = time.monotonic()
            log.warning("serve.worker.died", worker=slot.number, pid=pid, ended=how)
            return
        if not self.ever_served and code > 0:
            # Its own failure (not a signal from outside, such as the OOM killer's): the
            # configuration or a service is wrong, and so it would stay.
            log.error("serve.worker.start_failed", worker=slot.number, pid=pid, ended=how)
            self._stop("no worker could start", STARTUP_FAILED)
            return
        slot.failures += 1
        delay = min(self.first_delay * 2 ** (slot.failures - 1), self.max_delay)
        slot.start_at = time.monotonic() + delay
        log.warning(
            "serve.worker.start_failed", worker=slot.number, pid=pid, ended=how, retry_in=delay
        )

    def _note_ready(self, slot: _Slot) -> None:
        assert slot.ready_fd is not None
        try:
            served = os.read(slot.ready_fd, 1) != b""
        except BlockingIOError:
            return
        self._close_ready(slot)
        if served:
            slot.serving = True
            slot.failures = 0
            self.ever_served = True
            log.info("serve.worker.serving", worker=slot.number, pid=slot.pid)

    def _close_ready(self, slot: _Slot) -> None:
        if slot.ready_fd is not None:
            os.close(slot.ready_fd)
            slot.ready_fd = None

    def _kill_if_overdue(self) -> None:
        if self._stop_deadline is not None and time.monotonic() >= self._stop_deadline:
            self._stop_deadline = None
            self._kill_stuck()

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.start_at is not None and slot.start_at <= now and not self.stopping:
                slot.start_at = None
                self._fork(slot)

    def _fork(self, slot: _Slot) -> None:
        ready_r, ready_w = os.pipe()
        os.set_blocking(ready_r, False)
        # Whatever sits in the parent's buffers would be written a second time by the child.
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            self.worker_number = slot.number
            self._become_worker(ready_w)
        os.close(ready_w)
        slot.pid, slot.ready_fd, slot.serving = pid, ready_r, False
        log.info("serve.worker.started", worker=slot.number, pid=pid)

    def _become_worker(self, ready_w: int) -> None:
        """The forked child: drop the parent's signal plumbing, do the work, and leave with
        ``os._exit`` so that nothing of the parent's stack (its ``finally`` blocks, atexit
        hooks) runs a second time here."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # Until uvicorn installs its own handlers (and after it restores these), a stop
            # signal ends the worker cleanly.
            for sig in _STOP_SIGNALS:
                signal.signal(sig, _exit_now)
            # SIGUSR2 prints the event loop's tasks once a loop serves (``WorkerServer``);
            # before that it must not end the worker (its default action) ahead of SIGUSR1.
            signal.signal(signal.SIGUSR2, signal.SIG_IGN)
            os.close(self._wake_r)
            os.close(self._wake_w)
            for other in self.slots:
                self._close_ready(other)

            told = False

            def ready() -> None:
                nonlocal told
                if not told:  # once: the descriptor's number may be reused after closing
                    told = True
                    with contextlib.suppress(OSError):
                        os.write(ready_w, b"1")
                    os.close(ready_w)

            code = self.work(ready)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)


def _describe(code: int) -> str:
    """A worker's end as ``exit code 1`` or ``signal SIGKILL``."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def _noted(signum: int, frame: FrameType | None) -> None:
    """Signals reach the supervisor through its wake-up pipe; nothing to do here."""


def _exit_now(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)

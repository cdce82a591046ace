"""``codeqr serve --workers N``: refused without PostgreSQL and Redis; with them, N supervised
processes on one port, a killed worker replaced with no answered click lost, and SIGTERM
draining every worker.

Which worker answered a connection is read from ``/proc`` (the connection's socket inode in
``/proc/net/tcp``, then the worker holding that inode): nothing about the processes is shown
to clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from codeqr.kit.db import Database
from codeqr.link.models import Link
from codeqr.settings import Settings
from tests.conftest import free_port
from tests.events.test_durability import CLICK_ID, Answer, _read_response, _stored, visitors

CODEQR = str(Path(sys.executable).with_name("codeqr"))
REDIS_URL = os.environ.get("CODEQR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONCURRENCY = 32
KILL_AFTER = 1500
"""302s received before one worker is killed (and, in the SIGTERM test, before the stop)."""
AFTER_KILL = 1500
"""302s wanted after the kill, once the replacement serves."""


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A ``codeqr`` process's environment: nothing ``CODEQR_*`` inherited but ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env.update(
        CODEQR_DATA_DIR=str(data_dir),
        CODEQR_SECRET_KEY="test-secret-key",
        CODEQR_DEDUPE_MEMORY="4096",  # as tests/conftest.py: a small reservation per process
    )
    env.update(extra)
    return env


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- refusals: nothing starts -------------------------------------------------------------


@pytest.mark.sqlite_only  # the test database plays no part: run once
@pytest.mark.parametrize(
    ("args", "extra"), [(["--workers", "2"], {}), ([], {"CODEQR_WORKERS": "2"})]
)
def test_more_than_one_worker_on_sqlite_is_refused(
    tmp_path: Path, args: list[str], extra: dict[str, str]
) -> None:
    """SQLite takes one writer: exit 2 naming both scale-out settings, nothing created."""
    port = free_port()
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "2 worker processes need PostgreSQL (CODEQR_DATABASE_URL) and Redis" in message
    assert "(CODEQR_REDIS_URL)" in message
    assert "SQLite" in message
    assert "--workers 1" in message
    assert result.stdout == ""
    assert not data_dir.exists(), "nothing may start: no database file, no data directory"
    assert not _listening(port)


@pytest.mark.sqlite_only  # no PostgreSQL is reached: the refusal comes first
def test_more_than_one_worker_on_postgresql_without_redis_is_refused(tmp_path: Path) -> None:
    """Without Redis each process would keep stale links and its own dedupe: exit 2."""
    port, nowhere = free_port(), free_port()
    result = subprocess.run(
        [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "3"],
        env=_env(
            tmp_path / "data", CODEQR_DATABASE_URL=f"postgresql://codeqr@127.0.0.1:{nowhere}/x"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "3 worker processes need PostgreSQL (CODEQR_DATABASE_URL) and Redis" in message
    assert "without Redis" in message
    assert "(CODEQR_REDIS_URL)" in message
    assert not (tmp_path / "data").exists()
    assert not _listening(port)


@pytest.mark.sqlite_only
def test_the_flag_wins_over_the_setting(tmp_path: Path) -> None:
    """``CODEQR_WORKERS=2`` with ``--workers 1`` serves one process, SQLite being fine."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=_env(tmp_path / "data", CODEQR_WORKERS="2"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "codeqr serve did not start"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert _children(proc.pid) == set(), "one process: no workers forked"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --- which process answered: /proc ----------------------------------------------------------


def _stacks(pid: int) -> str:
    """What ``pid`` is doing: its threads' Python stacks, printed to the log by ``codeqr
    serve``'s SIGUSR1 handler (faulthandler), and its threads' names and states."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.5)
    lines = [f"process {pid}:"]
    with contextlib.suppress(OSError):
        for task in sorted(os.listdir(f"/proc/{pid}/task")):
            name = Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/task/{task}/stat").read_text().rpartition(")")[2].split()[0]
            lines.append(f"  thread {task} {name} {state}")
    return "\n".join(lines)


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry))
    return found


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
                if local == server_port and remote == client_port:
                    return fields[9]
    return None


def _holder(pids: set[int], inode: str) -> int | None:
    """Which of ``pids`` holds the socket ``inode``."""
    wanted = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return pid
    return None


async def _answered_by(port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` answers a fresh connection's ``/healthz`` (``None``: none of them,
    or the connection failed)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _ = await _read_response(reader)
        client_port = writer.get_extra_info("sockname")[1]
        inode = _socket_inode(port, client_port)
        return _holder(pids, inode) if status == 200 and inode else None
    except (OSError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _until_answered_by(port: int, pids: set[int], timeout: float = 30) -> set[int]:
    """Open connections, a few at a time, until each of ``pids`` has answered one."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while seen != pids:
        assert time.monotonic() < deadline, f"only {seen} of {pids} answered"
        answers = await asyncio.gather(*(_answered_by(port, pids) for _ in range(8)))
        seen |= {pid for pid in answers if pid is not None}
        await asyncio.sleep(0.02)
    return seen


# --- the supervised server -------------------------------------------------------------------


class Workers:
    """``codeqr serve --workers 2`` on PostgreSQL and Redis, its output in a log file."""

    count = 2

    def __init__(
        self, settings: Settings, tmp_path: Path, redis_url: str = REDIS_URL, **env: str
    ) -> None:
        assert settings.database_url
        self.seen: set[int] = set()
        """Every worker pid seen, killed at clean-up if still alive."""
        self.port = free_port()
        self.log_path = tmp_path / "serve.log"
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [CODEQR, "serve", "--port", str(self.port), "--workers", str(self.count)],
                env=_env(
                    settings.data_dir,
                    CODEQR_DATABASE_URL=settings.database_url,
                    CODEQR_REDIS_URL=redis_url,
                    **env,
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text()

    def workers(self) -> set[int]:
        pids = _children(self.proc.pid)
        self.seen |= pids
        return pids

    def wait_serving(self) -> set[int]:
        """Every worker answers; their pids."""
        deadline = time.monotonic() + 60
        while len(pids := self.workers()) != self.count or not _listening(self.port):
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, f"workers did not start:\n{self.log()}"
            time.sleep(0.05)
        asyncio.run(_until_answered_by(self.port, pids))
        return pids

    def api_key(self) -> str:
        found = re.search(r"API key:\s+(\S+)", self.log())
        assert found, self.log()
        return found.group(1)

    def stop(self) -> int:
        """SIGTERM; the supervisor's exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.exit_code()

    def exit_code(self, timeout: float = 60) -> int:
        """The supervisor's exit code once it has ended, its workers having stopped by
        themselves. A worker stuck in its shutdown is killed by the supervisor after its
        stop timeout, with its threads' stacks in the log: shown here, as they are on a
        timeout of the supervisor itself."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stacks = [_stacks(pid) for pid in sorted({self.proc.pid, *self.workers()})]
            raise AssertionError(
                f"still running after {timeout} s\n" + "\n".join(stacks) + "\n" + self.log()
            ) from None
        assert "serve.worker.stop_timeout" not in self.log(), self.log()
        return code

    def kill_all(self) -> None:
        """Clean-up after a failure: nothing may outlive the test."""
        if self.proc.poll() is None:
            self.workers()
            self.proc.kill()
            self.proc.wait(timeout=10)
        mine = f"--port\0{self.port}\0".encode()
        for pid in self.seen:  # checked to be ours still: a pid may have been reused
            with contextlib.suppress(OSError):
                if _alive(pid) and mine in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def scale_out(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    """Two supervised workers on the test's PostgreSQL database and Redis."""
    # Its tests are marked postgres: the SQLite run deselects them, never skips them.
    assert not settings.is_sqlite, "needs PostgreSQL (CODEQR_TEST_DATABASE_URL)"
    workers = Workers(settings, tmp_path)
    try:
        yield workers
    finally:
        workers.kill_all()


def _tracked_link(workers: Workers) -> tuple[str, str]:
    """A conversion-tracked link made through the API with the first-start key: its id and
    the short domain its redirects answer on."""
    response = httpx.post(
        f"http://127.0.0.1:{workers.port}/api/links",
        headers={"Authorization": f"Bearer {workers.api_key()}"},
        json={"url": "https://example.com/landing", "key": "offer", "trackConversion": True},
    )
    assert response.status_code == 200, response.text
    link = response.json()
    return link["id"], urlsplit(link["shortLink"]).netloc


@dataclass
class Load:
    """Distinct visitors on keep-alive connections; with ``retry``, a request whose connection
    fails (its worker was killed) is sent again on a new connection."""

    port: int
    host: str
    requests: Iterator[tuple[str, str]]
    retry: bool
    answers: list[Answer] = field(default_factory=list)
    failed: int = 0
    stop: bool = False
    open: dict[int, asyncio.StreamWriter] = field(default_factory=dict)
    """The connections in use, by their client port."""

    def holders(self, pids: set[int]) -> Counter[int | None]:
        """How many of the open connections each of ``pids`` serves."""
        return Counter(
            _holder(pids, inode) if (inode := _socket_inode(self.port, client)) else None
            for client in list(self.open)
        )

    async def run(self, concurrency: int) -> None:
        await asyncio.gather(*(self._visitor() for _ in range(concurrency)))

    async def _visitor(self) -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        pending: tuple[str, str] | None = None
        while not self.stop:
            pending = pending or next(self.requests, None)
            if pending is None:
                break
            key, user_agent = pending
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", self.port)
                    self.open[connection[1].get_extra_info("sockname")[1]] = connection[1]
                reader, writer = connection
                writer.write(
                    f"GET /{key} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {user_agent}\r\n"
                    "Accept: text/html\r\n\r\n".encode()
                )
                status, headers = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                self.failed += 1
                if connection is not None:
                    self.open.pop(connection[1].get_extra_info("sockname")[1], None)
                    connection[1].close()
                    connection = None
                if not self.retry:
                    break
                await asyncio.sleep(0.01)
                continue
            self.answers.append(Answer(key, user_agent, status, headers.get("location", "")))
            pending = None
        if connection is not None:
            connection[1].close()


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _assert_every_answered_click_stored(settings: Settings, link_id: str, load: Load) -> int:
    """Each click id in a 302's Location is stored; the counter equals the rows."""
    assert load.answers
    assert {a.status for a in load.answers} == {302}
    seen = [cid for a in load.answers if (cid := a.click_id()) is not None]
    assert len(seen) == len(load.answers), "every tracked 302 carries its click id"
    assert all(CLICK_ID.fullmatch(cid) for cid in seen)
    assert len(set(seen)) == len(seen), "distinct visitors, distinct clicks"
    db = Database(settings.sqlalchemy_url)
    try:
        ids, counter = _stored(db, link_id)
    finally:
        db.dispose()
    missing = set(seen) - ids
    assert not missing, f"{len(missing)} answered clicks lost, e.g. {min(missing)}"
    assert counter == len(ids)
    return len(ids)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_no_answered_click_is_lost(
    scale_out: Workers, settings: Settings
) -> None:
    """Both workers answer on the one port; ``kill -9`` of one under load: the supervisor
    starts another, redirects go on (failed connections retried), every answered click is
    stored, and the link's counter equals its stored rows."""
    workers = scale_out
    first = workers.wait_serving()
    assert len(first) == 2
    log = workers.log()
    assert log.count("CodeQR is serving on") == 1, "one banner, printed by the supervisor"
    assert log.count("API key:") == 1
    link_id, host = _tracked_link(workers)
    victim = 0

    async def scenario() -> tuple[Load, float, float, int]:
        nonlocal victim
        load = Load(workers.port, host, visitors(["offer"], 100_000), retry=True)
        running = asyncio.ensure_future(load.run(CONCURRENCY))
        await _until(lambda: len(load.answers) >= KILL_AFTER, 60)
        # The kernel may hand every keep-alive connection to one worker: kill one that
        # serves some, so the kill cuts requests in flight.
        held = load.holders(first)
        victim = max(first, key=lambda pid: held[pid])
        assert held[victim] > 0, held
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        await _until(lambda: len(workers.workers() - first) == 1, 30)
        forked = time.monotonic() - killed_at
        (replacement,) = workers.workers() - first
        await _until_answered_by(workers.port, {replacement})
        serving = time.monotonic() - killed_at
        after = len(load.answers)
        await _until(lambda: len(load.answers) >= after + AFTER_KILL, 60)
        load.stop = True
        await asyncio.wait_for(running, timeout=20)
        return load, forked, serving, replacement

    load, forked, serving, replacement = asyncio.run(scenario())
    assert load.failed > 0, "the kill should cut connections with requests in flight"
    now = workers.workers()
    assert victim not in now
    assert now == (first - {victim}) | {replacement}
    assert asyncio.run(_until_answered_by(workers.port, now)) == now, "both answer again"
    stored = _assert_every_answered_click_stored(settings, link_id, load)
    assert workers.stop() == 0
    assert "serve.worker.died" in workers.log()
    print(  # shown with -s
        f"\nworkers: 302s={len(load.answers)} retried={load.failed} stored={stored} "
        f"replacement forked after {forked * 1000:.0f} ms, answering after {serving * 1000:.0f} ms"
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_sigterm_drains_every_worker_and_exits_0(scale_out: Workers, settings: Settings) -> None:
    """SIGTERM to the supervisor under load: the requests in flight are answered, every
    answered click is stored, every worker exits and so does the supervisor, with 0."""
    workers = scale_out
    pids = workers.wait_serving()
    link_id, host = _tracked_link(workers)

    async def scenario() -> tuple[Load, int, int]:
        load = Load(workers.port, host, visitors(["offer"], 100_000), retry=False)
        running = asyncio.ensure_future(load.run(CONCURRENCY))
        await _until(lambda: len(load.answers) >= KILL_AFTER, 60)
        workers.proc.send_signal(signal.SIGTERM)
        before = len(load.answers)
        code = await asyncio.to_thread(workers.proc.wait, 30)
        await asyncio.wait_for(running, timeout=20)
        return load, before, code

    load, before, code = asyncio.run(scenario())
    assert code == 0, workers.log()
    for pid in pids:
        assert not _alive(pid), f"worker {pid} outlived the supervisor"
    assert len(load.answers) > before, "requests in flight at the SIGTERM are answered"
    _assert_every_answered_click_stored(settings, link_id, load)
    assert workers.log().count("serve.worker.stopped") == 2
    assert "exit code 0" in workers.log()
    assert not _listening(workers.port)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_workers_stop_when_their_supervisor_is_killed(scale_out: Workers) -> None:
    """No orphan keeps accepting on the port with nobody to stop or replace it."""
    workers = scale_out
    pids = workers.wait_serving()
    workers.proc.send_signal(signal.SIGKILL)
    workers.proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "the workers outlived their supervisor"
        time.sleep(0.05)
    assert not _listening(workers.port)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_sigusr2_prints_a_workers_event_loop_tasks_and_it_serves_on(scale_out: Workers) -> None:
    """What a stuck stop is diagnosed with (the supervisor sends it before SIGKILL): every
    task of the worker's loop, named, with where it waits."""
    workers = scale_out
    pids = workers.wait_serving()
    worker = min(pids)
    os.kill(worker, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while "LinkInvalidations._listen" not in workers.log():
        assert time.monotonic() < deadline, workers.log()
        time.sleep(0.05)
    assert "Task " in workers.log()
    assert "Server.serve" in workers.log()
    assert workers.workers() == pids, "no worker ended or was replaced"
    assert asyncio.run(_until_answered_by(workers.port, {worker})) == {worker}
    assert workers.stop() == 0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_a_request_in_flight_at_sigterm_is_finished_and_new_connections_refused(
    scale_out: Workers, settings: Settings
) -> None:
    """A request whose body is still arriving when SIGTERM comes is answered (and its link
    stored); meanwhile the port refuses new connections rather than queueing them for
    nobody, and the supervisor exits 0 once the request is done."""
    workers = scale_out
    workers.wait_serving()
    body = json.dumps({"url": "https://example.com/drained", "key": "drained"}).encode()
    head = (
        f"POST /api/links HTTP/1.1\r\nHost: 127.0.0.1:{workers.port}\r\n"
        f"Authorization: Bearer {workers.api_key()}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", workers.port), timeout=20) as sock:
        sock.sendall(head + body[:10])
        time.sleep(0.5)  # the worker has the head: the request is in progress
        workers.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _listening(workers.port):
            assert time.monotonic() < deadline, "new connections still accepted while draining"
            time.sleep(0.05)
        assert workers.proc.poll() is None, "still draining the request in flight"
        sock.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert workers.exit_code() == 0
    db = Database(settings.sqlalchemy_url)
    try:
        with db.engine.connect() as conn:
            stored = conn.execute(select(Link.url).where(Link.key == "drained")).scalar_one()
    finally:
        db.dispose()
    assert stored == "https://example.com/drained"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_redis_killed_mid_load_loses_no_answered_click_and_the_dedupe_comes_back(
    settings: Settings, tmp_path: Path
) -> None:
    """Under ``--workers 2`` at 32 connections, Redis is killed mid-load and later restarted:
    every request still gets its 302, every answered click is stored and counted once
    (claims fall back to the database's check), and once Redis is back one visitor clicking
    through both workers is one click again."""
    from tests.redis_server import private_redis

    assert not settings.is_sqlite, "needs PostgreSQL (CODEQR_TEST_DATABASE_URL)"
    with private_redis() as redis:
        workers = Workers(settings, tmp_path, redis.url)
        try:
            workers.wait_serving()
            link_id, host = _tracked_link(workers)

            async def scenario() -> Load:
                load = Load(workers.port, host, visitors(["offer"], 100_000), retry=False)
                running = asyncio.ensure_future(load.run(CONCURRENCY))
                await _until(lambda: len(load.answers) >= 1000, 60)
                redis.kill()
                killed = len(load.answers)
                await _until(lambda: len(load.answers) >= killed + 1500, 60)
                redis.restart()
                back = len(load.answers)
                await _until(lambda: len(load.answers) >= back + 1000, 60)
                load.stop = True
                await asyncio.wait_for(running, timeout=20)
                return load

            load = asyncio.run(scenario())
            assert load.failed == 0, "no request failed for Redis' sake"
            stored = _assert_every_answered_click_stored(settings, link_id, load)
            assert stored == len(load.answers)
            assert "redirect.dedupe.redis_unavailable" in workers.log()

            # Redis is back (each worker re-reads it on its next claim): one visitor, many
            # clicks through both workers, is one click.
            ua = "Mozilla/5.0 (X11; Linux x86_64) Back/1.0"
            deadline = time.monotonic() + 10
            while True:
                ids = set()
                for _ in range(20):
                    answer = httpx.get(
                        f"http://127.0.0.1:{workers.port}/offer",
                        headers={"Host": host, "User-Agent": ua},
                    )
                    ids.add(answer.headers["location"].rpartition("cq_id=")[2])
                if len(ids) == 1 or time.monotonic() > deadline:
                    break
                ua += "+"  # a fresh visitor for the next try
            assert len(ids) == 1, ids
            assert workers.stop() == 0
        finally:
            workers.kill_all()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_metrics_answer_for_every_worker_whichever_takes_the_scrape(
    settings: Settings, tmp_path: Path
) -> None:
    """Under ``--workers 2`` one port serves ``/metrics``: every scrape, whichever worker
    answers it, carries both workers' series labelled ``worker``, and their redirects add
    up to the redirects made."""
    from prometheus_client.parser import text_string_to_metric_families

    token = "metrics-token-for-workers"
    workers = Workers(settings, tmp_path, CODEQR_METRICS_TOKEN=token)
    try:
        workers.wait_serving()
        _, host = _tracked_link(workers)
        base = f"http://127.0.0.1:{workers.port}"

        def redirects() -> dict[str, float]:
            answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            (family,) = (
                f
                for f in text_string_to_metric_families(answer.text)
                if f.name == "codeqr_redirects"
            )
            return {
                s.labels["worker"]: s.value for s in family.samples if s.name.endswith("_total")
            }

        before = redirects()
        assert set(before) == {"1", "2"}
        made = 40
        with httpx.Client(base_url=base) as visit:  # new connections: both workers answer
            for n in range(made):
                answer = visit.get(
                    "/offer",
                    headers={
                        "Host": host,
                        "User-Agent": f"Mozilla/5.0 M/{n}",
                        "Connection": "close",
                    },
                )
                assert answer.status_code == 302
        # Each worker publishes its figures every second: the other's arrive within ~1 s, so
        # one worker's scrape may be complete while the other's still lags by a publish.
        # Both must get there: six scrapes in a row (whichever worker answers) add up.
        deadline = time.monotonic() + 15
        in_a_row = 0
        while in_a_row < 6:
            scrape = redirects()
            assert set(scrape) == {"1", "2"}
            if sum(scrape.values()) - sum(before.values()) == made:
                in_a_row += 1
            else:
                assert time.monotonic() < deadline, scrape
                in_a_row = 0
                time.sleep(0.2)
        assert sum(scrape.values()) - sum(before.values()) == made
        assert workers.stop() == 0
    finally:
        workers.kill_all()

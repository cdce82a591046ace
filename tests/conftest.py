"""Shared fixtures: a real server per test on SQLite or PostgreSQL, and plain factories."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from codeqr import migrate
from codeqr.app import CodeQR, create_app
from codeqr.settings import Settings
from codeqr.stream.serving import Server

POSTGRES_URL = os.environ.get("CODEQR_TEST_DATABASE_URL")
EVENTS_IN_CHDB = os.environ.get("CODEQR_TEST_EVENTS") == "chdb"
"""Run the app's events in ClickHouse (chdb, one directory per test): the acceptance suites
of the click, conversion, Stripe and stream paths run this way too (``make test``)."""
# Every app reserves the click dedupe's memory when it is built (37 MiB by default, sized for
# a real process); a test run builds hundreds of apps, a few of them alive at once: keep each
# reservation small.
os.environ.setdefault("CODEQR_DEDUPE_MEMORY", "4096")
# Stripe's published fixture objects and signed test events, and MaxMind's test databases,
# kept byte for byte in the repository (the signed events are signed as stored).
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: runs on the embedded SQLite default only")
    config.addinivalue_line("markers", "postgres: needs PostgreSQL")
    config.addinivalue_line("markers", "redis: needs Redis (CODEQR_TEST_REDIS_URL)")


def pytest_report_header() -> str:
    events = "ClickHouse (chdb)" if EVENTS_IN_CHDB else "the relational store"
    return (
        f"codeqr relational store: {'PostgreSQL' if POSTGRES_URL else 'SQLite'}; events: {events}"
    )


# Test servers listen below the kernel's ephemeral range (32768-60999 on Linux), where no
# outgoing connection of a parallel test can take their port between the pick and the bind.
# Each xdist worker owns its own slice and walks it in order, so workers never collide either;
# the walk starts at random, so two test runs at once rarely meet.
_PORT_SLICE = 500
_PORT_BASE = 20000
_next_port = itertools.count(random.randrange(_PORT_SLICE))


def wait_until_serving(
    base: str,
    proc: subprocess.Popen[Any] | None = None,
    *,
    timeout: float = 30,
    log: Callable[[], str] = str,
) -> None:
    """Until ``base``'s ``/healthz`` answers 200 (a ``codeqr serve`` starting); fails at
    once, with ``log()``, if ``proc`` ends first, and after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=1) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the server ended with {proc.returncode}:\n{log()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer in {timeout} s:\n{log()}")
            time.sleep(0.05)


def free_port() -> int:
    return free_block(1)


def free_block(size: int) -> int:
    """The first of ``size`` consecutive free ports of this test process's slice."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    first = _PORT_BASE + (index % 24) * _PORT_SLICE
    for _ in range(_PORT_SLICE):
        start = first + next(_next_port) % (_PORT_SLICE - size + 1)
        held: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                held.append(sock := socket.socket())
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue  # another program's, or one of ours still closing
        finally:
            for sock in held:
                sock.close()
        for _ in range(size - 1):
            next(_next_port)  # the block is handed out: the next pick starts after it
        return start
    raise RuntimeError(f"no {size} free ports in {first}-{first + _PORT_SLICE - 1}")


_TEMPLATE: str | None = None


def _postgres_database() -> str:
    """A fresh PostgreSQL database cloned from a migrated template (fast per test)."""
    global _TEMPLATE
    assert POSTGRES_URL
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    base = make_url(POSTGRES_URL)
    with admin.connect() as conn:
        if _TEMPLATE is None:
            _TEMPLATE = f"cq_tpl_{uuid.uuid4().hex[:10]}"
            conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
            tpl_engine = create_engine(base.set(database=_TEMPLATE))
            migrate.upgrade(tpl_engine)
            tpl_engine.dispose()
        name = f"cq_t_{uuid.uuid4().hex[:12]}"
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


_SQLITE_TEMPLATE: Path | None = None


def _sqlite_database(data_dir: Path) -> None:
    """The migrated SQLite file of a fresh data directory, copied from one migrated per test
    process: the migrations take ~0.25 s a database, a copy ~1 ms (the app's start finds
    it at head, as on PostgreSQL's template clones). Private as the app makes it."""
    global _SQLITE_TEMPLATE
    if _SQLITE_TEMPLATE is None:
        path = Path(tempfile.mkdtemp(prefix="cq-sqlite-template-")) / "codeqr.db"
        engine = create_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()
        _SQLITE_TEMPLATE = path
    data_dir.mkdir(mode=0o700)
    target = data_dir / "codeqr.db"
    shutil.copyfile(_SQLITE_TEMPLATE, target)
    target.chmod(0o600)


def _drop_postgres(url: str) -> None:
    assert POSTGRES_URL
    name = make_url(url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings of one test: its own data directory and its own database."""
    database_url = _postgres_database() if POSTGRES_URL else None
    if database_url is None:
        _sqlite_database(tmp_path / "data")
    yield Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=database_url,
        events_url=f"chdb://{tmp_path / 'events'}" if EVENTS_IN_CHDB else None,
        secret_key="test-secret-key",
        default_plan="free",
    )
    if database_url:
        _drop_postgres(database_url)


class LiveServer:
    """A real uvicorn server on a free port, running the app in a thread."""

    def __init__(self, app: CodeQR, port: int) -> None:
        self.app = app
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            # As ``codeqr serve``: the plain dispatch function, declared ASGI 3.
            app.dispatch,
            interface="asgi3",
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            lifespan="on",
            # As ``codeqr serve``: the app alone decides whom to believe (trusted_proxies).
            proxy_headers=False,
        )
        # As `codeqr serve`: open event streams end as shutdown begins, so stop() is prompt.
        self.server = Server(config, before_shutdown=app.services.feed.close)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._clients: list[httpx.Client] = []

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.services

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)
        # The app's start froze every object then alive (gc.freeze, for short pauses in a
        # real process): hand them back to the collector, or each test's app stays.
        gc.unfreeze()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.base, headers=headers, follow_redirects=False)
        self._clients.append(client)  # closed when the server stops
        return client


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """The whole app served over real HTTP on 127.0.0.1."""
    port = free_port()
    app = create_app(settings, default_domain=f"127.0.0.1:{port}")
    live = LiveServer(app, port)
    live.start()
    yield live
    live.stop()

"""Durability of click capture (SPEC §3.3): once a 302 has left, its click is stored.

The first test drives the real ``codeqr serve`` process with many concurrent visitors, kills it
with SIGKILL mid-load and looks for every answered click after a restart. The second makes
one group commit fail in-process and checks that the failure loses nothing it promised and
leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from codeqr.events import clickhouse
from codeqr.events.models import click_events
from codeqr.events.sql import SqlEventsStore
from codeqr.events.store import Click
from codeqr.kit.db import Database
from codeqr.link.models import Link
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port, wait_until_serving
from tests.events.helpers import stored_click
from tests.factories import make_tenant

CODEQR = Path(sys.executable).with_name("codeqr")
CLICK_ID = re.compile(r"[0-9A-Za-z]{16}")
STRIPE_PREFIX = "codeqr_id_"
STRIPE_PAYMENT_LINK = "https://buy.stripe.com/test_28o5kD"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
CONCURRENCY = 48
KILL_AFTER = 4000
"""302s received before the SIGKILL."""
MAX_REQUESTS = 40_000
"""Upper bound of the load, in case the kill comes late."""
AFTER_RESTART = 300


# --- a load generator: raw keep-alive HTTP/1.1 connections, no redirects followed ---------


@dataclass(frozen=True)
class Answer:
    """One answered redirect."""

    key: str
    user_agent: str
    status: int
    location: str

    def click_id(self) -> str | None:
        """The click id the destination carries (``cq_id`` or Stripe's reference), if any."""
        query = parse_qs(urlsplit(self.location).query)
        if "cq_id" in query:
            return query["cq_id"][0]
        reference = query.get("client_reference_id", [""])[0]
        return reference.removeprefix(STRIPE_PREFIX) if reference else None


@dataclass
class Load:
    """Concurrent visitors, each request a distinct browser, against one short domain."""

    port: int
    host: str
    requests: Iterator[tuple[str, str]]
    answers: list[Answer] = field(default_factory=list)
    sent: int = 0
    unanswered: int = 0
    redirects_wanted: int | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, concurrency: int) -> None:
        """Send until ``requests`` runs out or the server goes away."""
        await asyncio.gather(*(self._visitor() for _ in range(concurrency)))

    async def _visitor(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for key, user_agent in self.requests:
                self.sent += 1
                writer.write(
                    f"GET /{key} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {user_agent}\r\n"
                    "Accept: text/html\r\nAccept-Language: en-US\r\n\r\n".encode()
                )
                try:
                    status, headers = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    self.unanswered += 1  # the server died with this request in flight
                    return
                self.answers.append(Answer(key, user_agent, status, headers.get("location", "")))
                if self.redirects_wanted is not None and len(self.answers) >= self.redirects_wanted:
                    self.reached.set()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split(" ", 2)[1]), headers


def visitors(keys: Sequence[str], limit: int, start: int = 0) -> Iterator[tuple[str, str]]:
    """``(key, user agent)`` pairs round-robin over ``keys``, every one a new visitor."""
    for n in range(start, start + limit):
        yield keys[n % len(keys)], f"{BROWSERS[n % len(BROWSERS)]} Visitor/{n}"


# --- the real server as a subprocess ------------------------------------------------------


class ServerProcess:
    """``codeqr serve`` in its own process, on the data of one test."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path, cwd: Path) -> None:
        self.env = env
        self.port = port
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start and wait until ``/healthz`` answers."""
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(CODEQR), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        # Generous: a start took over 20 s with a whole test run beside it, when imports were
        # compiled from source each time (before `make` compiled bytecode ahead). A start
        # that never comes still fails here.
        wait_until_serving(
            f"http://127.0.0.1:{self.port}", self.proc, timeout=90, log=self.log_path.read_text
        )

    def kill(self) -> None:
        """SIGKILL: no drain, no shutdown hook, nothing flushed on the way out."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop if running (SIGKILL when it hangs); always reaps and closes the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


def _cli_env(settings: Settings) -> dict[str, str]:
    """The environment of every ``codeqr`` command: this test's data, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env["CODEQR_DATA_DIR"] = str(settings.data_dir)
    assert settings.secret_key
    env["CODEQR_SECRET_KEY"] = settings.secret_key
    if settings.database_url:
        env["CODEQR_DATABASE_URL"] = settings.database_url
    if settings.events_url:
        env["CODEQR_EVENTS_URL"] = settings.events_url
    return env


def _cli(env: dict[str, str], cwd: Path, command: str) -> subprocess.Popen[bytes]:
    """Start ``codeqr <command> --json`` on the test's data (read it with ``_output``)."""
    return subprocess.Popen(
        [str(CODEQR), *shlex.split(command), "--json"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _output(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


def _stored(db: Database, link_id: str) -> tuple[set[str], int]:
    """The ids of a link's stored clicks and its ``clicks`` counter, in one statement (so one
    snapshot on both databases)."""
    query = (
        select(Link.clicks, click_events.c.id)
        .select_from(Link)
        .outerjoin(click_events, click_events.c.link_id == Link.id)
        .where(Link.id == link_id)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    assert rows, f"no link {link_id}"
    return {click for _, click in rows if click is not None}, int(rows[0][0])


def _clickhouse_clicks(url: str) -> dict[str, list[str]]:
    """Click ids per link in ClickHouse (the server stopped: chdb is one process's)."""
    client = clickhouse.connect(url)
    try:
        rows = client.query("SELECT link_id, id FROM click_events").result_rows
    finally:
        client.close()
    found: dict[str, list[str]] = {}
    for link_id, click in rows:
        found.setdefault(link_id, []).append(click)
    return found


@pytest.mark.slow
def test_every_answered_click_survives_sigkill_mid_load(settings: Settings, tmp_path: Path) -> None:
    """Every 302 answered before a SIGKILL has its click stored after the restart.

    Concurrent distinct visitors hit a ``cq_id`` link, a Stripe payment link and an untracked
    link until thousands of 302s have come back; then the server process is killed with
    requests in flight. After a restart on the same data, each click id seen in a Location is
    in ``click_events``, every link's counter equals its stored rows (same transaction), the
    untracked link has at least as many clicks as 302s, and the restarted server records again.
    """
    began = time.monotonic()
    port = free_port()
    env = _cli_env(settings)
    server = ServerProcess(env, port, tmp_path / "server.log", tmp_path)
    db = Database(settings.sqlalchemy_url)
    try:
        server.start()

        def codeqr(command: str) -> subprocess.Popen[bytes]:
            return _cli(env, tmp_path, command)

        _output(codeqr("users create --email load@example.com --password correct-horse-battery"))
        _output(codeqr("workspaces create --name Load --slug load --owner load@example.com "
                       "--plan business"))  # fmt: skip
        # The links and the key are made side by side: each command pays Python's start-up.
        made = [
            codeqr(f"links create --workspace load --url {shlex.quote(url)} --key {key} {flag}")
            for key, url, flag in (
                ("tracked", "https://example.com/landing?utm_source=load", "--track-conversion"),
                (
                    "stripe",
                    f"{STRIPE_PAYMENT_LINK}?codeqr_client_reference_id=1",
                    "--track-conversion",
                ),
                ("plain", "https://example.com/plain", ""),
            )
        ]
        api_key = codeqr("keys create --workspace load")
        links = {link["key"]: link for link in map(_output, made)}
        token = _output(api_key)["key"]
        host = urlsplit(links["tracked"]["shortLink"]).netloc
        keys = list(links)

        async def crash() -> Load:
            load = Load(port, host, visitors(keys, MAX_REQUESTS), redirects_wanted=KILL_AFTER)
            running = asyncio.ensure_future(load.run(CONCURRENCY))
            await asyncio.wait_for(load.reached.wait(), timeout=30)
            server.kill()
            await asyncio.wait_for(running, timeout=10)
            return load

        load_started = time.monotonic()
        load = asyncio.run(crash())
        load_seconds = time.monotonic() - load_started

        assert load.unanswered > 0, "the kill should land while requests are in flight"
        assert {a.status for a in load.answers} == {302}
        by_key = {key: [a for a in load.answers if a.key == key] for key in keys}
        seen = {key: [a.click_id() for a in answers] for key, answers in by_key.items()}
        for key in ("tracked", "stripe"):
            assert all(cid is not None and CLICK_ID.fullmatch(cid) for cid in seen[key]), key
            assert len(set(seen[key])) == len(seen[key]), "distinct visitors, distinct clicks"
        assert seen["plain"] == [None] * len(seen["plain"])
        assert not any("cq_id=" in a.location for a in by_key["stripe"])

        server.start()  # same port, same data
        stored: dict[str, tuple[set[str], int]] = {
            key: _stored(db, links[key]["id"]) for key in keys
        }
        for key in keys:
            ids, counter = stored[key]
            assert counter == len(ids), f"{key}: counter and rows are one transaction"
            assert len(ids) >= len(by_key[key]), f"{key}: fewer clicks stored than 302s sent"
        for key in ("tracked", "stripe"):
            missing = {cid for cid in seen[key] if cid is not None} - stored[key][0]
            assert not missing, f"{key}: {len(missing)} answered clicks lost, e.g. {min(missing)}"
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            for key in keys:
                shown = api.get(f"/api/links/{links[key]['id']}").json()["clicks"]
                assert shown == stored[key][1]

        async def again() -> Load:
            load = Load(port, host, visitors(["tracked"], AFTER_RESTART, start=MAX_REQUESTS))
            await asyncio.wait_for(load.run(16), timeout=20)
            return load

        after = asyncio.run(again())
        assert len(after.answers) == AFTER_RESTART
        assert {a.status for a in after.answers} == {302}
        fresh = {a.click_id() for a in after.answers}
        ids, counter = _stored(db, links["tracked"]["id"])
        assert None not in fresh
        assert len(fresh) == AFTER_RESTART
        assert fresh <= ids
        assert fresh.isdisjoint(stored["tracked"][0])
        assert counter == len(ids) == len(stored["tracked"][0]) + AFTER_RESTART

        if settings.events_url:
            # ClickHouse got every stored click exactly once: the outbox noted each batch in
            # its transaction, and shipments cut by the kill went out again after it.
            server.stop()
            in_clickhouse = _clickhouse_clicks(settings.events_url)
            for key in keys:
                ids, _ = _stored(db, links[key]["id"])
                got = in_clickhouse.get(links[key]["id"], [])
                assert sorted(got) == sorted(ids), f"{key}: ClickHouse differs from SQL"

        redirects = len(load.answers)
        print(  # the numbers of a run, shown with ``-s``
            f"\ndurability: sent={load.sent} 302s={redirects} unanswered={load.unanswered} "
            f"stored={sum(len(ids) for ids, _ in stored.values())} "
            f"({', '.join(f'{k}: {len(by_key[k])}/{len(stored[k][0])}' for k in keys)}) "
            f"load={load_seconds:.2f}s ({redirects / load_seconds:.0f}/s) "
            f"total={time.monotonic() - began:.1f}s"
        )
    finally:
        server.stop()
        db.dispose()


# --- a group commit that fails in the middle ----------------------------------------------


class _FailOnCounter:
    """Wraps the writer's connection or cursor: statements run until the counter UPDATE,
    which raises, so the batch dies with its click rows inserted but not committed."""

    def __init__(self, handle: Any, statements: list[str]) -> None:
        self._handle = handle
        self._statements = statements

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._handle, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], str):
                statement = " ".join(args[0].split()[:3]).upper()
                self._statements.append(statement)
                if statement.startswith("UPDATE LINKS"):
                    raise RuntimeError("crash between the click rows and their counters")
            return attribute(*args, **kwargs)

        return call


def _fail_next_batch(store: SqlEventsStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the next batch with clicks fail inside its transaction, after its INSERT.

    Returns the list of the statements that batch ran, filled in when it runs.
    """
    real = store._insert
    statements: list[str] = []

    def insert(
        handle: Any, clicks: Sequence[Click], *adopted: Sequence[Click], **options: bool
    ) -> None:
        if clicks and not statements:
            real(_FailOnCounter(handle, statements), clicks, *adopted, **options)
            raise AssertionError("unreachable: the counter update raises")
        real(handle, clicks, *adopted, **options)

    monkeypatch.setattr(store, "_insert", insert)
    return statements


def test_a_failed_group_commit_leaves_nothing_half_written(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails mid-transaction still answers 302s, without a click id, storing nothing.

    The first batch inserts its click rows and then fails on the counter bump. Its visitors
    still reach the destination, but no ``cq_id`` is promised for a click that is not stored;
    the rollback leaves no row without its counter. Later batches store normally, and a visitor
    of the failed batch who comes back gets a click of their own.
    """
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    created = api.post(
        "/api/links",
        json={"url": "https://example.com/offer", "key": "offer", "trackConversion": True},
    )
    assert created.status_code == 200, created.text
    link = created.json()
    store = server.services.events
    assert isinstance(store, SqlEventsStore)
    statements = _fail_next_batch(store, monkeypatch)
    host = urlsplit(link["shortLink"]).netloc

    async def visit(requests: Iterator[tuple[str, str]], concurrency: int) -> list[Answer]:
        load = Load(server.port, host, requests)
        await asyncio.wait_for(load.run(concurrency), timeout=20)
        return load.answers

    first = asyncio.run(visit(visitors(["offer"], 64), 32))
    assert statements == ["INSERT INTO CLICK_EVENTS", "UPDATE LINKS SET"], statements
    assert len(first) == 64
    assert {a.status for a in first} == {302}
    assert all(a.location.startswith("https://example.com/offer") for a in first)
    lost = [a for a in first if a.click_id() is None]
    kept = {cid for a in first if (cid := a.click_id()) is not None}
    assert lost, "the failed batch answers without a click id"

    ids, counter = _stored(server.services.db, link["id"])
    assert ids == kept, "exactly the promised clicks are stored, none of the failed batch"
    assert counter == len(ids)

    retry = asyncio.run(visit(iter([("offer", a.user_agent) for a in lost]), 8))
    assert {a.status for a in retry} == {302}
    retried = {a.click_id() for a in retry}
    assert None not in retried
    assert len(retried) == len(lost)
    ids, counter = _stored(server.services.db, link["id"])
    assert ids == kept | retried
    assert counter == len(ids) == 64


@pytest.mark.postgres
def test_the_click_writer_outlives_its_postgresql_connection(server: LiveServer) -> None:
    """The writer keeps one connection between batches (no ping per batch). When PostgreSQL
    cuts it (a restart, a proxy's idle timeout), the next batch runs again on a new one:
    its redirects carry their click ids and every click is stored and counted once."""
    from sqlalchemy import text

    tenant = make_tenant(server)
    api = server.client(tenant.token)
    link = api.post(
        "/api/links",
        json={"url": "https://example.com/kept", "key": "kept", "trackConversion": True},
    ).json()
    host = urlsplit(link["shortLink"]).netloc
    visit = server.client()

    def click(n: int) -> str:
        answer = visit.get("/kept", headers={"Host": host, "User-Agent": f"Mozilla/5.0 Kept/{n}"})
        assert answer.status_code == 302
        (cid,) = parse_qs(urlsplit(answer.headers["location"]).query)["cq_id"]
        return cid

    ids = [click(1)]
    writer = server.services.events._pg  # type: ignore[attr-defined]
    assert writer is not None, "kept after the first batch"
    pid = writer.dbapi_connection.info.backend_pid
    with server.services.db.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    ids += [click(n) for n in range(2, 6)]
    assert server.services.events._pg is not writer  # type: ignore[attr-defined]
    with server.services.db.engine.connect() as conn:
        stored = set(
            conn.execute(select(click_events.c.id).where(click_events.c.link_id == link["id"]))
            .scalars()
            .all()
        )
    assert stored == set(ids)
    assert api.get(f"/api/links/{link['id']}").json()["clicks"] == 5


def test_counters_are_locked_in_one_order_so_concurrent_batches_cannot_deadlock(
    server: LiveServer,
) -> None:
    """Two transactions bumping the same links in different orders deadlock on PostgreSQL
    (one fails whole: its clicks answered without ids). Every batch, of any process, updates
    its links' counters in link id order."""
    store = server.services.events
    tenant = make_tenant(server)

    def click(link_id: str) -> Click:
        return stored_click(f"c{link_id[-15:]}", 1, tenant.workspace_id, link_id)

    updates: list[list[str]] = []

    class Recording:
        connection = None

        def execute(self, *args: Any) -> None:
            pass

        def executemany(self, statement: str, rows: Sequence[Any]) -> None:
            if statement.startswith("UPDATE links"):
                updates.append([row[-1] for row in rows])

        def pipeline(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()

    recording = Recording()
    recording.connection = recording  # type: ignore[assignment]
    store._insert(recording, [click("link_b"), click("link_c"), click("link_a")])  # type: ignore[attr-defined]
    store._insert(recording, [click("link_c"), click("link_a")], [click("link_b")])  # type: ignore[attr-defined]
    assert updates == [["link_a", "link_b", "link_c"], ["link_a", "link_b", "link_c"]]

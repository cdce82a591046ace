"""``/readyz``: 200 only with the database answering at the code's migration head and, in
scale-out, Redis answering with the link-cache subscription live; 503 naming the check that
failed otherwise. Answers are shared for a second, so probes cannot load the database."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from codeqr import migrate
from codeqr.app import create_app
from codeqr.settings import Settings
from tests.conftest import LiveServer, _drop_postgres, free_port

REDIS_URL = os.environ.get("CODEQR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
OLDER = "b41f0c2d7e93"
"""A revision before the head: a database a deploy has not migrated yet."""

MakeServer = Callable[[Settings], LiveServer]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    started: list[LiveServer] = []

    def make(settings: Settings) -> LiveServer:
        port = free_port()
        live = LiveServer(create_app(settings, default_domain=f"127.0.0.1:{port}"), port)
        live.start()
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def set_revision(settings: Settings, revision: str) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_ready_when_the_database_answers_at_the_head(server: LiveServer) -> None:
    response = server.client().get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
    }


def test_a_database_behind_the_code_is_not_ready_until_migrated(
    settings: Settings, make_server: MakeServer
) -> None:
    settings.ensure_data_dir()
    engine = create_engine(settings.sqlalchemy_url)
    migrate.upgrade(engine)
    engine.dispose()
    set_revision(settings, OLDER)
    server = make_server(settings.model_copy(update={"migrate_on_start": False}))
    client = server.client()

    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    (head,) = migrate.code_heads()
    assert body["checks"]["migrations"] == (
        f"not current: the database is at {OLDER}, this code needs {head}"
    )

    set_revision(settings, head)  # the deploy's migration ran
    wait_for(lambda: client.get("/readyz").status_code == 200, timeout=3)


def test_redis_out_of_reach_is_not_ready_and_says_redis(
    settings: Settings, make_server: MakeServer
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    server = make_server(settings.model_copy(update={"redis_url": closed}))
    response = server.client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "unreachable"
    assert "127.0.0.1" not in response.text  # nothing of where Redis is


@pytest.mark.redis
def test_ready_with_redis_and_the_invalidation_subscription_live(
    settings: Settings, make_server: MakeServer
) -> None:
    server = make_server(settings.model_copy(update={"redis_url": REDIS_URL}))
    invalidations = server.services.invalidations
    assert invalidations is not None
    wait_for(invalidations.subscribed.is_set)
    response = server.client().get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


def test_probes_share_one_check_a_second(server: LiveServer) -> None:
    """Hundreds of probes, many at once: the database is asked about once a second."""
    readiness = server.app.api.state.readiness
    before = readiness.checks
    statuses: list[int] = []

    def probe() -> None:
        with httpx.Client(base_url=server.base) as client:
            statuses.extend(client.get("/readyz").status_code for _ in range(25))

    started = time.monotonic()
    threads = [threading.Thread(target=probe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    assert statuses == [200] * 200
    assert readiness.checks - before <= int(took) + 2, (readiness.checks - before, took)


@pytest.mark.postgres  # a PostgreSQL database can be taken away (the SQLite run deselects it)
def test_a_database_gone_is_not_ready_and_says_database(
    settings: Settings, make_server: MakeServer
) -> None:
    server = make_server(settings)
    assert server.client().get("/readyz").status_code == 200
    assert settings.database_url
    _drop_postgres(settings.database_url)  # ends every connection, then the database itself
    time.sleep(1.1)  # past the shared answer
    response = server.client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == "unreachable" or "timeout" in body["checks"]["database"]
    assert "postgres" not in response.text.lower()  # nothing of the connection string

"""One live server per test module, loaded once with the fixed data set (the queries only
read, so the tests of a module can share it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from codeqr.analytics.clickhouse import ClickHouseReader
from codeqr.app import create_app
from codeqr.events import clickhouse
from codeqr.events.copy import copy_events
from codeqr.settings import Settings
from codeqr.workspace.models import Plan
from tests.analytics.dataset import Dataset, build, write
from tests.conftest import POSTGRES_URL, LiveServer, _drop_postgres, _postgres_database, free_port
from tests.factories import Tenant, make_tenant


@dataclass(frozen=True)
class Loaded:
    server: LiveServer
    a: Dataset
    """The main workspace (business plan)."""
    b: Dataset
    """Another workspace with data of the same shapes: none of it may show in ``a``."""
    free: Tenant
    pro: Tenant


@pytest.fixture(scope="module")
def store() -> str:
    """Where the module's analytics read events: ``sql`` (the relational database of the
    run). The conformance modules (``test_analytics``, ``test_timeseries``) ask every
    question of ``chdb`` too, with the same data and the same expected answers."""
    return "sql"


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory, store: str) -> Iterator[LiveServer]:
    """The whole app on a free port, for the tests of one module (one per ``store``)."""
    database_url = _postgres_database() if POSTGRES_URL else None
    data_dir: Path = tmp_path_factory.mktemp("analytics") / "data"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret-key",
        default_plan="free",
    )
    port = free_port()
    live = LiveServer(create_app(settings, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    # A module's tests ask thousands of questions of one key within a minute: the API's
    # plan rates would refuse them (rate limits have tests of their own, tests/api/).
    with live.services.db.transaction() as session:
        session.execute(update(Plan).values(api_rate_per_minute=1_000_000))
    yield live
    live.stop()
    if database_url:
        _drop_postgres(database_url)


@pytest.fixture(scope="module")
def loaded(
    module_server: LiveServer, store: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """The data set, written once (and copied into ClickHouse when the store is chdb)."""
    a = build(
        make_tenant(module_server),
        seed=7,
        prefix="a",
        links=6,
        clicks=1200,
        leads=220,
        sales=90,
        gone_link=True,
    )
    b = build(
        make_tenant(module_server), seed=8, prefix="b", links=3, clicks=300, leads=40, sales=20
    )
    write(module_server, a)
    write(module_server, b)
    free = make_tenant(module_server, plan="free")
    pro = make_tenant(module_server, plan="pro")
    if store == "sql":
        yield Loaded(module_server, a, b, free, pro)
        return
    assert store == "chdb", store
    client = clickhouse.connect(f"chdb://{tmp_path_factory.mktemp('events')}")
    try:
        reports = copy_events(module_server.services.db, client)
        assert all(r.copied == r.total and not r.mismatched_days for r in reports), reports
        module_server.services.reader = ClickHouseReader(client, in_process=True)
        yield Loaded(module_server, a, b, free, pro)
    finally:
        client.close()

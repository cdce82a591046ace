"""One live server per module for the security suite, and the two workspaces it probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeqr.app import create_app
from codeqr.settings import Settings
from tests.conftest import POSTGRES_URL, LiveServer, _drop_postgres, _postgres_database, free_port

from .world import APP_TEST_WEBHOOK_SECRET, APP_WEBHOOK_SECRET, METRICS_TOKEN, World


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The whole app over real HTTP, shared by every cell of a module (cells are requests,
    not servers: the suite stays in seconds)."""
    database_url = _postgres_database() if POSTGRES_URL else None
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("security") / "data",
        database_url=database_url,
        secret_key="test-secret-key",
        default_plan="free",
        stripe_app_webhook_secret=APP_WEBHOOK_SECRET,
        stripe_app_test_webhook_secret=APP_TEST_WEBHOOK_SECRET,
        metrics_token=METRICS_TOKEN,
    )
    port = free_port()
    server = LiveServer(create_app(settings, default_domain=f"127.0.0.1:{port}"), port)
    server.start()
    # The suite checks who may reach what; the deliveries its webhooks would cause go to
    # made-up hosts, so none is attempted.
    assert server.services.deliverer is not None
    server.services.deliverer.stop()
    yield server
    server.stop()
    if database_url:
        _drop_postgres(database_url)


@pytest.fixture(scope="module")
def world(live: LiveServer) -> World:
    """Workspaces A and B, each with keys, a user, a link, a click, a customer, a sale, a
    Stripe connection and an OAuth grant."""
    return World.build(live)

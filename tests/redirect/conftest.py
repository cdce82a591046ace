"""Fixtures of the redirect tests: a workspace on the live server, servers with own settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from codeqr.app import create_app
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port

from .helpers import Shortener

MakeServer = Callable[..., LiveServer]


@pytest.fixture
def shortener(server: LiveServer) -> Shortener:
    """A business-plan workspace on the default test server."""
    return Shortener.on(server)


@pytest.fixture
def make_server(settings: Settings) -> Iterator[MakeServer]:
    """Start a live server whose settings are the test's with ``overrides`` applied.

    Servers started by one test share its database; ``default_domain`` lets a second server
    answer for the first one's links (a restart).
    """
    started: list[LiveServer] = []

    def start(*, default_domain: str | None = None, **overrides: Any) -> LiveServer:
        port = free_port()
        app = create_app(
            settings.model_copy(update=overrides),
            default_domain=default_domain or f"127.0.0.1:{port}",
        )
        live = LiveServer(app, port)
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()

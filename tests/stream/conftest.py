"""Servers for the stream tests: short heartbeats, and uvicorn told to end open streams."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from codeqr.app import CodeQR, create_app
from codeqr.settings import Settings
from codeqr.stream.serving import Server
from tests.conftest import LiveServer, free_port

HEARTBEAT = 0.4


class StreamServer(LiveServer):
    """``LiveServer`` on ``codeqr serve``'s server class, which ends open streams first."""

    def __init__(self, app: CodeQR, port: int) -> None:
        super().__init__(app, port)
        self.server = Server(self.server.config, before_shutdown=app.services.feed.close)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def serve(settings: Settings) -> StreamServer:
    """A started app of ``settings``; several may share one database (app processes)."""
    port = free_port()
    live = StreamServer(create_app(settings, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    return live


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.stream_heartbeat_seconds = HEARTBEAT
    return settings


@pytest.fixture
def server(settings: Settings) -> Iterator[StreamServer]:
    live = serve(settings)
    yield live
    live.stop()

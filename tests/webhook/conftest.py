"""A real HTTP receiver on loopback, and a server allowed to deliver to it quickly."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from codeqr.app import create_app
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A threaded HTTP server that records every POST and answers from a script.

    ``answers`` is consumed one status per request (then 200); a negative number means
    "hang that many seconds, then answer 200". ``events`` is what a receiver deduping on
    the event id keeps: each id once, however often it arrives."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)
    events: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.got.append(Received(headers, body))
            status = self.answers.pop(0) if self.answers else 200
        if status < 0:
            time.sleep(-status)
            status = 200
        if 200 <= status < 300:
            with self.lock:
                event = json.loads(body)
                self.events.setdefault(event["id"], event)
        return status

    def wait(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"receiver got: {self.got!r}"
            time.sleep(0.02)

    def of_type(self, event: str) -> list[Any]:
        with self.lock:
            return [e for e in self.events.values() if e["event"] == event]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The receiver, serving on 127.0.0.1 until the test ends."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{port}/hooks"
    yield state
    httpd.shutdown()
    httpd.server_close()


def quick(server: LiveServer) -> LiveServer:
    """Retries within a fraction of a second (the schedule's shape is unchanged)."""
    deliverer = server.services.deliverer
    assert deliverer is not None
    deliverer.base_delay = 0.05
    deliverer.max_delay = 0.2
    deliverer.interval = 0.05
    return server


def serve(settings: Settings) -> LiveServer:
    """A started server on ``settings``."""
    port = free_port()
    live = LiveServer(create_app(settings, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    return quick(live)


@pytest.fixture
def private_settings(settings: Settings) -> Settings:
    """The test's settings, allowed to deliver to loopback, with short timeouts."""
    return settings.model_copy(
        update={"webhooks_allow_private": True, "webhooks_timeout_seconds": 1.0}
    )


@pytest.fixture
def hooked(private_settings: Settings) -> Iterator[LiveServer]:
    """The app over HTTP, delivering webhooks to loopback with quick retries."""
    live = serve(private_settings)
    yield live
    live.stop()

"""An SSE client read on a thread, and ways to make events."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import LiveServer
from tests.conversion.helpers import visitor_agent


@dataclass(frozen=True)
class Message:
    """One SSE message (``data`` parsed as JSON), or a comment (``comment`` set)."""

    id: str | None
    event: str | None
    data: Any
    comment: str | None
    at: float
    """``time.monotonic()`` when it was read."""


@dataclass
class EventStream:
    """``GET /api/events/stream`` held open; messages arrive in ``inbox`` as read."""

    server: LiveServer
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    inbox: queue.Queue[Message | None] = field(default_factory=queue.Queue)
    status: int = 0
    retry: int | None = None
    retry_after: str | None = None
    """The ``Retry-After`` header of a refused stream."""
    ended = False

    def __post_init__(self) -> None:
        self._client = httpx.Client(base_url=self.server.base, cookies=self.cookies, timeout=30)
        self.server._clients.append(self._client)  # closed when the server stops, come what may
        self._opened = threading.Event()
        self._body = b""
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def open(self) -> EventStream:
        """Connect and wait until the server says the subscription is live (or refused)."""
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"
        if self.status == 200:
            first = self.next(5, comments=True)
            assert first.comment == "connected", first
        return self

    def close(self) -> None:
        """Hang up as a browser does: the connection's socket shut at once (closing the
        client alone may leave it open while the reader thread is blocked on it, and the
        server then learns of the departure late)."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self._thread.join(5)

    def refusal(self) -> dict[str, Any]:
        """The error envelope of a refused stream."""
        body: dict[str, Any] = json.loads(self._body)
        return body

    def next(self, timeout: float = 5, *, comments: bool = False) -> Message:
        """The next message (comments skipped unless asked for)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no message in time"
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no message in time") from None
            assert message is not None, "the stream ended"
            if comments or message.comment is None:
                return message

    def events(self, count: int, timeout: float = 5) -> list[Message]:
        return [self.next(timeout) for _ in range(count)]

    def quiet(self, seconds: float) -> list[Message]:
        """The events (not comments) that arrive within ``seconds``."""
        seen: list[Message] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            if message is None:
                break
            if message.comment is None:
                seen.append(message)
        return seen

    def _read(self) -> None:
        try:
            with self._client.stream(
                "GET", "/api/events/stream", headers=self.headers, params=self.params
            ) as response:
                self.status = response.status_code
                stream = response.extensions.get("network_stream")
                self._socket = stream.get_extra_info("socket") if stream is not None else None
                self.content_type = response.headers.get("content-type", "")
                if response.status_code != 200:
                    self.retry_after = response.headers.get("retry-after")
                    self._body = response.read()
                    self._opened.set()
                    return
                self._opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    self._line(line, fields)
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test
        finally:
            self.ended = True
            self._opened.set()
            self.inbox.put(None)

    def _line(self, line: str, fields: dict[str, str]) -> None:
        now = time.monotonic()
        if line.startswith(":"):
            self.inbox.put(Message(None, None, None, line[1:].strip(), now))
        elif not line:
            if "data" in fields:
                data = json.loads(fields["data"])
                self.inbox.put(Message(fields.get("id"), fields.get("event"), data, None, now))
            fields.clear()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value


def stream(server: LiveServer, token: str | None = None, **params: str) -> EventStream:
    """An open stream authenticated with an API key."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return EventStream(server, headers=headers, params=params).open()


def make_link(server: LiveServer, token: str, *, track: bool = True) -> dict[str, Any]:
    created = server.client(token).post(
        "/api/links", json={"url": "https://shop.example/p", "trackConversion": track}
    )
    assert created.status_code == 200, created.text
    link: dict[str, Any] = created.json()
    return link


def visit(server: LiveServer, link: dict[str, Any]) -> str:
    """One visit by a new visitor (a browser, so the click counts); the click id."""
    answer = server.client().get(
        urlsplit(link["shortLink"]).path,
        headers={"user-agent": visitor_agent()},
    )
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["cq_id"][0]

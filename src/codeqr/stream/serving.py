"""uvicorn's server, told to end the open event streams when it starts to shut down, and
the connection limits it runs with.

uvicorn stops accepting connections, then waits for every response in progress to finish,
and only then runs the app's lifespan shutdown. An event stream never finishes on its own,
so without this the server would wait for its graceful-shutdown timeout (or forever).

uvicorn has no timeout on reading a request's head or body (``timeout_keep_alive`` only
runs between a response and the next request's first byte) and httptools no bound on a
head's size: a client sending a byte a second (slowloris) kept its connection for ever.
``GuardedHttpTools`` notes when a head (or a body) began arriving and how large the head is;
the server's tick closes, once a second, every connection whose head or body is overdue.
"""

from __future__ import annotations

import asyncio
import resource
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from codeqr.settings import Settings

_SPARE_FILES = 256
"""Open files beyond the connections: the database, its log, logs, the GeoIP file."""


def limits(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``Config`` arguments that bound what connections may hold.

    The protocol is httptools' with deadlines on heads and bodies (``GuardedHttpTools``);
    ``limit_concurrency`` bounds how many connections there are at all.
    """
    guarded = type(
        "GuardedHttpTools",
        (GuardedHttpTools,),
        {
            "head_timeout": settings.http_head_timeout_seconds,
            "body_timeout": settings.http_body_timeout_seconds,
            "max_head_bytes": settings.http_max_head_bytes,
        },
    )
    return {
        "http": guarded,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_concurrency,
    }


def allow_open_files(connections: int) -> None:
    """Raise this process's soft open-files limit (up to the hard one) to fit
    ``connections``: below it, connections would fail with EMFILE before uvicorn's
    ``limit_concurrency`` answers 503."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + _SPARE_FILES
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with deadlines on a request's head and body and a bound
    on the head's size. Costs a clock read per request; the deadlines are enforced by
    ``Server``'s tick, not by a timer per request."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    max_head_bytes: int = 65_536
    waiting_since: float | None = None
    """When the part of a request now awaited (head, or body) began; ``None`` when none is."""
    waiting_for: float = 0.0
    """How long that part may take."""
    head_bytes: int = 0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # A connection that never sends a whole head is as overdue as a slow head.
        self.waiting_since, self.waiting_for = self.loop.time(), self.head_timeout

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.waiting_since, self.waiting_for = self.loop.time(), self.head_timeout
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        has_body = any(
            name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
            for name, value in self.headers
        )
        self.waiting_since = self.loop.time() if has_body else None
        self.waiting_for = self.body_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.waiting_since = None
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def overdue(self, now: float) -> bool:
        """Whether the head or body awaited has taken longer than it may."""
        since = self.waiting_since
        return since is not None and now - since > self.waiting_for


class Server(uvicorn.Server):
    """``uvicorn.Server`` that calls ``before_shutdown`` (on the server's loop) first, and
    closes connections whose request head or body is overdue (``GuardedHttpTools``)."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown
        self.cut_off = 0
        """Connections closed for a request that came too slowly."""

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0:  # once a second
            now = asyncio.get_running_loop().time()
            for connection in list(self.server_state.connections):
                if isinstance(connection, GuardedHttpTools) and connection.overdue(now):
                    connection.waiting_since = None
                    if not connection.transport.is_closing():
                        connection.transport.close()
                        self.cut_off += 1
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)

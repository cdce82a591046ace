"""uvicorn's server, told to end the open event streams when it starts to shut down, and
the connection limits it runs with.

uvicorn stops accepting connections, then waits for every response in progress to finish,
and only then runs the app's lifespan shutdown. An event stream never finishes on its own,
so without this the server would wait for its graceful-shutdown timeout (or forever).
"""

from __future__ import annotations

import resource
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from codeqr.settings import Settings

_SPARE_FILES = 256
"""Open files beyond the connections: the database, its log, logs, the GeoIP file."""


def limits(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``Config`` arguments that bound what connections may hold.

    uvicorn has no timeout on reading a request's headers or body (``timeout_keep_alive``
    only runs between a response and the next request's first byte), so a client that sends
    a request slowly keeps its connection: ``limit_concurrency`` bounds how many there are.
    """
    return {
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


class Server(uvicorn.Server):
    """``uvicorn.Server`` that calls ``before_shutdown`` (on the server's loop) first."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)

"""uvicorn's server, told to end the open event streams when it starts to shut down.

uvicorn stops accepting connections, then waits for every response in progress to finish,
and only then runs the app's lifespan shutdown. An event stream never finishes on its own,
so without this the server would wait for its graceful-shutdown timeout (or forever).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class Server(uvicorn.Server):
    """``uvicorn.Server`` that calls ``before_shutdown`` (on the server's loop) first."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)

"""A request id for every answer that is not a redirect: in its logs and its headers.

The id comes from the request's ``X-Request-ID`` when a proxy in front set a sane one (so
its access log and ours share it), else it is made here. It is bound with
``structlog.contextvars`` for as long as the request runs, so every line logged for it
(worker threads included: they run in a copy of the request's context) carries
``request_id``; and it goes back in the answer's ``X-Request-ID``.

The redirect never comes here: binding and unbinding context variables costs about a
microsecond, and a redirect logs nothing on its way.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from codeqr.redirect.handler import Receive, Scope, Send

HEADER = b"x-request-id"
MAX_LENGTH = 128
_SANE = re.compile(rb"[A-Za-z0-9._:+=/@-]{1,%d}" % MAX_LENGTH)
"""What is taken from a client: bounded, and nothing that could forge a log line or a
header (no spaces, quotes, control characters or commas)."""


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request's own ``X-Request-ID`` when it is sane, else a new random one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value
            break
    return secrets.token_hex(16).encode()


async def with_request_id(
    scope: Scope, receive: Receive, send: Send, app: Callable[..., Awaitable[None]], *args: Any
) -> None:
    """Run ``app(scope, receive, send, *args)`` with the request's id bound for its logs
    and added to its answer's headers."""
    rid = request_id(scope["headers"])

    async def send_with_id(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
        await send(message)

    tokens = structlog.contextvars.bind_contextvars(request_id=rid.decode("ascii"))
    try:
        await app(scope, receive, send_with_id, *args)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)

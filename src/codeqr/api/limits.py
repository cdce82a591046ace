"""What wraps the API: oversize request bodies refused before anything reads them, and
every answer's rate-limit headers."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson

from codeqr.api.ratelimits import STATE_KEY
from codeqr.kit.errors import error_envelope
from codeqr.kit.ratelimit import Decision
from codeqr.redirect.handler import Receive, Scope, Send

Message = MutableMapping[str, Any]


class BodyLimit:
    """413 in the error envelope for a body over ``limit`` bytes, declared or streamed.

    A declared ``Content-Length`` is checked up front. A body without one (chunked) is read
    here first, up to the limit, and replayed to the app; past the limit the app never runs,
    so nothing of the request can have been written.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
        if declared is not None:
            if declared > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            # The body as it came, then the live channel (disconnects, for streaming answers).
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            error_envelope("payload_too_large", f"Request body is larger than {self.limit} bytes.")
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimitHeaders:
    """Puts the ``X-RateLimit-*`` headers of the request's API-key decision (see
    ``api.ratelimits``) on its answer, whatever the route answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            decision: Decision | None = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and decision is not None:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-ratelimit-limit" for name, _ in headers):
                    headers += [
                        (k.lower().encode(), v.encode()) for k, v in decision.headers().items()
                    ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

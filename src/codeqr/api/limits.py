"""Oversize request bodies are refused before anything reads them."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson

from codeqr.kit.errors import PayloadTooLarge, error_envelope
from codeqr.redirect.handler import Receive, Scope, Send


class BodyLimit:
    """413 in the error envelope for a body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._refuse(send)
                    return
        seen = 0

        async def limited_receive() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Rendered by the API's error handler like any other failure.
                    raise PayloadTooLarge(f"Request body is larger than {self.limit} bytes.")
            return message

        await self.app(scope, limited_receive, send)

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
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

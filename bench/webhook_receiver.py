"""The webhook benchmark's receiver: answers every POST 200 at once and counts event ids.

``python bench/webhook_receiver.py --port P`` serves it under uvicorn (uvloop, httptools).
``GET /stats`` answers ``{"received", "distinct", "duplicates", "wrong_event"}``: requests
received, distinct ``CodeQR-Event-Id`` values among them, repeats of an id, and requests
whose ``CodeQR-Event`` was not ``link.clicked``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

seen: set[bytes] = set()
counts = {"received": 0, "duplicates": 0, "wrong_event": 0}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["method"] == "GET":
        body = json.dumps({**counts, "distinct": len(seen)}).encode()
    else:
        while (await receive()).get("more_body"):
            pass
        headers = dict(scope["headers"])
        event_id = headers.get(b"codeqr-event-id", b"")
        counts["received"] += 1
        if event_id in seen:
            counts["duplicates"] += 1
        seen.add(event_id)
        if headers.get(b"codeqr-event") != b"link.clicked":
            counts["wrong_event"] += 1
        body = b"ok"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()

"""The bare ASGI baseline of the redirect benchmark: an app that only answers 302.

``python bench/bare_asgi.py --port P`` serves it under uvicorn with the options of
``codeqr serve`` (``src/codeqr/cli/main.py``), so that the gap between this app and CodeQR is
CodeQR's own work: the link lookup, the click and its durable write.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# The destination of the benchmark's links, so the response is as long as CodeQR's.
LOCATION = b"https://example.com/landing"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every request with a 302; take part in the lifespan protocol uvicorn runs."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [(b"location", LOCATION), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    """Serve the app the way ``codeqr serve`` serves CodeQR."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Keep in step with codeqr.cli.main.serve: the baseline is only fair on the same server.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        interface="asgi3",
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        # codeqr.stream.serving.limits with the default settings.
        timeout_keep_alive=5,
        limit_concurrency=10_000,
    )


if __name__ == "__main__":
    main()

"""Live events of every process reach the streams of every other within a second (scale-out),
through Redis.

The events tables stay the source of truth (a reconnect with ``Last-Event-ID`` replays from
them). What travels through Redis is a nudge: a process that stored events publishes its
name on one channel, at most once every ``coalesce_s``; every other process polls its feed
at once when it hears one (only while it has open streams, so a nudge costs nothing where no
one watches). The feed's own polling stays as the net under this, at a slow pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

import redis
import redis.asyncio
import structlog

from codeqr.kit.tasks import cancel_and_wait
from codeqr.stream.feed import Feed

log = structlog.get_logger(__name__)

CHANNEL = "codeqr:events:stored"
SAFETY_NET_S = 2.0
"""How often the feed still polls on its own once nudges come through Redis."""


class RemoteNudges:
    """Announces this process's writes and passes every other process's on to ``feed``."""

    def __init__(self, url: str, feed: Feed, *, coalesce_s: float = 0.05) -> None:
        self.url = url
        self.feed = feed
        self.coalesce_s = coalesce_s
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}".encode()
        self.heard = 0
        """Nudges from other processes."""
        self._pending = False
        self._tasks: list[asyncio.Task[None]] = []

    def stored(self) -> None:
        """This process stored events (any thread; a flag, no I/O)."""
        self._pending = True

    def start(self) -> None:
        """Start announcing and listening (in the app's lifespan, on its event loop)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._announce()), loop.create_task(self._listen())]

    async def _announce(self) -> None:
        client = redis.asyncio.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                await asyncio.sleep(self.coalesce_s)
                if not self._pending:
                    continue
                self._pending = False
                try:
                    await client.publish(CHANNEL, self.name)
                except (redis.RedisError, OSError) as error:
                    # The others' feeds still poll on their own (``SAFETY_NET_S``).
                    log.warning("stream.fanout.publish_failed", error=repr(error))
                    await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _listen(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and message["data"] != self.name:
                            self.heard += 1
                            self.feed.nudge()
            except (redis.RedisError, OSError) as error:
                log.warning("stream.fanout.lost", error=repr(error))
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(0.5)

    async def aclose(self) -> None:
        """Stop announcing and listening."""
        await cancel_and_wait(self._tasks)

"""Link changes reach the redirect cache of every process through Redis pub/sub (scale-out).

A process that commits a link change forgets the link in its own cache at once and
publishes ``domain␀key`` on one channel; every process, itself included, forgets it when the
message arrives (well under a second). Pub/sub keeps nothing for a subscriber that is away:
a process that lost its subscription drops its whole cache when it subscribes again, so
nothing it missed can be served stale. Publishing goes through a queue and one thread, so a
slow or absent Redis never holds up a request.

Other per-process state rides the same channel and subscription (``Listener``): a message
``\x01<tag>\x00<payload>`` goes to the listener of that tag (the watch list of
``link.clicked`` webhooks: ``webhook.clicks``), which is suspended and resumed with the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import Protocol

import redis
import redis.asyncio
import structlog

from codeqr.kit.tasks import cancel_and_wait
from codeqr.redirect.cache import LinkCache

log = structlog.get_logger(__name__)

CHANNEL = "codeqr:links:changed"
_SEP = "\x00"
_OTHER = "\x01"
_STOP = None


class Listener(Protocol):
    """Per-process state kept current through the channel, beside the link cache."""

    def heard(self, payload: str) -> None:
        """Another process (or this one) changed something (called on the event loop)."""

    def suspend(self) -> None:
        """The subscription is down: changes elsewhere cannot be heard."""

    def resume(self) -> None:
        """The subscription is live again: anything may have changed meanwhile."""


class LinkInvalidations:
    """Publishes this process's link changes and applies every process's to ``cache``."""

    def __init__(self, url: str, cache: LinkCache, *, retry_s: float = 0.5) -> None:
        self.url = url
        self.cache = cache
        self.retry_s = retry_s
        self.subscribed = asyncio.Event()
        """Set while the subscription is live (``/readyz`` reads it)."""
        self.resets = 0
        """Times the whole cache was dropped after a lost subscription."""
        self.published = 0
        self.listeners: dict[str, Listener] = {}
        """By tag: other state kept current through this channel (see the module docstring)."""
        self._outbox: queue.Queue[str | None] = queue.Queue(maxsize=100_000)
        self._publisher = threading.Thread(
            target=self._publish_loop, name="codeqr-link-publisher", daemon=True
        )
        self._listener: asyncio.Task[None] | None = None
        self._stopping = threading.Event()

    # -- this process's changes -----------------------------------------------------------

    def changed(self, domain: str, key_lower: str) -> None:
        """After a link change commits: forget it here now, and tell the other processes."""
        self.cache.invalidate(domain, key_lower)
        self._enqueue(f"{domain}{_SEP}{key_lower}")

    def publish(self, tag: str, payload: str) -> None:
        """Tell every process's listener of ``tag`` (this one's included) about ``payload``."""
        self._enqueue(f"{_OTHER}{tag}{_SEP}{payload}")

    def _enqueue(self, message: str) -> None:
        try:
            self._outbox.put_nowait(message)
        except queue.Full:  # Redis away for long: their caches are dropped on reconnect
            log.warning("redirect.invalidation.outbox_full")

    def _publish_loop(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            while (item := self._outbox.get()) is not _STOP:
                while True:
                    try:
                        client.publish(CHANNEL, item)
                        self.published += 1
                        break
                    except redis.RedisError as error:
                        # Subscribers lost Redis too and stop caching until they hear it
                        # again; keep trying so the change is announced as soon as it can be.
                        log.warning("redirect.invalidation.publish_failed", error=repr(error))
                        if self._stopping.wait(self.retry_s):
                            return
        finally:
            client.close()

    # -- every process's changes ----------------------------------------------------------

    def start(self) -> None:
        """Start publishing and listening (in the app's lifespan, on its event loop); the
        cache holds nothing until the subscription is live."""
        self._suspend()
        self._publisher.start()
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        first = True
        while True:
            client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    if not first:
                        self.resets += 1
                        log.info("redirect.invalidation.resubscribed")
                    first = False
                    self.subscribed.set()
                    self.cache.resume()
                    for each in self.listeners.values():
                        each.resume()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        text = message["data"].decode()
                        if text.startswith(_OTHER):
                            tag, _, payload = text[1:].partition(_SEP)
                            if (heard := self.listeners.get(tag)) is not None:
                                heard.heard(payload)
                            continue
                        domain, _, key_lower = text.partition(_SEP)
                        self.cache.invalidate(domain, key_lower)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as error:
                if self.subscribed.is_set():
                    log.warning("redirect.invalidation.lost", error=repr(error))
                first = False
            finally:
                # Until subscribed again a change elsewhere cannot reach this process: it
                # drops what it holds and reads every link from the database meanwhile.
                self.subscribed.clear()
                self._suspend()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(self.retry_s)

    def _suspend(self) -> None:
        self.cache.suspend()
        for listener in self.listeners.values():
            listener.suspend()

    async def aclose(self) -> None:
        """Stop listening and publishing (what is queued is still published)."""
        if self._listener is not None:
            await cancel_and_wait([self._listener])
        if self._publisher.is_alive():
            self._outbox.put(_STOP)
            await asyncio.to_thread(self._publisher.join, 2)
            # Still retrying an unreachable Redis: give up (the others, cut off from it
            # too, cache nothing until they hear it again).
            self._stopping.set()
            await asyncio.to_thread(self._publisher.join, 2)

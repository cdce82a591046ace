"""The one-hour click dedupe across processes (scale-out), in Redis.

Each process keeps its recent visitors in memory (``dedupe.RecentVisitors``), which only
knows that process's clicks. With several processes, a new visitor of a link is claimed in
Redis before its click is written: ``SET key "<click id>:<first ms>" NX PX 3600000 GET``
claims the visitor for an hour, or answers the click id of the process that claimed it
first. Claims go out as the clicks do, in groups: the claims that arrive while one group is
in flight are sent together in the next, as one call of a Lua script (``_CLAIMS``) that runs
the ``SET`` of each. A round trip per claim cost ~40% of a redirect's time on PostgreSQL, and
a pipeline of one ``SET`` per claim still spent most of the Redis client's time packing
commands; one command a group also keeps Redis' load at a few hundred commands a second per
process. The group travels as one space-separated argument and its answer as one string:
the client packs and parses one value a group, not two per claim (keys and values hold no
spaces). Keys of a group may live in any slot: a single Redis (or a primary with replicas),
not Redis Cluster.

Redis away never loses a click or fails a redirect: the click is counted with the database
check of the single-process mode (logged, counted in ``fallbacks``).
"""

from __future__ import annotations

import asyncio
import time

import redis
import redis.asyncio
import structlog

from codeqr.events.dedupe import WINDOW_MS

log = structlog.get_logger(__name__)

PREFIX = "codeqr:visitor:"


_CLAIMS = """
local earlier = {}
for key, value in string.gmatch(ARGV[2], '(%S+) (%S+)') do
  earlier[#earlier + 1] = redis.call('SET', key, value, 'NX', 'PX', ARGV[1], 'GET') or '-'
end
return table.concat(earlier, ' ')
"""
"""Claims of a group in one command, ``ARGV[2]`` = ``"key value key value …"``: for each pair,
``SET NX PX GET``. The answer has a word per claim: ``-`` when claimed now, else the earlier
claim's value."""


class VisitorsUnavailable(Exception):
    """Redis could not be asked (down, or slower than the timeout)."""


_LOG_EVERY_S = 10.0


class SharedVisitors:
    """Claims of (link, visitor) for an hour, shared by every process through Redis."""

    def __init__(self, url: str, *, timeout_s: float = 0.25) -> None:
        self.client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self.fallbacks = 0
        """Clicks counted without asking Redis (it was unreachable or too slow)."""
        self.repeats = 0
        """Clicks found claimed by another process (or an earlier life of this one)."""
        self._logged_at = 0.0
        self._claims = self.client.register_script(_CLAIMS)
        self._waiting: list[tuple[str, asyncio.Future[object]]] = []
        self._sending = False

    async def claim(
        self, link_id: str, identity: str, click_id: str, now_ms: int
    ) -> tuple[str, int] | None:
        """``None`` when this click is the visitor's first on the link this hour (now
        claimed for it); else ``(click id, first ms)`` of the earlier click. Raises
        ``VisitorsUnavailable`` when Redis cannot answer."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting.append((f"{PREFIX}{link_id}:{identity} {click_id}:{now_ms}", future))
        if not self._sending:
            self._sending = True
            asyncio.get_running_loop().create_task(self._send())
        earlier = await future
        if isinstance(earlier, BaseException):
            raise VisitorsUnavailable from earlier
        if not isinstance(earlier, str):
            return None
        self.repeats += 1
        found, _, first = earlier.partition(":")
        return found, int(first) if first.isdigit() else now_ms

    async def _send(self) -> None:
        """Send the waiting claims in one script call, then those that came meanwhile, until
        none waits."""
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                replies: list[object]
                try:
                    answer = await self._claims(
                        args=[WINDOW_MS, " ".join(claim for claim, _ in group)]
                    )
                    words = answer.decode().split(" ")
                    replies = [None if word == "-" else word for word in words]
                    if len(replies) != len(group):
                        raise redis.ResponseError(f"{len(replies)} answers to {len(group)} claims")
                except (redis.RedisError, OSError) as error:
                    self._unavailable(error, clicks=len(group))
                    replies = [error] * len(group)
                for (_, future), reply in zip(group, replies, strict=True):
                    if not future.done():
                        future.set_result(reply)
        finally:
            self._sending = False

    async def release(self, link_id: str, identity: str) -> None:
        """Give a claim back (its click was not stored): the visitor's next click counts."""
        try:
            await self.client.delete(f"{PREFIX}{link_id}:{identity}")
        except (redis.RedisError, OSError) as error:
            self._unavailable(error)

    def _unavailable(self, error: BaseException, *, clicks: int = 1) -> None:
        self.fallbacks += clicks
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY_S:  # an outage logs a line every 10 s
            self._logged_at = now
            log.warning(
                "redirect.dedupe.redis_unavailable", error=repr(error), fallbacks=self.fallbacks
            )

    async def aclose(self) -> None:
        """Close the client's connections (on the loop that used them)."""
        await self.client.aclose()

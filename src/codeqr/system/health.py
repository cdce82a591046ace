"""Readiness: may a load balancer send this process traffic? (``/readyz``)

Ready when the relational database answers, its schema is at this code's migration head,
and, in scale-out, Redis answers and this process's link-cache invalidation subscription
is live (without it the process would serve links edited elsewhere in their old form).

Load balancers and anyone else may call ``/readyz`` as often as they like, so it must not
become a way to load the database or Redis: one answer is worked out at most once every
``every`` seconds and shared by every request in that time; a check that hangs is waited for
at most ``timeout`` seconds and is not started again while it still runs. The migrations
can only move at a deploy, so once current they are not read again.

Answers name the failing check and a short reason, never an error text (it could hold a
host, a user name or a connection string).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio
import structlog
from sqlalchemy import text

from codeqr import migrate
from codeqr.kit.db import Database
from codeqr.redirect.invalidation import LinkInvalidations

log = structlog.get_logger(__name__)

OK = "ok"


class Readiness:
    """The checks behind ``/readyz``, memoized for ``every`` seconds."""

    def __init__(
        self,
        db: Database,
        redis_url: str | None,
        invalidations: LinkInvalidations | None,
        *,
        every: float = 1.0,
        timeout: float = 2.0,
    ) -> None:
        self.db = db
        self.redis_url = redis_url
        self.invalidations = invalidations
        self.every = every
        self.timeout = timeout
        self.checks = 0
        """How many times the checks really ran (not answered from memory)."""
        self._answer: tuple[bool, dict[str, Any]] | None = None
        self._at = 0.0
        self._lock: asyncio.Lock | None = None
        self._migrations_current = False
        self._executor: ThreadPoolExecutor | None = None
        self._database: asyncio.Future[tuple[str, str]] | None = None
        self._redis: redis.asyncio.Redis | None = None
        self._ping: asyncio.Task[Any] | None = None

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, body)``: the body names every check and says ``ok`` or why not."""
        if self._answer is not None and time.monotonic() - self._at < self.every:
            return self._answer
        if self._lock is None:  # made on the event loop that uses it
            self._lock = asyncio.Lock()
        async with self._lock:
            # Requests that queued behind a check take its answer.
            if self._answer is None or time.monotonic() - self._at >= self.every:
                answer = await self._run()
                self._note(answer)
                self._answer, self._at = answer, time.monotonic()
            return self._answer

    async def _run(self) -> tuple[bool, dict[str, Any]]:
        self.checks += 1
        checks: dict[str, str] = {}
        failed: list[str] = []
        database, migrations = await self._database_and_migrations()
        checks["database"] = database
        checks["migrations"] = migrations
        if database != OK:
            failed.append("database")
        elif migrations != OK:
            failed.append("migrations")
        if self.redis_url:
            checks["redis"] = await self._check_redis()
            if checks["redis"] != OK:
                failed.append("redis")
        body: dict[str, Any] = {"status": "unready" if failed else "ready", "checks": checks}
        if failed:
            body["failed"] = failed
        return not failed, body

    async def _database_and_migrations(self) -> tuple[str, str]:
        unknown = "unknown: the database did not answer"
        pending = self._database
        if pending is None or _finished(pending):
            if self._executor is None:
                # A thread of its own: a database that hangs must not take the threads the
                # redirect and the API share.
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="codeqr-readyz")
            loop = asyncio.get_running_loop()
            pending = self._database = loop.run_in_executor(self._executor, self._read_database)
        done, _ = await asyncio.wait({pending}, timeout=self.timeout)
        if not done:
            return f"timeout: no answer within {self.timeout:g} s", unknown
        try:
            return pending.result()
        except Exception as error:
            log.info("health.database.unreachable", error=type(error).__name__)
            return "unreachable", unknown

    def _read_database(self) -> tuple[str, str]:
        """``SELECT 1``, and the schema's revision until it has once been current."""
        with self.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if self._migrations_current:
                return OK, OK
            found = migrate.database_heads(conn)
        wanted = migrate.code_heads()
        if found == wanted:
            self._migrations_current = True
            return OK, OK
        at = ", ".join(sorted(found)) or "none"
        return OK, f"not current: the database is at {at}, this code needs {', '.join(wanted)}"

    async def _check_redis(self) -> str:
        assert self.redis_url
        if self._redis is None:
            self._redis = redis.asyncio.Redis.from_url(
                self.redis_url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        ping = self._ping
        if ping is None or _finished(ping):
            ping = self._ping = asyncio.ensure_future(self._redis.ping())
        done, _ = await asyncio.wait({ping}, timeout=self.timeout)
        if not done:
            return f"timeout: no answer within {self.timeout:g} s"
        if ping.exception() is not None:
            log.info("health.redis.unreachable", error=type(ping.exception()).__name__)
            return "unreachable"
        if self.invalidations is not None and not self.invalidations.subscribed.is_set():
            return "not subscribed: link changes of other processes would not reach this one"
        return OK

    def _note(self, answer: tuple[bool, dict[str, Any]]) -> None:
        """Log when readiness changes (not at every check)."""
        before = self._answer
        ready, body = answer
        if before is None:
            if not ready:
                log.warning("health.unready", failed=body["failed"], checks=body["checks"])
        elif before[0] != ready:
            if ready:
                log.info("health.ready")
            else:
                log.warning("health.unready", failed=body["failed"], checks=body["checks"])

    async def aclose(self) -> None:
        """Let go of the Redis connection and the checking thread."""
        if self._ping is not None and not self._ping.done():
            self._ping.cancel()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def _finished(future: asyncio.Future[Any]) -> bool:
    """Whether a check started earlier is over (its outcome, if nobody waited for it any
    more, is let go of without asyncio's "never retrieved" complaint)."""
    if not future.done():
        return False
    if not future.cancelled():
        future.exception()
    return True

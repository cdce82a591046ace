"""When each API key was last used, written behind the requests instead of inside them.

Writing it inside the request would make every authenticated call a write transaction; on
SQLite that takes the one write lock before the endpoint even starts, and requests then wait
on each other across FastAPI's thread hops. Here a request only notes the time in memory and
a background thread writes the notes in one short transaction now and then.
"""

from __future__ import annotations

import threading
from datetime import datetime

import structlog
from sqlalchemy import update

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Database
from codeqr.workspace.models import ApiKey

log = structlog.get_logger()

RESOLUTION_S = 60
"""A key's stored last-used time may lag by this much, and is written at most this often."""


class KeyUsage:
    """Last-used times of keys, noted by requests and written by a background thread."""

    def __init__(self, db: Database, *, flush_every: float = 15.0) -> None:
        self.db = db
        self.flush_every = flush_every
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mark(self, key: ApiKey) -> None:
        """Note that ``key`` was used now, unless its stored time is recent enough."""
        self.mark_id(key.id, key.last_used_at)

    def mark_id(self, key_id: str, last_used_at: datetime | None) -> None:
        """``mark`` for a key known by its id and stored last-used time."""
        now = utcnow()
        last = last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=now.tzinfo)
        if last is not None and (now - last).total_seconds() <= RESOLUTION_S:
            return
        with self._lock:
            self._pending[key_id] = now
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="key-usage", daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write the noted times; how many keys were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self.db.transaction() as session:
                for key_id, when in pending.items():
                    session.execute(
                        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when)
                    )
        except Exception as exc:  # an unreachable database must not kill the thread
            log.warning("workspace.key_usage.flush_failed", error=repr(exc))
            with self._lock:
                for key_id, when in pending.items():
                    self._pending.setdefault(key_id, when)
            return 0
        return len(pending)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is still noted."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

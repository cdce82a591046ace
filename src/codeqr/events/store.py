"""The events store interface (SPEC §1): where clicks, leads and sales are written and read.

The SQL implementation (``codeqr.events.sql``) keeps events in the relational database beside
the links; a ClickHouse implementation can take its place behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Click(NamedTuple):
    """A recorded click, as stored (a tuple in column order: cheap to build and to insert)."""

    id: str
    timestamp: int
    """Milliseconds since the epoch, UTC."""
    workspace_id: str
    link_id: str
    domain: str
    key: str
    url: str
    trigger: str
    country: str
    region: str
    city: str
    continent: str
    device: str
    browser: str
    browser_version: str
    os: str
    os_version: str
    engine: str
    ua: str
    referer: str
    referer_url: str
    identity_hash: str
    ip: str | None


class EventsStore(Protocol):
    """Writes and reads events; every write is durable when it returns."""

    def write_clicks(self, clicks: Sequence[Click], earning: Collection[str] = ()) -> None:
        """Store clicks and bump their links' ``clicks`` counters, all or nothing; the
        clicks whose ids are in ``earning`` (on partner links) earn their click rewards in
        the same transaction."""
        ...

    def close(self) -> None:
        """Release what the store holds open."""
        ...

    def get_click(self, click_id: str, session: Session | None = None) -> Click | None:
        """A click by id, or ``None``.

        ``session`` is the caller's transaction: a store in the same database reads through
        it (a second pooled connection per request could exhaust the pool under load).
        """
        ...

    def load_recent_visitors(self, now_ms: int) -> int:
        """At start-up: until when (ms) a new click may repeat one stored before."""
        ...

    def write_clicks_once(
        self,
        clicks: Sequence[Click],
        since_ms: int,
        adopted: Collection[str] = (),
        earning: Collection[str] = (),
    ) -> dict[str, tuple[str, int]]:
        """Store the clicks whose visitor has no click on the same link since ``since_ms``.

        Returns, for each click that was not stored, the ``(id, timestamp)`` of the earlier
        click it repeats. The check and the insert happen in one transaction. A click whose
        id is in ``adopted`` was handed out by another process, which may store it too: it
        is stored (and counted) only if no click has that id yet. Stored clicks whose ids
        are in ``earning`` earn their click rewards (``write_clicks``); repeats earn nothing.
        """
        ...

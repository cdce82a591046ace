"""``link.clicked``: which clicks endpoints want, noted on the click path, sent later.

The redirect path must not slow down, so the click writer does no query for webhooks:

- ``ClickSubscriptions`` is this process's set of the workspaces (every link) and the links
  (``linkIds``) that an enabled ``link.clicked`` endpoint watches (and the same for
  ``commission.created``, which click rewards made by the writer consult). It is loaded at start,
  reloaded for one workspace right after a commit that changes its webhooks (here at once,
  in the other processes through the Redis channel of link invalidations), and wholly every
  minute as a safety net. While that channel is down (a change elsewhere could be missed)
  it answers "every click".
- The click writer (``events.sql``) asks it which clicks of a batch are watched and notes
  their ids in one ``webhook_click_batches`` row, in the batch's own transaction: a batch
  rolled back notes nothing, a committed one is never left out.
- The delivery worker expands each noted batch (``ClickEvents.expand``): for each click, the
  endpoints that want it now (enabled, subscribed, in scope, and created before the click),
  one event (``evt_`` and the click's id: one event per click, whatever happens) and its
  deliveries, in one transaction that deletes the batch row. Delivery follows, after the 302.

Click rewards (``commission.created``) ride on the same rows: when a batch makes a partner
link's commission of the day (``commission.clicks``) and a ``commission.created`` endpoint
watches that link, the writer notes the new commission's id (``cm_…``, never a click id's
shape) in a batch row of its own, and the worker expands it through the outbox's
``commission_created``: the same payload as a lead's or sale's commission. One event per
day's row, when it is made; the clicks that grow it later that day send none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from codeqr.commission.models import Commission
from codeqr.events.models import click_events
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms, iso, utcnow
from codeqr.kit.db import Database
from codeqr.kit.hooks import notes
from codeqr.kit.ids import new_id
from codeqr.link.models import Link
from codeqr.webhook.models import (
    DeliveryStatus,
    Webhook,
    WebhookClickBatch,
    WebhookDelivery,
    WebhookEvent,
)
from codeqr.webhook.outbox import click_data, encode
from codeqr.webhook.schemas import LinkScope, Trigger

if TYPE_CHECKING:
    from codeqr.events.store import EventsStore
    from codeqr.link.service import LinkService

log = structlog.get_logger(__name__)

TRIGGER = Trigger.link_clicked.value
COMMISSION_TRIGGER = Trigger.commission_created.value
COMMISSION_PREFIX = "cm_"
"""Noted ids with this prefix are click commissions (click ids are 16 base62 characters)."""
TAG = "w"
"""The tag of webhook changes on the invalidation channel (``redirect.invalidation``)."""
BATCHES_PER_ROUND = 50
"""Noted batches one expansion transaction looks at, at most."""
CLICKS_PER_ROUND = 200
"""Clicks one expansion transaction takes, about (a noted batch holds up to 512)."""


def event_id_of(click_id: str) -> str:
    """The ``link.clicked`` event of a click: derived from it, so it exists once."""
    return "evt_" + click_id


class ClickSubscriptions:
    """The workspaces and links this process notes clicks for (see the module docstring).

    ``wanted`` runs on the click path: two frozen sets read without a lock; the sets are
    replaced whole when they change."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._whole: frozenset[str] = frozenset()
        """Workspaces with an endpoint that wants every link's clicks."""
        self._links: frozenset[str] = frozenset()
        """Links an endpoint scoped to ``linkIds`` wants."""
        self._commission_whole: frozenset[str] = frozenset()
        self._commission_links: frozenset[str] = frozenset()
        """The same two for ``commission.created``."""
        self._everything = False
        self._by_workspace: dict[str, tuple[bool, frozenset[str]]] = {}
        self._commissions_by_workspace: dict[str, tuple[bool, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._refresher: ThreadPoolExecutor | None = None
        self.publish: Callable[[str], None] | None = None
        """Tells the other processes that a workspace's webhooks changed (Redis)."""
        self.reloads = 0

    # -- the click path ---------------------------------------------------------------------

    def wanted(self, clicks: Iterable[Click]) -> list[Click]:
        """The clicks an endpoint may want (a superset: the worker checks again)."""
        if self._everything:
            return list(clicks)
        whole, links = self._whole, self._links
        if not whole and not links:
            return []
        return [c for c in clicks if c.workspace_id in whole or c.link_id in links]

    def watches(self, workspace_id: str, link_id: str) -> bool:
        """Whether a click on this link would be noted."""
        return bool(self.wanted([_probe(workspace_id, link_id)]))

    def announces_commission(self, workspace_id: str, link_id: str) -> bool:
        """Whether a ``commission.created`` endpoint may want a commission of this link
        (a superset, as ``wanted``: the worker checks again)."""
        if self._everything:
            return True
        return workspace_id in self._commission_whole or link_id in self._commission_links

    # -- keeping it current -----------------------------------------------------------------

    def load(self) -> None:
        """Read every enabled ``link.clicked`` endpoint (at start, and now and then)."""
        with self._lock, self.db.transaction() as session:
            rows = session.execute(_ENDPOINTS).all()
            found: dict[str, tuple[bool, frozenset[str]]] = {}
            commissions: dict[str, tuple[bool, frozenset[str]]] = {}
            for workspace_id, triggers, scope, link_ids in rows:
                _merge(found, workspace_id, triggers, scope, link_ids)
                _merge(commissions, workspace_id, triggers, scope, link_ids, COMMISSION_TRIGGER)
            self._by_workspace = found
            self._commissions_by_workspace = commissions
            self._publish_sets()

    def reload(self, workspace_id: str) -> None:
        """Read one workspace's endpoints again."""
        with self._lock, self.db.transaction() as session:
            rows = session.execute(_ENDPOINTS.where(Webhook.workspace_id == workspace_id)).all()
            found: dict[str, tuple[bool, frozenset[str]]] = {}
            commissions: dict[str, tuple[bool, frozenset[str]]] = {}
            for ws, triggers, scope, link_ids in rows:
                _merge(found, ws, triggers, scope, link_ids)
                _merge(commissions, ws, triggers, scope, link_ids, COMMISSION_TRIGGER)
            for kept, read in (
                (self._by_workspace, found),
                (self._commissions_by_workspace, commissions),
            ):
                if workspace_id in read:
                    kept[workspace_id] = read[workspace_id]
                else:
                    kept.pop(workspace_id, None)
            self._publish_sets()

    def changed(self, workspace_id: str) -> None:
        """After a commit that changed this workspace's webhooks: here now, and elsewhere."""
        self.reload(workspace_id)
        if self.publish is not None:
            self.publish(workspace_id)

    def heard(self, workspace_id: str) -> None:
        """Another process changed this workspace's webhooks (called on the event loop:
        the read goes to a thread)."""
        self._background(lambda: self.reload(workspace_id))

    def suspend(self) -> None:
        """Changes elsewhere cannot reach this process: note every click meanwhile."""
        self._everything = True

    def resume(self) -> None:
        """Changes reach this process again: read everything, then note only what is
        watched (called on the event loop: the read goes to a thread)."""

        def reload_all() -> None:
            self.load()
            self._everything = False

        self._background(reload_all)

    def close(self) -> None:
        if self._refresher is not None:
            self._refresher.shutdown(wait=True)
            self._refresher = None

    def _background(self, work: Callable[[], None]) -> None:
        if self._refresher is None:
            self._refresher = ThreadPoolExecutor(1, thread_name_prefix="webhook-clicks")

        def run() -> None:
            try:
                work()
            except Exception as exc:  # the database is away: the minute's reload catches up
                log.warning("webhook.clicks.reload_failed", error=repr(exc))

        self._refresher.submit(run)

    def _publish_sets(self) -> None:
        self.reloads += 1
        self._whole, self._links = _sets(self._by_workspace)
        self._commission_whole, self._commission_links = _sets(self._commissions_by_workspace)


def _sets(
    by_workspace: dict[str, tuple[bool, frozenset[str]]],
) -> tuple[frozenset[str], frozenset[str]]:
    """The workspaces watched whole, and the links watched one by one."""
    whole = frozenset(ws for ws, (every, _) in by_workspace.items() if every)
    links = frozenset(link for every, ids in by_workspace.values() if not every for link in ids)
    return whole, links


_INSERT_EVENTS = insert(cast("Table", WebhookEvent.__table__))
_INSERT_DELIVERIES = insert(cast("Table", WebhookDelivery.__table__))
_ENDPOINTS = select(
    Webhook.workspace_id, Webhook.triggers, Webhook.link_scope, Webhook.link_ids
).where(Webhook.disabled_at.is_(None))


def _merge(
    found: dict[str, tuple[bool, frozenset[str]]],
    workspace_id: str,
    triggers: Sequence[str] | None,
    scope: str | None,
    link_ids: Sequence[str] | None,
    trigger: str = TRIGGER,
) -> None:
    if trigger not in (triggers or ()):
        return
    every, ids = found.get(workspace_id, (False, frozenset()))
    if scope == LinkScope.links.value:
        ids = ids | frozenset(link_ids or ())
    else:
        every = True
    found[workspace_id] = (every, ids)


def _announce_commissions(session: Session, ids: list[str]) -> int:
    """``commission.created`` of the click commissions noted by the click writer, through
    the outbox (its payload and its endpoints, looked at now); how many were noted."""
    hooks = notes(session)
    if not ids or hooks is None:
        return 0
    rows = session.execute(
        select(Commission.id, Commission.workspace_id, Commission.link_id).where(
            Commission.id.in_(ids)
        )
    ).all()
    for commission_id, workspace_id, link_id in rows:
        hooks.commission_created(session, workspace_id, commission_id, link_id)
    return len(rows)


def _probe(workspace_id: str, link_id: str) -> Click:
    blank: list[Any] = [""] * len(Click._fields)
    blank[Click._fields.index("workspace_id")] = workspace_id
    blank[Click._fields.index("link_id")] = link_id
    return Click(*blank)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ClickEvents:
    """Expands noted click batches into ``link.clicked`` events and their deliveries."""

    def __init__(self, db: Database, links: LinkService, events: EventsStore) -> None:
        self.db = db
        self.links = links
        self.events = events

    def expand(self, clicks: int = CLICKS_PER_ROUND) -> int:
        """Expand noted batches, about ``clicks`` clicks' worth (at least one batch), in one
        transaction; events written. A short transaction: SQLite's click writer waits for
        the same lock."""
        b = WebhookClickBatch
        with self.db.transaction() as session:
            rows = session.execute(
                select(b.seq, b.click_ids)
                .order_by(b.seq)
                .limit(BATCHES_PER_ROUND)
                .with_for_update(skip_locked=True)
            ).all()
            seqs: list[int] = []
            total = 0
            for seq, joined in rows:
                if seqs and total >= clicks:
                    break
                seqs.append(seq)
                total += joined.count(" ") + 1
            if not seqs:
                return 0
            # Taken by deleting them: of two workers (SQLite takes no lock on the read
            # above), only the one whose delete removed a row expands it.
            taken = (
                session.execute(delete(b).where(b.seq.in_(seqs)).returning(b.click_ids))
                .scalars()
                .all()
            )
            ids = [i for joined in taken for i in joined.split()]
            made = _announce_commissions(session, [i for i in ids if i[:3] == COMMISSION_PREFIX])
            return made + self._expand(session, [i for i in ids if i[:3] != COMMISSION_PREFIX])

    def _expand(self, session: Session, ids: list[str]) -> int:
        if not ids:
            return 0
        clicks = self._clicks(session, ids)
        if not clicks:
            return 0
        workspaces = {c.workspace_id for c in clicks}
        endpoints = [
            row
            for row in session.execute(
                select(
                    Webhook.id,
                    Webhook.workspace_id,
                    Webhook.triggers,
                    Webhook.link_scope,
                    Webhook.link_ids,
                    Webhook.created_at,
                ).where(Webhook.workspace_id.in_(workspaces), Webhook.disabled_at.is_(None))
            ).all()
            if TRIGGER in (row.triggers or ())
        ]
        if not endpoints:
            return 0
        now = utcnow()
        events: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        links: dict[str, dict[str, Any] | None] = {}
        for click in clicks:
            at = from_ms(click.timestamp)
            wanted = [
                e.id
                for e in endpoints
                if e.workspace_id == click.workspace_id
                and _aware(e.created_at) <= at
                and (e.link_scope != LinkScope.links.value or click.link_id in (e.link_ids or ()))
            ]
            if not wanted:
                continue
            if click.link_id not in links:
                links[click.link_id] = self._link(session, click.link_id)
            link = links[click.link_id]
            if link is None:
                continue  # deleted since: Dub's event cannot be made without it
            envelope = {
                "id": event_id_of(click.id),
                "event": TRIGGER,
                "createdAt": iso(at),
                "data": {"click": click_data(click), "link": link},
            }
            events.append(
                {
                    "id": envelope["id"],
                    "workspace_id": click.workspace_id,
                    "type": TRIGGER,
                    "body": encode(envelope),
                    "created_at": now,
                }
            )
            deliveries.extend(
                {
                    "id": new_id("whd"),
                    "webhook_id": endpoint,
                    "event_id": envelope["id"],
                    "status": DeliveryStatus.pending.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint in wanted
            )
        if events:
            # Core statements on the session's connection: the ORM's bulk path costs more
            # Python time a row than SQLite takes to write it.
            connection = session.connection()
            connection.execute(_INSERT_EVENTS, events)
            connection.execute(_INSERT_DELIVERIES, deliveries)
        return len(events)

    def _clicks(self, session: Session, ids: list[str]) -> list[Click]:
        found: dict[str, Click] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in session.execute(
                select(click_events).where(click_events.c.id.in_(chunk))
            ).all():
                found[row[0]] = Click(*row)
        for missing in [i for i in ids if i not in found]:
            # No longer in the relational database (shipped to ClickHouse and pruned).
            click = self.events.get_click(missing, session)
            if click is not None:
                found[missing] = click
        return [found[i] for i in ids if i in found]

    def _link(self, session: Session, link_id: str) -> dict[str, Any] | None:
        link = session.scalar(
            select(Link).where(Link.id == link_id).execution_options(populate_existing=True)
        )
        if link is None:
            return None
        shown: dict[str, Any] = self.links.out(session, link).model_dump(mode="json", by_alias=True)
        return shown

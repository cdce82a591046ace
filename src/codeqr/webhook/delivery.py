"""The delivery worker: sends what the outbox noted, signs it, retries it, gives up on it.

A thread of the app (started in its lifespan, as the events shipper is) that, every
``interval`` seconds or when a commit noted events:

0. expands the click batches the click writer noted into ``link.clicked`` events and their
   deliveries (``webhook.clicks``);
1. claims up to ``batch`` due deliveries (``pending``, ``next_attempt_at`` passed, no live
   claim) by writing its token and a lease into them, in one short transaction — with
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so every process of a scale-out deployment
   runs a worker and no two take the same row; SQLite has one process and one writer;
2. POSTs each event's stored body to its endpoint (signed afresh, ``webhook.signing``),
   at most ``per_endpoint`` (4) at a time to one endpoint, several endpoints at once, on
   kept-alive connections, through the guarded sender (``webhook.transport``), with a
   timeout of a few seconds, reading at most ``EXCERPT_MAX`` bytes of the answer;
3. records the attempt under its claim (acknowledged ones of an endpoint together, in one
   transaction): 2xx is delivered; ``410 Gone`` disables the
   endpoint; anything else is retried after an exponential backoff with jitter until the
   retry window (3 days) has passed since the event, and the endpoint is disabled once it
   has failed ``disable_after`` times in a row for at least ``disable_after_age``.

Each piece of work is followed by a rest that keeps the worker to the CPU the event loop
leaves (``webhook.pacing``): redirects first, deliveries catch up after a burst.

At least once: a process that dies mid-delivery leaves its claim to expire (``lease``),
and the delivery is sent again. Receivers dedupe on the event id.
"""

from __future__ import annotations

import functools
import http.client
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import structlog
from sqlalchemy import Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Database
from codeqr.webhook import service
from codeqr.webhook.clicks import CLICKS_PER_ROUND, ClickEvents, ClickSubscriptions
from codeqr.webhook.log import log_attempt
from codeqr.webhook.models import (
    EXCERPT_MAX,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from codeqr.webhook.pacing import Pacer
from codeqr.webhook.signing import headers_for
from codeqr.webhook.transport import Sender

log = structlog.get_logger(__name__)

RETRY_WINDOW = timedelta(days=3)
"""How long an event is retried: more than the 24 hours an endpoint may be down."""
RELOAD_EVERY = 60.0
"""Seconds between two full reads of the ``link.clicked`` watch list (a safety net)."""
YIELDING_BATCH = 16
"""Deliveries claimed, or clicks expanded, per piece of work while redirects come first."""
_RECORD_EVERY = 50
"""Acknowledged deliveries written down per transaction, at most."""
KEEP_FINISHED = timedelta(days=30)
"""How long finished deliveries (and events with nothing left owed) stay for the log."""


def _aware(value: datetime) -> datetime:
    """``value`` in UTC with its zone (SQLite gives times back without one)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds: what to send, and where."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    url: str
    secret: str
    body: str
    attempts: int
    event_created_at: datetime


@dataclass(frozen=True)
class Attempt:
    """What one POST got: the status (``None``: no answer), time taken, start of the answer."""

    status: int | None
    duration_ms: int
    excerpt: str


class Deliverer:
    """Claims due deliveries and sends them (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        allow_private: bool = False,
        timeout: float = 5.0,
        interval: float = 1.0,
        batch: int = 100,
        workers: int = 8,
        per_endpoint: int = 4,
        base_delay: float = 30.0,
        max_delay: float = 4 * 3600.0,
        retry_window: timedelta = RETRY_WINDOW,
        disable_after: int = 20,
        disable_after_age: timedelta = timedelta(hours=24),
        jitter: Callable[[], float] = random.random,
        clicks: ClickEvents | None = None,
        subscriptions: ClickSubscriptions | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.db = db
        self.timeout = timeout
        self.interval = interval
        self.batch = batch
        self.workers = workers
        self.per_endpoint = per_endpoint
        """Requests one endpoint gets at once from this process, at most."""
        self.clicks = clicks
        """Expands noted click batches into ``link.clicked`` events (``webhook.clicks``)."""
        self.subscriptions = subscriptions
        self.pacer = pacer
        """Keeps this worker to the CPU the event loop leaves (``webhook.pacing``)."""
        self.delivered = 0
        """Deliveries this worker saw acknowledged since it was made."""
        self._reloaded_at = 0.0
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retry_window = retry_window
        self.disable_after = disable_after
        self.disable_after_age = disable_after_age
        self.jitter = jitter
        self.lease = timedelta(seconds=-(-batch // per_endpoint) * (2 * timeout + 1) + 30)
        """Longer than a round can take (one endpoint may hold every delivery of it, sent
        ``per_endpoint`` at a time)."""
        self.allow_private = allow_private
        self._sender = Sender(allow_private=allow_private, timeout=timeout)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver in a thread until ``stop``."""
        self._stop.clear()
        self._pruned_at = time.monotonic()  # not at start: an hour in
        self._thread = threading.Thread(target=self._loop, name="webhook-deliverer", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Look for due deliveries now (a commit just noted some)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the attempts under way, give back the rest, stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._pool.shutdown(wait=True)
        self._sender.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            behind = False
            try:
                # Small pieces while redirects come first: each transaction holds SQLite's
                # write lock, which the click writer waits for.
                yielding = self.pacer is not None and self.pacer.share() < 1.0
                if self.clicks is not None:
                    expand = functools.partial(
                        self.clicks.expand, YIELDING_BATCH if yielding else CLICKS_PER_ROUND
                    )
                    behind = self._paced(expand) > 0
                limit = YIELDING_BATCH if yielding else self.batch
                behind = self._paced(functools.partial(self.run_once, limit)) >= limit or behind
                now = time.monotonic()
                if now - self._pruned_at > 3600:
                    self.prune()
                if self.subscriptions is not None and now - self._reloaded_at > RELOAD_EVERY:
                    self._reloaded_at = now
                    self.subscriptions.load()  # the safety net of the watch list
            except Exception as exc:  # the database is away: try again later
                log.warning("webhook.delivery.failed", error=repr(exc))
                behind = False
            if behind:
                continue  # the next round at once
            self._wake.wait(self.interval)
            self._wake.clear()

    def _paced(self, work: Callable[[], int]) -> int:
        """``work()``, then a rest that keeps this worker to its share of the CPU."""
        started = time.monotonic()
        done = work()
        if done and self.pacer is not None:
            rest = self.pacer.rest_after(time.monotonic() - started)
            if rest > 0:
                self._stop.wait(min(rest, 5.0))
        return done

    # --- one round -------------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> int:
        """Claim due deliveries (up to ``limit``, else ``batch``) and attempt them; how many
        were attempted."""
        token = uuid.uuid4().hex
        claimed = self.claim(token, limit)
        if not claimed:
            return 0
        by_endpoint: dict[str, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_endpoint[item.webhook_id].append(item)
        # Each endpoint's share split in up to ``per_endpoint`` runs sent side by side; one
        # run for a small round (while yielding): each run is a write transaction more.
        spread = self.per_endpoint if len(claimed) > YIELDING_BATCH else 1
        runs = [
            items[start::spread]
            for items in by_endpoint.values()
            for start in range(min(spread, len(items)))
        ]
        futures = [self._pool.submit(self._send_all, token, items) for items in runs]
        return sum(f.result() for f in futures)

    def claim(self, token: str, limit: int | None = None) -> list[Claimed]:
        """Write ``token`` into up to ``limit`` (else ``batch``) due deliveries; what they
        are."""
        d = WebhookDelivery
        now = utcnow()
        with self.db.transaction() as session:
            ids = list(
                session.scalars(
                    select(d.id)
                    .where(
                        d.status == DeliveryStatus.pending.value,
                        d.next_attempt_at <= now,
                        or_(d.claimed_until.is_(None), d.claimed_until < now),
                    )
                    .order_by(d.next_attempt_at)
                    .limit(min(limit or self.batch, self.batch))
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            free = or_(d.claimed_until.is_(None), d.claimed_until < now)
            # The condition again, under the write lock: on SQLite the read above took no
            # lock, and only the rows this statement changes are this worker's.
            session.execute(
                update(d)
                .where(d.id.in_(ids), d.status == DeliveryStatus.pending.value, free)
                .values(claimed_by=token, claimed_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(
                    d.id,
                    d.webhook_id,
                    d.event_id,
                    WebhookEvent.type,
                    Webhook.url,
                    Webhook.secret,
                    WebhookEvent.body,
                    d.attempts,
                    WebhookEvent.created_at,
                )
                .join(Webhook, Webhook.id == d.webhook_id)
                .join(WebhookEvent, WebhookEvent.id == d.event_id)
                .where(d.id.in_(ids), d.claimed_by == token)
                .order_by(d.next_attempt_at, d.id)
            ).all()
        return [Claimed(*row) for row in rows]

    def _send_all(self, token: str, items: list[Claimed]) -> int:
        """Deliveries to one endpoint, one after another; the rest given back on stop.
        Acknowledged ones are written down together, at the end or every ``_RECORD_EVERY``;
        any other outcome at once (it may disable the endpoint)."""
        done = 0
        acknowledged: list[tuple[Claimed, Attempt]] = []
        for item in items:
            if self._stop.is_set():
                self._release(token, item.delivery_id)
                continue
            try:
                attempt = self.attempt(item)
                if attempt.status is not None and 200 <= attempt.status < 300:
                    acknowledged.append((item, attempt))
                    if len(acknowledged) >= _RECORD_EVERY:
                        self.record_delivered(token, acknowledged)
                        acknowledged = []
                else:
                    self.record(token, item, attempt)
            except Exception as exc:  # never lose the thread; the claim expires
                log.warning("webhook.delivery.error", delivery=item.delivery_id, error=repr(exc))
            done += 1
        if acknowledged:
            try:
                self.record_delivered(token, acknowledged)
            except Exception as exc:  # the claims expire; the receivers dedupe
                log.warning("webhook.delivery.error", error=repr(exc))
        return done

    def record_delivered(self, token: str, done: list[tuple[Claimed, Attempt]]) -> None:
        """Write down acknowledged deliveries of one endpoint, under this worker's claim, in
        one transaction (the endpoint's failure count back to 0)."""
        now = utcnow()
        d = cast("Table", WebhookDelivery.__table__)
        with self.db.transaction() as session:
            session.execute(
                update(Webhook)
                .where(Webhook.id == done[0][0].webhook_id, Webhook.consecutive_failures != 0)
                .values(consecutive_failures=0, failing_since=None)
            )
            session.execute(
                update(d)
                .where(d.c.id == bindparam("b_id"), d.c.claimed_by == token)
                .values(
                    status=DeliveryStatus.delivered.value,
                    attempts=d.c.attempts + 1,
                    last_attempt_at=now,
                    delivered_at=now,
                    last_status=bindparam("b_status"),
                    last_duration_ms=bindparam("b_duration"),
                    last_response=bindparam("b_excerpt"),
                    claimed_by=None,
                    claimed_until=None,
                ),
                [
                    {
                        "b_id": item.delivery_id,
                        "b_status": attempt.status,
                        "b_duration": attempt.duration_ms,
                        "b_excerpt": attempt.excerpt,
                    }
                    for item, attempt in done
                ],
            )
            # The delivery log gets each POST, as ``_record`` writes it for the others (not
            # for a delivery deleted meanwhile with its endpoint).
            kept = set(
                session.scalars(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.id.in_([item.delivery_id for item, _ in done])
                    )
                )
            )
            session.add_all(
                log_attempt(item, attempt, now)
                for item, attempt in done
                if item.delivery_id in kept
            )
        self.delivered += len(done)

    def attempt(self, item: Claimed) -> Attempt:
        """POST the event once; never raises for what the network or receiver does."""
        body = item.body.encode()
        headers = headers_for(item.secret, body, event_id=item.event_id, event=item.event_type)
        started = time.monotonic()
        try:
            status, excerpt = self._sender.post(item.url, body, headers, EXCERPT_MAX)
            text = excerpt[:EXCERPT_MAX].decode("utf-8", "replace")
            answered: int | None = status
        except (OSError, http.client.HTTPException, ValueError) as exc:
            answered, text = None, f"{type(exc).__name__}: {exc}"
        duration = int((time.monotonic() - started) * 1000)
        return Attempt(answered, duration, text[:EXCERPT_MAX])

    def record(self, token: str, item: Claimed, attempt: Attempt) -> None:
        """Write what the attempt got, under this worker's claim."""
        disabled = self._record(token, item, attempt)
        if disabled is not None and self.subscriptions is not None:
            self.subscriptions.changed(disabled)

    def _record(self, token: str, item: Claimed, attempt: Attempt) -> str | None:
        """``record``'s transaction; the endpoint's workspace if it was disabled."""
        now = utcnow()
        with self.db.transaction() as session:
            # The endpoint's row first, then the delivery's: the order ``service.disable``
            # takes them in, so the two never wait on each other (PostgreSQL).
            webhook = session.scalar(
                select(Webhook).where(Webhook.id == item.webhook_id).with_for_update()
            )
            delivery = session.scalar(
                select(WebhookDelivery)
                .where(WebhookDelivery.id == item.delivery_id, WebhookDelivery.claimed_by == token)
                .with_for_update()
            )
            if delivery is None:
                return None  # the claim expired and another worker took it (or it was deleted)
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status = attempt.status
            delivery.last_duration_ms = attempt.duration_ms
            delivery.last_response = attempt.excerpt
            delivery.claimed_by = None
            delivery.claimed_until = None
            session.add(log_attempt(item, attempt, now))
            ok = attempt.status is not None and 200 <= attempt.status < 300
            if ok:
                delivery.status = DeliveryStatus.delivered.value
                delivery.delivered_at = now
                if webhook is not None:
                    webhook.consecutive_failures = 0
                    webhook.failing_since = None
                    self.delivered += 1
                return None
            if webhook is None:
                return None
            if attempt.status == 410:
                delivery.status = DeliveryStatus.failed.value
                self._disable(session, webhook, "The endpoint answered 410 Gone.")
                return webhook.workspace_id
            webhook.consecutive_failures += 1
            webhook.last_failed_at = now
            if webhook.failing_since is None:
                webhook.failing_since = now
            if delivery.status == DeliveryStatus.pending.value:
                retry_at = now + timedelta(seconds=self.backoff(delivery.attempts))
                if retry_at - _aware(item.event_created_at) > self.retry_window:
                    delivery.status = DeliveryStatus.failed.value
                else:
                    delivery.next_attempt_at = retry_at
            if (
                webhook.disabled_at is None
                and webhook.consecutive_failures >= self.disable_after
                and now - _aware(webhook.failing_since) >= self.disable_after_age
            ):
                what = f"HTTP {attempt.status}" if attempt.status else attempt.excerpt[:120]
                self._disable(
                    session,
                    webhook,
                    f"{webhook.consecutive_failures} deliveries in a row failed "
                    f"(the last: {what}).",
                )
                return webhook.workspace_id
        return None

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` tries: doubling from
        ``base_delay`` up to ``max_delay``, each spread by ±25% so retries do not march."""
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return float(delay * (0.75 + 0.5 * self.jitter()))

    @staticmethod
    def _disable(session: Session, webhook: Webhook, reason: str) -> None:
        service.disable(session, webhook, reason)
        log.warning("webhook.disabled", webhook=webhook.id, url=webhook.url, reason=reason)

    def _release(self, token: str, delivery_id: str) -> None:
        d = WebhookDelivery
        with self.db.transaction() as session:
            session.execute(
                update(d)
                .where(d.id == delivery_id, d.claimed_by == token)
                .values(claimed_by=None, claimed_until=None)
            )

    # --- keeping the tables small ----------------------------------------------------------

    def prune(self, now: datetime | None = None) -> None:
        """Delete finished deliveries older than ``KEEP_FINISHED`` and events no endpoint
        is owed any more."""
        self._pruned_at = time.monotonic()
        cutoff = (now or utcnow()) - KEEP_FINISHED
        d, e = WebhookDelivery, WebhookEvent
        with self.db.transaction() as session:
            session.execute(
                delete(d).where(d.status != DeliveryStatus.pending.value, d.created_at < cutoff)
            )
            owed = select(d.id).where(d.event_id == e.id)
            session.execute(delete(e).where(and_(e.created_at < cutoff, ~owed.exists())))

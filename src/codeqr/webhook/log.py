"""The delivery log of an endpoint, and deliveries asked for by hand: a test event, or an
event sent again ("redeliver").

Both go through the outbox's tables and the worker like any event: a row is written in the
caller's transaction, and the worker sends it after the commit, signed, retried and logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import Conflict, NotFound, Unprocessable
from codeqr.kit.ids import base62, new_id
from codeqr.link.models import Link
from codeqr.link.service import after_commit
from codeqr.webhook.models import (
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from codeqr.webhook.outbox import encode
from codeqr.webhook.outbox import event_id as new_event_id
from codeqr.webhook.schemas import Trigger

if TYPE_CHECKING:
    from codeqr.link.service import LinkService
    from codeqr.webhook.delivery import Attempt, Claimed

PAGE_SIZE = 25
"""Attempts on one page of the log."""
MAX_PAGE = 400
"""The last page the log goes to (finished deliveries are kept 30 days anyway)."""
QUEUED_SHOWN = 10
"""Deliveries still owed that the log lists above its attempts (the rest are counted)."""


def log_attempt(item: Claimed, attempt: Attempt, at: datetime) -> WebhookAttempt:
    """The log row of one POST the worker made."""
    return WebhookAttempt(
        id=new_id("wha"),
        delivery_id=item.delivery_id,
        webhook_id=item.webhook_id,
        event_id=item.event_id,
        attempted_at=at,
        status=attempt.status,
        duration_ms=attempt.duration_ms,
        response=attempt.excerpt,
    )


# -- reading the log --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedAttempt:
    """One attempt as the log shows it."""

    attempted_at: datetime
    event_id: str
    event_type: str
    test: bool
    status: int | None
    duration_ms: int
    response: str

    @property
    def ok(self) -> bool:
        """Whether the receiver acknowledged it (2xx)."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Queued:
    """A delivery still owed: its event and when it is next tried."""

    event_id: str
    event_type: str
    test: bool
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class LogPage:
    """A page of an endpoint's attempts, newest first, and what it is still owed."""

    attempts: Sequence[LoggedAttempt]
    page: int
    has_next: bool
    queued: Sequence[Queued]
    queued_total: int

    @property
    def has_previous(self) -> bool:
        """Whether there is a newer page."""
        return self.page > 1


def log_page(session: Session, webhook: Webhook, page: int = 1) -> LogPage:
    """Page ``page`` of the endpoint's attempts (``PAGE_SIZE`` each, at most ``MAX_PAGE``),
    with the first ``QUEUED_SHOWN`` deliveries it is still owed."""
    page = max(1, min(page, MAX_PAGE))
    a, e, d = WebhookAttempt, WebhookEvent, WebhookDelivery
    rows = session.execute(
        select(
            a.attempted_at,
            a.event_id,
            func.coalesce(e.type, ""),
            func.coalesce(e.test, False),
            a.status,
            a.duration_ms,
            func.coalesce(a.response, ""),
        )
        .outerjoin(e, e.id == a.event_id)
        .where(a.webhook_id == webhook.id)
        .order_by(a.attempted_at.desc(), a.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    owed = (d.webhook_id == webhook.id) & (d.status == DeliveryStatus.pending.value)
    queued = session.execute(
        select(d.event_id, e.type, e.test, d.attempts, d.next_attempt_at)
        .join(e, e.id == d.event_id)
        .where(owed)
        .order_by(d.next_attempt_at, d.id)
        .limit(QUEUED_SHOWN)
    ).all()
    total = session.scalar(select(func.count(d.id)).where(owed)) or 0
    return LogPage(
        attempts=[LoggedAttempt(*row) for row in rows[:PAGE_SIZE]],
        page=page,
        has_next=len(rows) > PAGE_SIZE and page < MAX_PAGE,
        queued=[Queued(*row) for row in queued],
        queued_total=int(total),
    )


# -- deliveries asked for by hand ---------------------------------------------------------------


def _usable(webhook: Webhook) -> None:
    if webhook.disabled_at is not None:
        raise Conflict(
            "This webhook is disabled; enable it again before sending it events "
            f"({webhook.disabled_reason or 'disabled'})."
        )


def test_triggers() -> list[str]:
    """The events a test can be a sample of: every one CodeQR delivers."""
    return [t.value for t in Trigger if t.value in SAMPLES]


def send_test(
    session: Session,
    links: LinkService,
    webhook: Webhook,
    trigger: str | None,
    wake: Callable[[], None] | None = None,
) -> WebhookEvent:
    """A sample event of ``trigger`` (the endpoint's first trigger by default) for this
    endpoint only, its envelope marked ``"test": true``; the worker sends it after the
    commit. 409 for a disabled endpoint, 422 for an event CodeQR does not send."""
    _usable(webhook)
    chosen = trigger or (webhook.triggers[0] if webhook.triggers else "")
    build = SAMPLES.get(chosen) if chosen in test_triggers() else None
    if build is None:
        raise Unprocessable(
            f"trigger: unknown event {chosen[:100]!r}; one of {', '.join(test_triggers())}"
        )
    now = utcnow()
    envelope = {
        "id": new_event_id(),
        "event": chosen,
        "createdAt": iso(now),
        "test": True,
        "data": build(_Sample(session, links, webhook, now)),
    }
    event = WebhookEvent(
        id=envelope["id"],
        workspace_id=webhook.workspace_id,
        type=chosen,
        body=encode(envelope),
        created_at=now,
        test=True,
    )
    session.add(event)
    session.flush()  # the event's row before its delivery's (no ORM relationship)
    session.add(_pending(webhook.id, event.id, now))
    session.flush()
    if wake is not None:
        after_commit(session, wake)
    return event


def redeliver(
    session: Session,
    webhook: Webhook,
    event_id: str,
    wake: Callable[[], None] | None = None,
) -> WebhookEvent:
    """Send an event of the endpoint's workspace to it again: the same id and body, a new
    round of attempts (retried within the event's retry window). 404 for an event that is
    not this workspace's (or no longer kept), 409 while it is being attempted."""
    _usable(webhook)
    event = None
    if event_id and "\x00" not in event_id:
        event = session.scalar(
            select(WebhookEvent).where(
                WebhookEvent.id == event_id, WebhookEvent.workspace_id == webhook.workspace_id
            )
        )
    if event is None:
        raise NotFound(f"Event {event_id[:100]} not found.")
    now = utcnow()
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.event_id == event.id)
        .with_for_update()
    )
    if delivery is None:  # an event from before the endpoint subscribed to it
        session.add(_pending(webhook.id, event.id, now))
    else:
        until = delivery.claimed_until
        if until is not None and until.replace(tzinfo=until.tzinfo or now.tzinfo) > now:
            raise Conflict("This event is being sent to the webhook right now; try again soon.")
        delivery.status = DeliveryStatus.pending.value
        delivery.next_attempt_at = now
        delivery.delivered_at = None
        delivery.claimed_by = None
        delivery.claimed_until = None
    session.flush()
    if wake is not None:
        after_commit(session, wake)
    return event


def _pending(webhook_id: str, event: str, now: datetime) -> WebhookDelivery:
    return WebhookDelivery(
        id=new_id("whd"),
        webhook_id=webhook_id,
        event_id=event,
        status=DeliveryStatus.pending.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


# -- sample data of test events ---------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    session: Session
    links: LinkService
    webhook: Webhook
    now: datetime

    def link(self) -> dict[str, Any]:
        """A made-up link of the workspace, in the API's shape (never stored)."""
        link = Link(
            id="link_test" + base62(16),
            workspace_id=self.webhook.workspace_id,
            domain=self.links.ctx.default_domain,
            key="test-event",
            key_lower="test-event",
            url="https://example.com/webhook-test",
            track_conversion=True,
            archived=False,
            clicks=1,
            leads=1,
            sales=1,
            sale_amount=4900,
            last_clicked=self.now,
            created_at=self.now,
            updated_at=self.now,
        )
        shown: dict[str, Any] = self.links.out_many(self.session, [link])[0].model_dump(
            mode="json", by_alias=True
        )
        return shown

    def click(self) -> dict[str, Any]:
        return {
            "id": "test" + base62(12),
            "timestamp": iso(self.now),
            "url": "https://example.com/webhook-test",
            "country": "US",
            "city": "San Francisco",
            "region": "US-CA",
            "continent": "NA",
            "device": "Desktop",
            "browser": "Chrome",
            "os": "Mac OS",
            "trigger": "link",
            "ua": "Mozilla/5.0 (test event)",
            "referer": "(direct)",
            "refererUrl": "(direct)",
            "qr": False,
            "ip": "",
        }

    def customer(self) -> dict[str, Any]:
        return {
            "id": "cus_test" + base62(16),
            "externalId": "test-customer",
            "name": "Test Customer",
            "email": "customer@example.com",
            "avatar": None,
            "country": "US",
            "sales": 1,
            "saleAmount": 4900,
            "firstSaleAt": iso(self.now),
            "createdAt": iso(self.now),
        }

    def partner(self) -> dict[str, Any]:
        return {
            "id": "pn_test" + base62(16),
            "name": "Test Partner",
            "email": "partner@example.com",
            "image": None,
            "country": "US",
            "payoutsEnabledAt": None,
        }


def _conversion(sample: _Sample) -> dict[str, Any]:
    return {
        "eventName": "Test event",
        "customer": sample.customer(),
        "click": sample.click(),
        "link": sample.link(),
        "metadata": None,
    }


def _sale(sample: _Sample) -> dict[str, Any]:
    sale = {"amount": 4900, "currency": "usd", "paymentProcessor": "custom", "invoiceId": None}
    return {**_conversion(sample), "eventName": "Purchase", "sale": sale}


def _enrolled(sample: _Sample) -> dict[str, Any]:
    partner = sample.partner()
    link = sample.link()
    return {
        **partner,
        "username": None,
        "description": None,
        "companyName": None,
        "networkStatus": "approved",
        "defaultPayoutMethod": None,
        "paypalEmail": None,
        "stripeConnectId": None,
        "identityVerifiedAt": None,
        "programId": "prog_test" + base62(16),
        "partnerId": partner["id"],
        "groupId": None,
        "tenantId": None,
        "status": "approved",
        "bannedAt": None,
        "bannedReason": None,
        "createdAt": iso(sample.now),
        "links": [{k: link[k] for k in ("id", "domain", "key", "shortLink", "url")}],
        "totalClicks": 0,
        "totalLeads": 0,
        "totalConversions": 0,
        "totalSales": 0,
        "totalSaleAmount": 0,
        "totalCommissions": 0,
    }


def _commission(sample: _Sample) -> dict[str, Any]:
    link = sample.link()
    return {
        "id": "cm_test" + base62(16),
        "type": "sale",
        "amount": 4900,
        "earnings": 490,
        "currency": "usd",
        "status": "pending",
        "invoiceId": None,
        "description": None,
        "quantity": 1,
        "metadata": None,
        "createdAt": iso(sample.now),
        "updatedAt": iso(sample.now),
        "userId": None,
        "partner": {
            **sample.partner(),
            "groupId": None,
            "totalClicks": 1,
            "totalLeads": 1,
            "totalConversions": 1,
            "totalSales": 1,
            "totalSaleAmount": 4900,
            "totalCommissions": 490,
        },
        "link": {k: link[k] for k in ("id", "shortLink", "domain", "key")},
        "customer": {**sample.customer(), "stripeCustomerId": None},
    }


SAMPLES: dict[str, Callable[[_Sample], dict[str, Any]]] = {
    "link.created": lambda s: s.link(),
    "link.updated": lambda s: s.link(),
    "link.deleted": lambda s: s.link(),
    "link.clicked": lambda s: {"click": s.click(), "link": s.link()},
    "lead.created": _conversion,
    "sale.created": _sale,
    "partner.enrolled": _enrolled,
    "commission.created": _commission,
}
"""What a test event of each type carries: Dub's shape, made-up values."""

"""Outbound webhooks: endpoints of a workspace, the events noted for them, and one delivery
row per (endpoint, event) that the delivery worker claims, attempts and retries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base

EXCERPT_MAX = 1_000
"""Characters of a receiver's answer kept on its delivery (the dashboard's log)."""
REASON_MAX = 300


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    pending = "pending"
    """Due at ``next_attempt_at`` (or being attempted under a claim)."""
    delivered = "delivered"
    failed = "failed"
    """Given up: the retry window passed, or the endpoint answered 410 Gone."""
    cancelled = "cancelled"
    """The endpoint was disabled (or deleted) before this delivery got through."""


class Webhook(Base):
    """An endpoint of a workspace that receives the events of its ``triggers``."""

    __tablename__ = "webhooks"
    __table_args__ = (UniqueConstraint("workspace_id", "url"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2_000))
    secret: Mapped[str] = mapped_column(String(64))
    """``whsec_…``: signs every delivery; kept as is (it must be used, not only checked)."""
    triggers: Mapped[list[str]] = mapped_column(default=list)
    link_scope: Mapped[str | None] = mapped_column(String(16))
    """``links``: only events about ``link_ids``; ``None``: every link of the workspace."""
    link_ids: Mapped[list[str] | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    """Attempts that failed in a row (any delivery); a success sets it back to 0."""
    failing_since: Mapped[datetime | None]
    """When the current run of failures began: an endpoint is disabled only after failing
    for a while, so a burst of events to a short outage does not disable it."""
    last_failed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """One event as its receivers get it: ``body`` is the exact JSON text that is signed
    and sent, the same bytes on every attempt to every endpoint."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_workspace_id_created_at", "workspace_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """``evt_…``, stable across retries: receivers dedupe on it."""
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    test: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A sample sent with "send test event" (its envelope says ``"test": true``)."""


class WebhookDelivery(Base):
    """An event owed to one endpoint: its attempts, its next one, and who holds it now."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        # The worker's claim: due pending rows, oldest due first.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None]
    """The receiver's HTTP status of the last attempt (``None``: no answer)."""
    last_duration_ms: Mapped[int | None]
    last_response: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))
    """The start of the receiver's answer, or why there was none."""
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None]
    """A claim past this time is abandoned (its process died): the row is due again."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One POST of a delivery as the delivery log shows it: when, what came back, how long
    it took. Deleted with its delivery (finished ones are kept ``KEEP_FINISHED``)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_webhook_id_attempted_at", "webhook_id", "attempted_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[int | None]
    """The receiver's HTTP status (``None``: no answer)."""
    duration_ms: Mapped[int] = mapped_column(default=0)
    response: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))
    """The start of the receiver's answer, or why there was none."""


class WebhookClickBatch(Base):
    """Clicks of one stored batch that a ``link.clicked`` endpoint may want, noted by the
    click writer in the batch's own transaction (one row per batch, not per click: the
    redirect path stays cheap). The delivery worker expands it into one event per click
    and its deliveries, then deletes it (``webhook.clicks``). A row may instead hold the ids
    of click commissions the batch made (``cm_…``), for ``commission.created``."""

    __tablename__ = "webhook_click_batches"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    click_ids: Mapped[str] = mapped_column(Text)
    """Space-separated ids of the clicks (stored in ``click_events`` by the same commit), or
    of the click commissions it made."""
    first_ms: Mapped[int] = mapped_column(BigInteger)
    """The oldest click time among them."""

"""Stripe's tables: which account a workspace is connected to, and the inbox of webhook
events (SPEC §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class StripeIntegration(Base):
    """A workspace's Stripe connection: at most one account, held by one workspace only.

    Events signed for the self-hosted endpoint are checked with ``webhook_secret`` (live) or
    ``test_webhook_secret``; events of the Stripe App (Connect) with the app's secrets from
    the settings. ``api_key`` (a restricted key) lets CodeQR read objects an event only names.
    """

    __tablename__ = "stripe_integrations"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(64), unique=True)
    live: Mapped[bool] = mapped_column(default=True)
    test: Mapped[bool] = mapped_column(default=False)
    webhook_secret: Mapped[str | None] = mapped_column(String(255))
    test_webhook_secret: Mapped[str | None] = mapped_column(String(255))
    api_key: Mapped[str | None] = mapped_column(String(255))
    connected_via: Mapped[str] = mapped_column(String(16))
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeEvent(Base):
    """One verified webhook event, stored once per workspace under Stripe's event id.

    ``handled_at`` is set in the same transaction as the event's effects, so an event whose
    handling failed stays unhandled until a redelivery or ``codeqr stripe replay`` finishes it.
    """

    __tablename__ = "stripe_events"
    __table_args__ = (
        UniqueConstraint("workspace_id", "event_id"),
        Index("ix_stripe_events_unhandled", "handled_at", "created"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(128))
    livemode: Mapped[bool]
    account: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

"""Commissions: one row per earning event (or manual entry) per partner."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class CommissionType(StrEnum):
    click = "click"
    lead = "lead"
    sale = "sale"
    custom = "custom"


class CommissionStatus(StrEnum):
    """``pending`` → ``processed`` (in a payout) → ``paid``; the others take a commission
    out of what is owed."""

    pending = "pending"
    processed = "processed"
    paid = "paid"
    refunded = "refunded"
    duplicate = "duplicate"
    fraud = "fraud"
    canceled = "canceled"


class Commission(Base):
    """What a partner earns for one event, in the program's currency (minor units).

    ``amount`` is the sale's net amount the earnings were computed from (0 for clicks,
    leads and custom commissions), ``earnings`` what the partner is owed (negative for a
    clawback). ``event_id`` names the lead or sale that earned it: the unique key on it is
    the claim that makes one earning event give exactly one commission, whatever the
    retries and races (manual commissions have none).
    """

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("program_id", "type", "event_id"),
        Index("ix_commissions_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_commissions_partner_id_customer_id", "partner_id", "customer_id"),
        Index("ix_commissions_payout_id", "payout_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    # Links and customers are deleted while what was earned on them stays.
    link_id: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    payout_id: Mapped[str | None] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(8))
    event_id: Mapped[str | None] = mapped_column(String(40))
    invoice_id: Mapped[str | None] = mapped_column(String(190))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    earnings: Mapped[int] = mapped_column(BigInteger)
    # The percentage (hundredths of a percent) a sale commission was earned at; NULL for a
    # flat one. Kept with the commission: a refund scales it, whatever the reward is today.
    rate: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=CommissionStatus.pending.value)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

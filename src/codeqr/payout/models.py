"""Payouts: what a partner is paid for a period's due commissions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class PayoutStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    canceled = "canceled"


class Payout(Base):
    """One payment to one partner: the sum of its commissions, in the program's currency."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_payouts_partner_id", "partner_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.pending.value)
    description: Mapped[str | None] = mapped_column(Text)
    invoice_id: Mapped[str | None] = mapped_column(String(190))
    # The operator's reference for a payout made outside CodeQR (a bank transfer id…).
    reference: Mapped[str | None] = mapped_column(String(190))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    initiated_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

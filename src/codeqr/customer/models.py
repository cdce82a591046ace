"""The customers table: one row per merchant user CodeQR followed from a click."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class Customer(Base):
    """A merchant's user, known by its ``external_id`` within one workspace.

    ``sales`` and ``sale_amount`` (net of refunds, in the workspace's reporting currency's
    minor unit) move in the same transaction as the sale events they count.
    """

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        UniqueConstraint("workspace_id", "stripe_customer_id"),
        Index("ix_customers_workspace_id_created_at", "workspace_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(190))
    name: Mapped[str | None] = mapped_column(String(190))
    email: Mapped[str | None] = mapped_column(String(320))
    avatar: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(190))
    # Links are deleted while their customers stay: no foreign keys to links or clicks.
    click_id: Mapped[str | None] = mapped_column(String(16))
    link_id: Mapped[str | None] = mapped_column(String(40), index=True)
    clicked_at: Mapped[datetime | None]
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    sale_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    first_sale_at: Mapped[datetime | None]
    subscription_canceled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Programs, their partner groups and the rewards each group earns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base

DEFAULT_HOLDING_PERIOD_DAYS = 30
DEFAULT_MIN_PAYOUT = 10_000  # minor units of the program's currency ($100.00)


class RewardEvent(StrEnum):
    click = "click"
    lead = "lead"
    sale = "sale"


class RewardType(StrEnum):
    flat = "flat"
    percentage = "percentage"


class RewardDuration(StrEnum):
    """How long a sale reward keeps paying for one customer."""

    one_time = "one_time"
    recurring = "recurring"
    lifetime = "lifetime"


class Program(Base):
    """A workspace's partner program; one (the default) per workspace, made on first use."""

    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(190))
    # The workspace's reporting currency when the program was made: commissions are
    # computed from sales' reporting amounts, so both are in the same currency.
    currency: Mapped[str] = mapped_column(String(3))
    holding_period_days: Mapped[int] = mapped_column(default=DEFAULT_HOLDING_PERIOD_DAYS)
    min_payout_amount: Mapped[int] = mapped_column(BigInteger, default=DEFAULT_MIN_PAYOUT)
    default_domain: Mapped[str | None] = mapped_column(String(190))
    default_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerGroup(Base):
    """A group of partners with its own rewards (Dub's ``groupId``); every program has a
    ``default`` group, and new partners join it."""

    __tablename__ = "partner_groups"
    __table_args__ = (UniqueConstraint("program_id", "slug"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(190))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reward(Base):
    """What a group's partners earn for one kind of event.

    ``amount`` is in minor units of the program's currency for ``flat`` rewards, and in
    hundredths of a percent for ``percentage`` rewards (2000 is 20%): integers both, so
    no float ever touches money. ``months`` is set for ``recurring`` sale rewards only.
    """

    __tablename__ = "rewards"
    __table_args__ = (UniqueConstraint("group_id", "event"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("partner_groups.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[str] = mapped_column(String(16))
    months: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

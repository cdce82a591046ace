"""Users, workspaces, memberships, API keys and the plan table (SPEC §2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class Role(StrEnum):
    owner = "owner"
    member = "member"
    viewer = "viewer"


class KeyKind(StrEnum):
    secret = "secret"
    publishable = "publishable"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(190))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Plan(Base):
    """One row per plan: the limits that gate a workspace."""

    __tablename__ = "plans"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    rank: Mapped[int]
    links_per_month: Mapped[int]
    events_per_month: Mapped[int]
    analytics_days: Mapped[int | None]
    """How far back analytics may look; ``None`` is unlimited."""
    api_rate_per_minute: Mapped[int]
    conversions: Mapped[bool]
    """Conversion tracking (SPEC §2: business and higher)."""
    domains: Mapped[int]
    """How many custom short domains a workspace may hold (Dub's numbers per plan)."""


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(190))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str] = mapped_column(ForeignKey("plans.name"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    allowed_hostnames: Mapped[list[str]] = mapped_column(default=list)
    client_sales_enabled: Mapped[bool] = mapped_column(default=False)
    """Whether a publishable key may record sales (SPEC §9: off until the workspace says so,
    as anyone can send one with the key of its pages)."""
    client_sale_max: Mapped[int | None] = mapped_column(BigInteger)
    """The largest sale a publishable key may record, in minor units of the reporting
    currency; required to turn client sales on."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkspaceInvite(Base):
    """An invitation to join a workspace with a role, handed over as a signed link.

    The link carries only this row's id, signed with the instance secret; the row says
    whether it still works (not expired, not revoked, not yet used): one person joins with it.
    """

    __tablename__ = "workspace_invites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """A secret (``cq_…``) or publishable (``cq_pk_…``) key; only its SHA-256 is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(190))
    kind: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64))
    partial_key: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WorkspaceUsage(Base):
    """What a workspace used of its plan's monthly quotas, per calendar month (UTC)."""

    __tablename__ = "workspace_usage"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    """The month, ``YYYY-MM``."""
    links: Mapped[int] = mapped_column(default=0)
    """Links created (deleting one gives nothing back)."""


PLANS: list[dict[str, Any]] = [
    {
        "name": "free",
        "rank": 0,
        "links_per_month": 25,
        "events_per_month": 1_000,
        "analytics_days": 30,
        "api_rate_per_minute": 60,
        "conversions": False,
    },
    {
        "name": "pro",
        "rank": 1,
        "links_per_month": 1_000,
        "events_per_month": 50_000,
        "analytics_days": 366,
        "api_rate_per_minute": 600,
        "conversions": False,
    },
    {
        "name": "business",
        "rank": 2,
        "links_per_month": 10_000,
        "events_per_month": 250_000,
        "analytics_days": None,
        "api_rate_per_minute": 1_200,
        "conversions": True,
    },
    {
        "name": "advanced",
        "rank": 3,
        "links_per_month": 50_000,
        "events_per_month": 1_000_000,
        "analytics_days": None,
        "api_rate_per_minute": 3_000,
        "conversions": True,
    },
    {
        "name": "enterprise",
        "rank": 4,
        "links_per_month": 1_000_000_000,
        "events_per_month": 1_000_000_000,
        "analytics_days": None,
        "api_rate_per_minute": 100_000,
        "conversions": True,
    },
]
"""Seed rows of the plan table, written by the first migration."""

"""Short links, their domains and tags (SPEC §3.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class Domain(Base):
    """A custom short domain of a workspace (the instance's default domain has no row).

    ``slug`` is the lowercase hostname, unique across workspaces: the redirect finds the
    workspace of a request by its ``Host``.
    """

    __tablename__ = "domains"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(190), unique=True)
    not_found_url: Mapped[str | None] = mapped_column(Text)
    expired_url: Mapped[str | None] = mapped_column(Text)
    placeholder: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(default=False)
    verified: Mapped[bool] = mapped_column(default=False)
    """Set by ``codeqr domains verify`` when the domain's DNS points at this instance."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(16), default="blue")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkTag(Base):
    __tablename__ = "link_tags"

    link_id: Mapped[str] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        # Keys are case-insensitive: the lowered key is what must be unique per domain.
        UniqueConstraint("domain", "key_lower"),
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_links_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_links_partner_id", "partner_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    domain: Mapped[str] = mapped_column(String(190))
    key: Mapped[str] = mapped_column(String(190))
    key_lower: Mapped[str] = mapped_column(String(190))
    url: Mapped[str] = mapped_column(Text)
    track_conversion: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(190))
    tenant_id: Mapped[str | None] = mapped_column(String(190), index=True)
    # A partner's link in the workspace's program (SPEC §10): its events earn commissions.
    program_id: Mapped[str | None] = mapped_column(String(40))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    utm_source: Mapped[str | None] = mapped_column(String(190))
    utm_medium: Mapped[str | None] = mapped_column(String(190))
    utm_campaign: Mapped[str | None] = mapped_column(String(190))
    utm_term: Mapped[str | None] = mapped_column(String(190))
    utm_content: Mapped[str | None] = mapped_column(String(190))
    expires_at: Mapped[datetime | None]
    expired_url: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    ios: Mapped[str | None] = mapped_column(Text)
    android: Mapped[str | None] = mapped_column(Text)
    geo: Mapped[dict[str, Any] | None]
    archived: Mapped[bool] = mapped_column(default=False)
    comments: Mapped[str | None] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    leads: Mapped[int] = mapped_column(BigInteger, default=0)
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    sale_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    last_clicked: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

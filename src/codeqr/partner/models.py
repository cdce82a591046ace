"""Partners of a workspace and their enrollments in its program."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class EnrollmentStatus(StrEnum):
    """Where a partner stands in a program. Only ``active`` partners' links earn."""

    active = "active"
    deactivated = "deactivated"
    banned = "banned"


class Partner(Base):
    """A person or company that promotes the workspace's product with its own links.

    Partners belong to one workspace (unlike Dub's network of shared partner accounts), so
    no workspace ever sees another's partner.
    """

    __tablename__ = "partners"
    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        UniqueConstraint("workspace_id", "username"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(190))
    username: Mapped[str | None] = mapped_column(String(100))
    image: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str | None] = mapped_column(Text)
    # Set by the partner from the portal invite; NULL until then (no portal sign-in).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrollment(Base):
    """A partner in a program: its group (which rewards apply), tenant id and status."""

    __tablename__ = "program_enrollments"
    __table_args__ = (
        UniqueConstraint("program_id", "partner_id"),
        UniqueConstraint("program_id", "tenant_id"),
        Index("ix_program_enrollments_workspace_id_created_at", "workspace_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("partner_groups.id"))
    tenant_id: Mapped[str | None] = mapped_column(String(190))
    status: Mapped[str] = mapped_column(String(16), default=EnrollmentStatus.active.value)
    banned_at: Mapped[datetime | None]
    banned_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Partner portal sessions: one row per signed-in browser, keyed by its cookie's SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from codeqr.kit.clock import utcnow
from codeqr.kit.db import Base


class PartnerSession(Base):
    """A partner's sign-in to the portal of the workspace that enrolled them.

    Kept apart from the dashboard's ``user_sessions``: a partner is not a user of the
    workspace and no partner cookie opens a dashboard page (nor the reverse).
    """

    __tablename__ = "partner_sessions"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

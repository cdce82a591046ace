"""The SQL of dashboard sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from codeqr.auth.models import UserSession
from codeqr.workspace.models import User


def find_by_token_hash(session: Session, token_hash: str) -> tuple[UserSession, User] | None:
    """The session with this token hash and its user, expired or not."""
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash)
    ).first()
    return None if row is None else (row[0], row[1])


def delete_by_token_hash(session: Session, token_hash: str) -> None:
    """Forget one session (sign-out)."""
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))


def delete_expired_of_user(session: Session, user_id: str, now: datetime) -> None:
    """Drop a user's sessions that ended, so the table does not grow with every sign-in."""
    session.execute(
        delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= now)
    )

"""Rules of dashboard sign-in: password check, session start, lookup and end.

Services never commit; the request's transaction does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from codeqr.auth import repository
from codeqr.auth.models import UserSession
from codeqr.kit.clock import now_ms, to_ms, utcnow
from codeqr.kit.errors import Unprocessable
from codeqr.kit.ids import new_id
from codeqr.kit.passwords import hash_password, hash_token, verify_password
from codeqr.workspace.models import User

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_NEXT = 4096


@dataclass(frozen=True)
class StartedSession:
    """A new session: the token goes into the cookie once and is not kept."""

    token: str
    expires_at: datetime
    user: User


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose email and password these are; ``None`` otherwise.

    An unknown email still costs one argon2 verification, so the answer time does not tell
    which emails have an account.
    """
    password = password[:MAX_PASSWORD]
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_decoy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def start_session(session: Session, user: User) -> StartedSession:
    """Open a session for ``user``; its token is random and only its SHA-256 is stored."""
    now = utcnow()
    repository.delete_expired_of_user(session, user.id, now)
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session.add(
        UserSession(
            id=new_id("sess"),
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return StartedSession(token=token, expires_at=expires_at, user=user)


def resolve_session(session: Session, token: str) -> tuple[UserSession, User] | None:
    """The live session of a cookie token and its user; ``None`` when unknown or expired."""
    if not token or len(token) > 128:
        return None
    found = repository.find_by_token_hash(session, hash_token(token))
    if found is None or to_ms(found[0].expires_at) <= now_ms():
        return None
    return found


def end_session(session: Session, token: str) -> None:
    """Sign out: the session stops working at once, whatever the browser keeps."""
    if token:
        repository.delete_by_token_hash(session, hash_token(token))


def set_password(
    session: Session, user: User, password: str, *, keep_session: str | None = None
) -> int:
    """Give ``user`` a new password and end their other sign-ins (a password changed because
    it leaked must shut out whoever used it); ``keep_session`` is the id of the one that
    stays, the browser making the change. Returns how many sessions were ended."""
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"password: must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Unprocessable(f"password: must be at most {MAX_PASSWORD} characters")
    user.password_hash = hash_password(password)
    ended = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_session is not None:
        ended = ended.where(UserSession.id != keep_session)
    result = session.execute(ended)
    session.flush()
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Only a relative path is accepted: no scheme, no host, and none of what browsers read as
    a host (``//evil``, ``/\\evil``, or tabs and newlines that they strip into ``//``).
    """
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value:
        return default
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value

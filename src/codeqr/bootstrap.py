"""First start: an owner, a business workspace and an API key, so the instance is usable at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from codeqr.kit.db import Database
from codeqr.workspace.models import User
from codeqr.workspace.service import create_api_key, create_user, create_workspace

OWNER_EMAIL = "owner@codeqr.local"


@dataclass(frozen=True)
class FirstRun:
    email: str
    password: str
    workspace: str
    api_key: str


def ensure_owner(db: Database) -> FirstRun | None:
    """Create the first account when the instance has no user yet; ``None`` otherwise
    (also when another process starting at the same time created it first)."""
    try:
        with db.transaction() as session:
            if session.scalar(select(func.count(User.id))):
                return None
            password = secrets.token_urlsafe(12)
            user = create_user(session, OWNER_EMAIL, password, name="Owner")
            workspace = create_workspace(
                session, name="My workspace", slug="default", owner=user, plan="business"
            )
            key = create_api_key(session, workspace, name="First key", created_by=user)
            return FirstRun(OWNER_EMAIL, password, workspace.slug, key.token)
    except IntegrityError:
        return None


def remember_domain(data_dir: Path, domain: str) -> None:
    """Keep the short domain the server last served, for CLI commands run without it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "short_domain").write_text(domain)


def known_domain(data_dir: Path) -> str | None:
    """The short domain the server last served, if any."""
    path = data_dir / "short_domain"
    return path.read_text().strip() or None if path.exists() else None

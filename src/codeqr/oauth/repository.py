"""The SQL of OAuth apps, codes and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from codeqr.oauth.models import OAuthApp, OAuthCode, OAuthToken
from codeqr.workspace.models import Membership, Role, User, Workspace

GRANTING_ROLES = (Role.owner.value, Role.member.value)
"""Roles that may connect an app to a workspace (write access, SPEC §2)."""


def app_by_client_id(session: Session, client_id: str) -> OAuthApp | None:
    """The app of a client id."""
    return session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))


def all_apps(session: Session) -> Sequence[OAuthApp]:
    """Every registered app, oldest first."""
    return session.scalars(select(OAuthApp).order_by(OAuthApp.created_at, OAuthApp.id)).all()


def grantable_workspaces(session: Session, user_id: str) -> Sequence[Workspace]:
    """Workspaces where the user is owner or member, by name."""
    return session.scalars(
        select(Workspace)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id, Membership.role.in_(GRANTING_ROLES))
        .order_by(Workspace.name, Workspace.id)
    ).all()


def can_grant(session: Session, user_id: str, workspace_id: str) -> bool:
    """Whether the user is owner or member of the workspace."""
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.workspace_id == workspace_id
        )
    )
    return role in GRANTING_ROLES


def code_by_hash(session: Session, code_hash: str) -> OAuthCode | None:
    """The authorization code with this hash."""
    return session.scalar(select(OAuthCode).where(OAuthCode.code_hash == code_hash))


def claim_code(session: Session, code_id: str, now: datetime) -> bool:
    """Mark a code used; ``False`` when it already was (by this or a concurrent request)."""
    result = session.execute(
        update(OAuthCode)
        .where(OAuthCode.id == code_id, OAuthCode.used_at.is_(None))
        .values(used_at=now)
    )
    return _changed(result)


def token_by_refresh_hash(session: Session, refresh_hash: str) -> OAuthToken | None:
    """The token row of a refresh token."""
    return session.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == refresh_hash))


def claim_refresh(session: Session, token_id: str, now: datetime) -> bool:
    """Mark a refresh token used; ``False`` when it already was, or was revoked."""
    result = session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.id == token_id,
            OAuthToken.rotated_at.is_(None),
            OAuthToken.revoked_at.is_(None),
        )
        .values(rotated_at=now)
    )
    return _changed(result)


def revoke_family(session: Session, family_id: str, now: datetime) -> None:
    """Revoke every token that descends from one authorization code."""
    session.execute(
        update(OAuthToken)
        .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def live_grant(session: Session, access_hash: str) -> tuple[OAuthToken, User, Workspace] | None:
    """The unrevoked token of an access token hash, with its user and workspace, while the
    user is still owner or member there (expiry is checked by the caller)."""
    row = session.execute(
        select(OAuthToken, User, Workspace)
        .join(User, User.id == OAuthToken.user_id)
        .join(Workspace, Workspace.id == OAuthToken.workspace_id)
        .join(
            Membership,
            (Membership.user_id == OAuthToken.user_id)
            & (Membership.workspace_id == OAuthToken.workspace_id),
        )
        .where(
            OAuthToken.access_token_hash == access_hash,
            OAuthToken.revoked_at.is_(None),
            Membership.role.in_(GRANTING_ROLES),
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1

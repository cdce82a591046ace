"""A workspace's members: roles, invitations by link, and new workspaces of a user (SPEC §2).

An owner invites by a link (CodeQR sends no mail): the link names a stored invitation, signed
with the instance secret, that works for ``INVITE_DAYS`` days, once, until revoked. Whoever
opens it signed in (or after creating an account) joins with the invitation's role. Owners
change roles and remove members; a workspace always keeps at least one owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from codeqr.kit.ids import new_id
from codeqr.workspace.models import Membership, Role, User, Workspace, WorkspaceInvite
from codeqr.workspace.service import create_workspace

INVITE_DAYS = 7
MAX_PENDING_INVITES = 20
"""Open invitations a workspace holds at once (revoke one to make another)."""
MAX_MEMBERS = 200
MAX_OWNED_WORKSPACES = 20
"""Workspaces one user can create from the dashboard."""
ROLES = (Role.owner.value, Role.member.value, Role.viewer.value)


class InviteInvalid(NotFound):
    """The invitation link is forged, used, expired or revoked."""


@dataclass(frozen=True)
class MemberRow:
    """A member as the members page lists them."""

    user_id: str
    email: str
    name: str | None
    role: str
    joined_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


def members(session: Session, workspace: Workspace) -> list[MemberRow]:
    """The workspace's members, owners first, then by email."""
    order = {Role.owner.value: 0, Role.member.value: 1, Role.viewer.value: 2}
    rows = session.execute(
        select(User.id, User.email, User.name, Membership.role, Membership.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace.id)
        .order_by(User.email)
        .limit(MAX_MEMBERS)
    ).all()
    out = [MemberRow(*row) for row in rows]
    return sorted(out, key=lambda m: (order.get(m.role, 3), m.email))


def pending_invites(session: Session, workspace: Workspace) -> Sequence[WorkspaceInvite]:
    """Invitations that still work, newest first."""
    return session.scalars(
        select(WorkspaceInvite)
        .where(
            WorkspaceInvite.workspace_id == workspace.id,
            WorkspaceInvite.accepted_at.is_(None),
            WorkspaceInvite.revoked_at.is_(None),
            WorkspaceInvite.expires_at > utcnow(),
        )
        .order_by(WorkspaceInvite.created_at.desc(), WorkspaceInvite.id)
        .limit(MAX_PENDING_INVITES)
    ).all()


def _role(role: str) -> str:
    if role not in ROLES:
        raise Unprocessable("role: choose owner, member or viewer.")
    return role


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="codeqr.workspace.invite")


def invite_token(secret: str, invite: WorkspaceInvite) -> str:
    """The token of an invitation's link (only its id, signed)."""
    return _serializer(secret).dumps({"i": invite.id})


def create_invite(session: Session, workspace: Workspace, by: User, role: str) -> WorkspaceInvite:
    """A new invitation with ``role``; 422 past ``MAX_PENDING_INVITES`` open ones."""
    _role(role)
    session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())
    if len(pending_invites(session, workspace)) >= MAX_PENDING_INVITES:
        raise Unprocessable(
            f"A workspace holds at most {MAX_PENDING_INVITES} open invitations: "
            "revoke one that is not needed any more."
        )
    now = utcnow()
    invite = WorkspaceInvite(
        id=new_id("inv"),
        workspace_id=workspace.id,
        role=role,
        created_by=by.id,
        created_at=now,
        expires_at=now + timedelta(days=INVITE_DAYS),
    )
    session.add(invite)
    session.flush()
    return invite


def revoke_invite(session: Session, workspace: Workspace, invite_id: str) -> WorkspaceInvite:
    """Stop an invitation of this workspace from working (another's is not found)."""
    invite = None if "\x00" in invite_id else session.get(WorkspaceInvite, invite_id)
    if invite is None or invite.workspace_id != workspace.id:
        raise NotFound("Invitation not found.")
    if invite.revoked_at is None and invite.accepted_at is None:
        invite.revoked_at = utcnow()
        session.flush()
    return invite


def open_invite(session: Session, secret: str, token: str) -> tuple[WorkspaceInvite, Workspace]:
    """The invitation a link's token names, while it still works; ``InviteInvalid`` else."""
    try:
        data: Any = _serializer(secret).loads(token[:512], max_age=INVITE_DAYS * 86_400)
    except BadSignature as exc:
        raise InviteInvalid("This invitation link is not valid.") from exc
    invite_id = data.get("i") if isinstance(data, dict) else None
    invite = session.get(WorkspaceInvite, str(invite_id)) if invite_id else None
    if invite is None or invite.revoked_at is not None or invite.accepted_at is not None:
        raise InviteInvalid("This invitation link has been used or revoked.")
    if _aware(invite.expires_at) <= utcnow():
        raise InviteInvalid("This invitation link has expired.")
    workspace = session.get(Workspace, invite.workspace_id)
    if workspace is None:
        raise InviteInvalid("This invitation link is not valid.")
    return invite, workspace


def accept_invite(session: Session, secret: str, token: str, user: User) -> Workspace:
    """Join the invitation's workspace with its role; the invitation is used up. A member
    already in the workspace keeps their role (and the invitation stays open)."""
    invite, workspace = open_invite(session, secret, token)
    # Lock the invitation: two tabs accepting at once make one member, not two.
    locked = session.scalar(
        select(WorkspaceInvite).where(WorkspaceInvite.id == invite.id).with_for_update()
    )
    if locked is None or locked.accepted_at is not None:
        raise InviteInvalid("This invitation link has been used or revoked.")
    if session.get(Membership, (user.id, workspace.id)) is not None:
        return workspace
    count = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.workspace_id == workspace.id)
    )
    if (count or 0) >= MAX_MEMBERS:
        raise Conflict(f"This workspace already has {MAX_MEMBERS} members, its most.")
    session.add(Membership(user_id=user.id, workspace_id=workspace.id, role=locked.role))
    locked.accepted_at = utcnow()
    locked.accepted_by = user.id
    session.flush()
    return workspace


def _membership(session: Session, workspace: Workspace, user_id: str) -> Membership:
    found = None if "\x00" in user_id else session.get(Membership, (user_id, workspace.id))
    if found is None:
        raise NotFound("Member not found.")
    return found


def _owners(session: Session, workspace: Workspace) -> int:
    # Locks the owners' rows (PostgreSQL), so two owners demoting each other at once cannot
    # leave the workspace with none.
    rows = session.scalars(
        select(Membership.user_id)
        .where(Membership.workspace_id == workspace.id, Membership.role == Role.owner.value)
        .with_for_update()
    ).all()
    return len(rows)


def set_role(session: Session, workspace: Workspace, user_id: str, role: str) -> Membership:
    """Give a member another role; the last owner stays an owner."""
    _role(role)
    found = _membership(session, workspace, user_id)
    if (
        found.role == Role.owner.value
        and role != Role.owner.value
        and _owners(session, workspace) <= 1
    ):
        raise Forbidden("A workspace needs an owner: make someone else owner first.")
    found.role = role
    session.flush()
    return found


def remove(session: Session, workspace: Workspace, user_id: str) -> None:
    """Take a member out of the workspace; never its last owner."""
    found = _membership(session, workspace, user_id)
    if found.role == Role.owner.value and _owners(session, workspace) <= 1:
        raise Forbidden("A workspace needs an owner: make someone else owner first.")
    session.delete(found)
    session.flush()


def check_name(name: str) -> str:
    """A workspace name as typed, trimmed; 422 when empty, too long or holding control
    characters (PostgreSQL text cannot hold a NUL)."""
    name = name.strip()
    if not name or len(name) > 190:
        raise Unprocessable("name: give the workspace a name of 1-190 characters.")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise Unprocessable("name: a workspace name cannot hold control characters.")
    return name


def new_workspace(session: Session, owner: User, name: str, slug: str, plan: str) -> Workspace:
    """A workspace created by a signed-in user, who becomes its owner; at most
    ``MAX_OWNED_WORKSPACES`` each."""
    name = check_name(name)
    owned = session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == owner.id, Membership.role == Role.owner.value)
    )
    if (owned or 0) >= MAX_OWNED_WORKSPACES:
        raise Unprocessable(f"You own {MAX_OWNED_WORKSPACES} workspaces, the most one person can.")
    return create_workspace(session, name=name, slug=slug.strip().lower(), owner=owner, plan=plan)

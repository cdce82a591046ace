"""Who may see which workspace in the dashboard: memberships and what each role may do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.kit.errors import NotFound
from codeqr.workspace.models import Membership, Plan, Role, User, Workspace

WRITE_ROLES = frozenset({Role.owner.value, Role.member.value})


@dataclass(frozen=True)
class Member:
    """A signed-in user inside one of their workspaces: its plan and their role."""

    user: User
    workspace: Workspace
    role: str
    plan: Plan

    @property
    def can_write(self) -> bool:
        """Owners and members change things; viewers only look."""
        return self.role in WRITE_ROLES

    @property
    def conversions(self) -> bool:
        """Whether the plan includes conversion tracking (Business and higher)."""
        return self.plan.conversions


def workspaces_of(session: Session, user: User) -> Sequence[tuple[Workspace, str]]:
    """The user's workspaces with their role, oldest membership first."""
    rows = session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id)
        .order_by(Membership.created_at, Workspace.slug)
    ).all()
    return [(workspace, role) for workspace, role in rows]


def member(session: Session, user: User, slug: str) -> Member:
    """The user's membership of the workspace ``slug``; 404 when they are not in it, so a
    workspace they do not belong to looks the same as one that does not exist."""
    row = session.execute(
        select(Workspace, Membership.role, Plan)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .join(Plan, Plan.name == Workspace.plan)
        .where(Membership.user_id == user.id, Workspace.slug == slug)
    ).first()
    if row is None:
        raise NotFound(f"Workspace {slug[:64]} not found.")
    workspace, role, plan = row
    return Member(user=user, workspace=workspace, role=role, plan=plan)

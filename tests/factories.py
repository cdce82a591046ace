"""Plain factory functions: users, workspaces and keys straight through the services."""

from __future__ import annotations

from dataclasses import dataclass

from codeqr.kit.ids import base62
from codeqr.workspace import service as ws
from codeqr.workspace.models import KeyKind

from .conftest import LiveServer


@dataclass(frozen=True)
class Tenant:
    """A workspace with an owner and a secret key."""

    workspace_id: str
    slug: str
    token: str
    user_id: str


def make_tenant(server: LiveServer, plan: str = "business") -> Tenant:
    """A user, a workspace on ``plan`` and a secret API key."""
    suffix = base62(8).lower()
    with server.services.db.transaction() as session:
        user = ws.create_user(session, f"owner-{suffix}@example.com", "correct horse battery")
        workspace = ws.create_workspace(
            session, name=f"Workspace {suffix}", slug=f"ws-{suffix}", owner=user, plan=plan
        )
        key = ws.create_api_key(session, workspace, created_by=user)
        return Tenant(workspace.id, workspace.slug, key.token, user.id)


def make_key(server: LiveServer, tenant: Tenant, *, publishable: bool = False) -> str:
    """Another key of the tenant's workspace."""
    kind = KeyKind.publishable if publishable else KeyKind.secret
    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, tenant.slug)
        return ws.create_api_key(session, workspace, kind=kind).token

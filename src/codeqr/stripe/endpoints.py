"""Binding a Stripe account to a workspace (SPEC §5.1); the webhook endpoints themselves
are ``stripe.receiver`` (plain ASGI, beside the framework)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from codeqr.api.deps import WORKSPACE_CALLER_ANSWERS, ServicesDep, SessionDep, authorize
from codeqr.api.errors import answers
from codeqr.oauth.deps import get_oauth_grant, require_scope
from codeqr.oauth.scopes import STRIPE_WRITE
from codeqr.oauth.service import ACCESS_PREFIX
from codeqr.stripe import service as connection
from codeqr.stripe.schemas import IntegrationIn, IntegrationOut
from codeqr.stripe.service import StripeMode
from codeqr.workspace.models import Workspace

router = APIRouter(prefix="/stripe", tags=["stripe"])


@answers(*WORKSPACE_CALLER_ANSWERS)
def integration_workspace(
    request: Request, session: SessionDep, services: ServicesDep
) -> Workspace:
    """The workspace a caller may bind: an OAuth access token granted ``stripe.write`` (the
    Stripe App after its OAuth flow) or a secret API key of the workspace."""
    header = request.headers.get("authorization", "")
    if header.partition(" ")[2].strip().startswith(ACCESS_PREFIX):
        grant = require_scope(STRIPE_WRITE)(get_oauth_grant(request, session))
        workspace = session.get(Workspace, grant.workspace_id)
        assert workspace is not None  # the grant is live only while the workspace is
        return workspace
    return authorize(session, request, services).workspace


@router.patch("/integration", response_model=IntegrationOut)
def bind_integration(
    body: IntegrationIn,
    workspace: Annotated[Workspace, Depends(integration_workspace)],
    session: SessionDep,
    services: ServicesDep,
) -> IntegrationOut:
    """Bind a Stripe account to the workspace (the Stripe App calls this after OAuth)."""
    url = connection.webhook_url(services.links.ctx.public_url, workspace.id)
    if body.stripe_account_id is None:
        connection.disconnect(session, workspace)
        return IntegrationOut(
            workspace_id=workspace.id, stripe_account_id=None, stripe_modes=[], webhook_url=url
        )
    integration = connection.connect(
        session,
        workspace,
        account_id=body.stripe_account_id,
        modes={body.stripe_mode},
        via="oauth",
    )
    modes = [m for m in StripeMode if getattr(integration, m.value)]
    return IntegrationOut(
        workspace_id=workspace.id,
        stripe_account_id=integration.account_id,
        stripe_modes=modes,
        webhook_url=url,
    )

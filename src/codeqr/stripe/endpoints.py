"""Binding a Stripe account to a workspace (SPEC §5.1); the webhook endpoints themselves
are ``stripe.receiver`` (plain ASGI, beside the framework)."""

from __future__ import annotations

from fastapi import APIRouter

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.stripe import service as connection
from codeqr.stripe.schemas import IntegrationIn, IntegrationOut
from codeqr.stripe.service import StripeMode

router = APIRouter(prefix="/stripe", tags=["stripe"])


@router.patch("/integration", response_model=IntegrationOut)
def bind_integration(
    body: IntegrationIn, caller: CallerDep, session: SessionDep, services: ServicesDep
) -> IntegrationOut:
    """Bind a Stripe account to the workspace (the Stripe App calls this after OAuth)."""
    workspace = caller.workspace
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

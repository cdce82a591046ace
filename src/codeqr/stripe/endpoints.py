"""Binding a Stripe account to a workspace (SPEC §5.1); the webhook endpoints themselves
are ``stripe.receiver`` (plain ASGI, beside the framework)."""

from __future__ import annotations

from dataclasses import dataclass
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
from codeqr.stripe.signature import verify_app_user
from codeqr.workspace.models import Workspace

router = APIRouter(prefix="/stripe", tags=["stripe"])


@dataclass(frozen=True)
class Binder:
    """Who binds: the workspace, and whether it is the Stripe App (an OAuth token)."""

    workspace: Workspace
    through_app: bool


@answers(*WORKSPACE_CALLER_ANSWERS)
def integration_binder(request: Request, session: SessionDep, services: ServicesDep) -> Binder:
    """The workspace a caller may bind: an OAuth access token granted ``stripe.write`` (the
    Stripe App after its OAuth flow) or a secret API key of the workspace."""
    header = request.headers.get("authorization", "")
    if header.partition(" ")[2].strip().startswith(ACCESS_PREFIX):
        grant = require_scope(STRIPE_WRITE)(get_oauth_grant(request, session, services))
        workspace = session.get(Workspace, grant.workspace_id)
        assert workspace is not None  # the grant is live only while the workspace is
        return Binder(workspace, through_app=True)
    return Binder(authorize(session, request, services).workspace, through_app=False)


@router.patch("/integration", response_model=IntegrationOut)
def bind_integration(
    request: Request,
    body: IntegrationIn,
    binder: Annotated[Binder, Depends(integration_binder)],
    session: SessionDep,
    services: ServicesDep,
) -> IntegrationOut:
    """Bind a Stripe account to the workspace once Stripe vouches for it: the Stripe App
    (OAuth token) for an account that installed it and whose signed-in Dashboard user signed
    the request, anyone else with ``stripeApiKey``."""
    workspace = binder.workspace
    url = connection.webhook_url(services.links.ctx.public_url, workspace.id)
    if body.stripe_account_id is None:
        connection.disconnect(session, workspace)
        return IntegrationOut(
            workspace_id=workspace.id, stripe_account_id=None, stripe_modes=[], webhook_url=url
        )
    if binder.through_app and body.stripe_api_key is None:
        settings = services.settings
        verify_app_user(
            request.headers.get("stripe-signature"),
            body.stripe_user_id,
            connection.account_id_of(body.stripe_account_id),
            settings.stripe_app_signing_secret,
            settings.stripe_webhook_tolerance,
        )
    integration = connection.connect(
        session,
        services.stripe,
        workspace,
        account_id=body.stripe_account_id,
        modes={body.stripe_mode},
        via="oauth" if binder.through_app else "api",
        api_key=body.stripe_api_key,
        through_app=binder.through_app,
        platform_key=services.settings.stripe_app_secret_key,
    )
    modes = [m for m in StripeMode if getattr(integration, m.value)]
    return IntegrationOut(
        workspace_id=workspace.id,
        stripe_account_id=integration.account_id,
        stripe_modes=modes,
        webhook_url=url,
    )

"""Stripe's webhook endpoints and the integration binding (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.kit.errors import error_envelope
from codeqr.services import Services
from codeqr.stripe import service as connection
from codeqr.stripe import webhooks
from codeqr.stripe.schemas import IntegrationIn, IntegrationOut
from codeqr.stripe.service import StripeMode

router = APIRouter(prefix="/stripe", tags=["stripe"])


async def _deliver(services: Services, receive: Callable[[], webhooks.Receipt]) -> JSONResponse:
    try:
        receipt = await anyio.to_thread.run_sync(receive)
    except webhooks.HandlingFailed as exc:
        code = "bad_gateway" if exc.status == 502 else "internal_server_error"
        return JSONResponse(error_envelope(code, exc.message), status_code=exc.status)
    return JSONResponse(receipt.body, status_code=receipt.status)


@router.post("/webhook/{workspace_id}", include_in_schema=False)
async def workspace_webhook(
    workspace_id: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """A self-hosted workspace's endpoint, signed with the secret its Stripe dashboard gave."""
    payload = await request.body()
    header = request.headers.get("stripe-signature")
    return await _deliver(
        services,
        lambda: webhooks.receive_for_workspace(services, workspace_id, payload, header),
    )


@router.post("/integration/webhook", include_in_schema=False)
async def app_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    """The Stripe App's live endpoint: events of every connected account."""
    payload = await request.body()
    header = request.headers.get("stripe-signature")
    return await _deliver(
        services, lambda: webhooks.receive_from_app(services, payload, header, livemode=True)
    )


@router.post("/integration/webhook/test", include_in_schema=False)
async def app_test_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    """The Stripe App's test-mode endpoint."""
    payload = await request.body()
    header = request.headers.get("stripe-signature")
    return await _deliver(
        services, lambda: webhooks.receive_from_app(services, payload, header, livemode=False)
    )


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

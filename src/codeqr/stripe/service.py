"""Connecting a workspace to a Stripe account (SPEC §5.1): one account per workspace, one
workspace per account."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.errors import BadRequest, Conflict
from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

FEATURE = "The Stripe integration"


class StripeMode(StrEnum):
    live = "live"
    test = "test"


def webhook_url(public_url: str, workspace_id: str) -> str:
    """The self-hosted endpoint to paste into the Stripe dashboard."""
    return f"{public_url.rstrip('/')}/api/stripe/webhook/{workspace_id}"


def get(session: Session, workspace_id: str) -> StripeIntegration | None:
    """The workspace's connection, if any."""
    return session.get(StripeIntegration, workspace_id)


def by_account(session: Session, account_id: str) -> StripeIntegration | None:
    """The connection holding this Stripe account, if any."""
    return session.scalar(
        select(StripeIntegration).where(StripeIntegration.account_id == account_id)
    )


def connect(
    session: Session,
    workspace: Workspace,
    *,
    account_id: str,
    webhook_secret: str | None = None,
    test_webhook_secret: str | None = None,
    api_key: str | None = None,
    modes: set[StripeMode],
    via: str,
) -> StripeIntegration:
    """Bind ``account_id`` to the workspace (replacing its previous binding); 409 when
    another workspace holds the account."""
    require_plan(session, workspace, FEATURE)
    account_id = account_id.strip()
    if not account_id.startswith("acct_") or len(account_id) > 64:
        raise BadRequest(f"stripeAccountId: {account_id!r} is not a Stripe account id (acct_…).")
    for name, secret in (
        ("webhookSecret", webhook_secret),
        ("testWebhookSecret", test_webhook_secret),
    ):
        if secret is not None and not secret.startswith("whsec_"):
            raise BadRequest(f"{name}: a Stripe signing secret starts with whsec_.")
    if not modes:
        raise BadRequest("At least one Stripe mode (live or test) must be enabled.")
    holder = by_account(session, account_id)
    if holder is not None and holder.workspace_id != workspace.id:
        raise Conflict(f"Stripe account {account_id} is already connected to another workspace.")
    current = get(session, workspace.id)
    if current is None:
        current = StripeIntegration(workspace_id=workspace.id, account_id=account_id)
        session.add(current)
    current.account_id = account_id
    current.live = StripeMode.live in modes
    current.test = StripeMode.test in modes
    current.webhook_secret = webhook_secret
    current.test_webhook_secret = test_webhook_secret
    current.api_key = api_key
    current.connected_via = via
    current.connected_at = utcnow()
    # A concurrent claim of the same account fails here on its unique key: the API's 409.
    session.flush()
    return current


def disconnect(session: Session, workspace: Workspace) -> bool:
    """Unbind the workspace's account; whether there was one."""
    current = get(session, workspace.id)
    if current is None:
        return False
    session.delete(current)
    session.flush()
    return True


def counts_test_data(integration: StripeIntegration | None) -> bool:
    """Whether test-mode data are the workspace's figures: only when it has no live mode
    (a sandbox workspace); with live on, test data are kept but left out of live figures."""
    return integration is not None and integration.test and not integration.live

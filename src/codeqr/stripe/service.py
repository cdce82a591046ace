"""Connecting a workspace to a Stripe account (SPEC §5.1): one account per workspace, one
workspace per account."""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.errors import BadRequest, CodeQRError, Conflict, Forbidden
from codeqr.stripe.client import StripeClients, StripeRefused, StripeUnavailable
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


class StripeUnreachable(CodeQRError):
    """Stripe could not be asked to vouch for an account: try again later."""

    status_code = 502
    code = "bad_gateway"


ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,59}")
"""A Stripe account id (it goes into the ``Stripe-Account`` header when Stripe is asked)."""
API_KEY = re.compile(r"(rk|sk)_(live|test)_[A-Za-z0-9_]{1,240}")
"""A Stripe secret or restricted key, as Stripe mints them (bounded: it is sent in a header)."""


def vouch(
    clients: StripeClients, account_id: str, *, api_key: str | None, platform_key: str | None
) -> None:
    """Ask Stripe whether ``account_id`` is the caller's to bind; 403 when it says no.

    Two ways, one call each (``GET /v1/account``):

    - ``api_key``: the account's own secret or restricted key, given by the self-hosted user.
      Stripe answers the account the key belongs to; it must be ``account_id``. Only someone
      holding a key of the account can make that call, so a CodeQR key alone binds nothing.
    - ``platform_key``: the Stripe App's platform key (the OAuth path), asking *as*
      ``account_id`` through the ``Stripe-Account`` header. Stripe answers only for accounts
      that installed the app, so an account that never installed it cannot be bound through
      an OAuth token. We ask Stripe at bind time rather than waiting for a signed install
      event: the answer is current (an uninstalled app is refused at once) and the binding
      stays one synchronous call, with nothing stored half-done while waiting for an event.
    """
    key = api_key if api_key is not None else platform_key
    if key is None:
        raise Forbidden(
            "This server has no Stripe App platform key (CODEQR_STRIPE_APP_SECRET_KEY), so "
            "Stripe cannot vouch for an account bound through the app; give the account's own "
            "restricted key (stripeApiKey) instead."
        )
    try:
        found = clients.account(key, None if api_key is not None else account_id)
    except StripeRefused as exc:
        if api_key is not None:
            raise Forbidden(
                f"stripeApiKey: Stripe refused this key ({exc}), so it does not vouch that "
                f"{account_id} is yours."
            ) from exc
        raise Forbidden(
            f"Stripe does not vouch for {account_id}: the CodeQR Stripe App cannot reach that "
            f"account ({exc}). Install the app on the account first."
        ) from exc
    except StripeUnavailable as exc:
        raise StripeUnreachable(
            f"Stripe could not be asked to vouch for {account_id} ({exc}); try again later."
        ) from exc
    if found.get("id") != account_id:
        raise Forbidden(
            f"stripeApiKey: this key belongs to Stripe account {found.get('id')}, not {account_id}."
        )


def account_id_of(given: str) -> str:
    """``given`` as a Stripe account id (``acct_…``, spaces around dropped); 400 otherwise."""
    account_id = given.strip()
    if not ACCOUNT_ID.fullmatch(account_id):
        raise BadRequest(f"stripeAccountId: {account_id!r} is not a Stripe account id (acct_…).")
    return account_id


def connect(
    session: Session,
    clients: StripeClients,
    workspace: Workspace,
    *,
    account_id: str,
    modes: set[StripeMode],
    via: str,
    api_key: str | None = None,
    through_app: bool = False,
    platform_key: str | None = None,
    webhook_secret: str | None = None,
    test_webhook_secret: str | None = None,
) -> StripeIntegration:
    """Bind ``account_id`` to the workspace once Stripe vouches for it (``vouch``); 409 when
    another workspace holds the account.

    The self-hosted way gives ``api_key`` (the account's own key, kept to read customers and
    invoices; optional only when the workspace already holds the account); the Stripe App
    (``through_app``) is vouched for with ``platform_key``. Binding the account the workspace
    already holds only adds: modes are added, and a secret or key not given is kept, so the
    app's ``PATCH`` never wipes a self-hosted connection's secrets. Binding another account
    replaces everything (the old secrets and key were the old account's).
    """
    require_plan(session, workspace, FEATURE)
    account_id = account_id_of(account_id)
    for name, secret in (
        ("webhookSecret", webhook_secret),
        ("testWebhookSecret", test_webhook_secret),
    ):
        if secret is not None and (not secret.startswith("whsec_") or len(secret) > 255):
            raise BadRequest(f"{name}: a Stripe signing secret starts with whsec_.")
    if api_key is not None and not API_KEY.fullmatch(api_key):
        raise BadRequest(
            "stripeApiKey: a Stripe API key starts with rk_ (restricted, recommended) or sk_, "
            "then live_ or test_."
        )
    current = get(session, workspace.id)
    same = current is not None and current.account_id == account_id
    if not modes and not same:
        raise BadRequest(
            "webhookSecret: paste the signing secret (whsec_…) of the endpoint you created in "
            "Stripe: live mode, test mode, or both."
        )
    if api_key is None and not through_app and not same:
        raise BadRequest(
            f"stripeApiKey: give a restricted key (rk_…) of {account_id}, so that Stripe can "
            "vouch that the account is yours."
        )
    if api_key is not None or through_app:
        # Asked before anything is written or the holder is named: only a caller Stripe
        # vouches for learns that another workspace holds the account.
        vouch(clients, account_id, api_key=api_key, platform_key=platform_key)
    holder = by_account(session, account_id)
    if holder is not None and holder.workspace_id != workspace.id:
        raise Conflict(f"Stripe account {account_id} is already connected to another workspace.")
    if current is None or not same:
        if current is None:
            current = StripeIntegration(workspace_id=workspace.id, account_id=account_id)
            session.add(current)
        current.account_id = account_id
        current.live = current.test = False
        current.webhook_secret = current.test_webhook_secret = current.api_key = None
    current.live = current.live or StripeMode.live in modes
    current.test = current.test or StripeMode.test in modes
    current.webhook_secret = webhook_secret or current.webhook_secret
    current.test_webhook_secret = test_webhook_secret or current.test_webhook_secret
    current.api_key = api_key or current.api_key
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

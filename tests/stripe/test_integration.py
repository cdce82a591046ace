"""Binding a Stripe account (SPEC §5.1): the Stripe App's OAuth token or a secret key calls
``PATCH /api/stripe/integration``; one workspace per account; business plan or higher;
``account.application.deauthorized`` unbinds."""

from __future__ import annotations

import json
import time

import httpx
from sqlalchemy import select

from codeqr.oauth.service import ACCESS_PREFIX
from codeqr.settings import Settings
from codeqr.stripe.models import StripeIntegration
from tests.auth.helpers import Account, make_account, signed_in_client
from tests.conftest import LiveServer
from tests.conversion.helpers import sales
from tests.factories import Tenant, make_key, make_tenant
from tests.oauth.helpers import Client, decide, exchange, get_code, pkce, query_of, register
from tests.stripe.helpers import (
    ACCOUNT,
    APP_SIGNING_SECRET,
    CONNECTED_ACCOUNT,
    DASHBOARD_USER,
    SECRET,
    STANDIN_KEY,
    app_user_signature,
    event_bytes,
    inbox,
    sign,
    tracked_link,
)
from tests.stripe.helpers import click_with_id as name_click
from tests.stripe.standin import StripeStandIn, dead_base
from tests.stripe.test_cli import run

APP_TEST_SECRET = "whsec_test_secret"  # the stand-in settings' test endpoint secret
APP_TEST = "/api/stripe/integration/webhook/test"


def _token(server: LiveServer, account: Account, client: Client, scope: str | None = None) -> str:
    """The Stripe App's access token after its user consented for ``account``'s workspace."""
    browser = signed_in_client(server, account)
    challenge = pkce()
    if scope is None:
        code = get_code(browser, client, challenge, account)
    else:
        answer = decide(browser, client, challenge, workspace_id=account.workspace_id, scope=scope)
        code = query_of(answer.headers["location"])["code"]
    answer = exchange(server.client(), client, code, challenge.verifier)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _bind(
    server: LiveServer,
    token: str,
    account: str | None,
    mode: str = "test",
    key: str | None = None,
    *,
    signature: str | None = "",
) -> httpx.Response:
    """PATCH the integration with ``token``; an OAuth token's call carries the app UI's
    signature for ``account`` (``signature=""``, the default) or the one given (``None``:
    none)."""
    body = {"stripeAccountId": account, "stripeMode": mode}
    headers = {}
    if key is not None:
        body["stripeApiKey"] = key
    if token.startswith(ACCESS_PREFIX) and account is not None and signature is not None:
        body["stripeUserId"] = DASHBOARD_USER
        headers["Stripe-Signature"] = signature or app_user_signature(account)
    return server.client(token).patch("/api/stripe/integration", json=body, headers=headers)


def test_the_stripe_app_binds_with_its_oauth_token_and_events_follow(server: LiveServer) -> None:
    account = make_account(server)
    app = register(server)
    token = _token(server, account, app)
    answer = _bind(server, token, CONNECTED_ACCOUNT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stripeAccountId"] == CONNECTED_ACCOUNT
    assert answer.json()["stripeModes"] == ["test"]
    assert answer.json()["workspaceId"] == account.workspace_id

    # A Connect event of that account now lands in the workspace.
    owner = _tenant_of(server, account)
    name = "checkout.session.completed.connect_account"
    link_id = tracked_link(server, owner)
    name_click(server, owner, "Zr6Nf3Tq8JxBv1Lc", link_id)
    body = event_bytes(name)
    delivered = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_TEST_SECRET)}
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["handled"] is True
    assert len(sales(server, account.workspace_id)) == 1

    # Unbinding with null: the account's events are acknowledged and no longer stored.
    assert _bind(server, token, None).json()["stripeAccountId"] is None
    later = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_TEST_SECRET)}
    )
    assert later.status_code == 200
    assert later.json()["handled"] is False
    assert CONNECTED_ACCOUNT in later.json()["reason"]


def _tenant_of(server: LiveServer, account: Account) -> Tenant:
    """The account's workspace as the factories' tenant, with a secret key of its own."""
    keyless = Tenant(account.workspace_id, account.slug, "", account.user_id)
    return Tenant(account.workspace_id, account.slug, make_key(server, keyless), account.user_id)


def test_an_account_held_by_another_workspace_is_409(server: LiveServer) -> None:
    app = register(server)
    first, second = make_account(server), make_account(server)
    assert _bind(server, _token(server, first, app), CONNECTED_ACCOUNT).status_code == 200
    answer = _bind(server, _token(server, second, app), CONNECTED_ACCOUNT)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"
    assert "another workspace" in answer.json()["error"]["message"]


def test_lower_plans_are_refused_naming_business(server: LiveServer) -> None:
    app = register(server)
    account = make_account(server, plan="pro")
    answer = _bind(server, _token(server, account, app), CONNECTED_ACCOUNT)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "Business plan" in answer.json()["error"]["message"]


def test_tokens_and_keys_that_may_not_bind(server: LiveServer, stripe_api: StripeStandIn) -> None:
    stripe_api.add_account(CONNECTED_ACCOUNT, "rk_test_connected_own")
    app = register(server)
    account = make_account(server)
    narrow = _token(server, account, app, scope="user.read workspace.read")
    assert _bind(server, narrow, CONNECTED_ACCOUNT).status_code == 403
    assert _bind(server, "cq_at_not-a-real-token", CONNECTED_ACCOUNT).status_code == 401
    tenant = make_tenant(server)
    publishable = make_key(server, tenant, publishable=True)
    assert _bind(server, publishable, CONNECTED_ACCOUNT).status_code == 403
    # A workspace's own secret key may bind too (the self-hosted way, from scripts), with a
    # key of the account for Stripe to vouch.
    own = "rk_test_connected_own"
    answer = _bind(server, tenant.token, CONNECTED_ACCOUNT, mode="live", key=own)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stripeModes"] == ["live"]
    bad = server.client(tenant.token).patch(
        "/api/stripe/integration", json={"stripeAccountId": "not-an-account"}
    )
    assert bad.status_code == 400
    assert "acct_" in bad.json()["error"]["message"]


def test_deauthorizing_the_app_unbinds_the_account(
    server: LiveServer, stripe_api: StripeStandIn
) -> None:
    stripe_api.add_account(CONNECTED_ACCOUNT, "rk_test_connected_own")
    tenant = make_tenant(server)
    bound = _bind(server, tenant.token, CONNECTED_ACCOUNT, key="rk_test_connected_own")
    assert bound.status_code == 200, bound.text
    body = json.dumps(
        {
            "id": "evt_deauthorized_1",
            "object": "event",
            "type": "account.application.deauthorized",
            "account": CONNECTED_ACCOUNT,
            "livemode": False,
            "created": int(time.time()),
            "api_version": "2026-06-24.dahlia",
            "data": {"object": {"id": "ca_1CodeQRApp", "object": "application", "name": "CodeQR"}},
        }
    ).encode()
    answer = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_TEST_SECRET)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True
    assert len(inbox(server, tenant.workspace_id)) == 1
    ignored = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_TEST_SECRET)}
    )
    assert ignored.json()["handled"] is False  # no workspace holds the account any more


# --- Stripe vouches for every binding (issue 14, finding 3) -------------------------------


def _connect_event() -> bytes:
    return event_bytes("checkout.session.completed.connect_account")


def _integration(server: LiveServer, workspace_id: str) -> StripeIntegration | None:
    with server.services.db.transaction() as session:
        found = session.scalar(
            select(StripeIntegration).where(StripeIntegration.workspace_id == workspace_id)
        )
        if found is not None:
            session.expunge(found)
        return found


def test_a_secret_key_alone_cannot_squat_an_account(
    server: LiveServer, stripe_api: StripeStandIn
) -> None:
    """A squatter with any CodeQR secret key names the app-connected account: without a key
    of that account, or with a key of their own account, Stripe does not vouch and nothing is
    bound; the real owner then binds it and its events land in the owner's workspace."""
    stripe_api.add_account("acct_1SquatterOwnAcct", "rk_test_squatter")
    squatter = make_tenant(server)
    bare = _bind(server, squatter.token, CONNECTED_ACCOUNT)
    assert bare.status_code == 400, bare.text
    assert "stripeApiKey" in bare.json()["error"]["message"]
    for key, said in [
        ("rk_test_squatter", "belongs to Stripe account acct_1SquatterOwnAcct"),
        ("rk_test_guessed", "Invalid API Key"),
        (STANDIN_KEY, f"belongs to Stripe account {ACCOUNT}"),
    ]:
        refused = _bind(server, squatter.token, CONNECTED_ACCOUNT, key=key)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert said in refused.json()["error"]["message"]
    malformed = _bind(server, squatter.token, CONNECTED_ACCOUNT, key="rk_test_x\r\nX-Evil: 1")
    assert malformed.status_code == 400
    assert _integration(server, squatter.workspace_id) is None

    owner = make_account(server)
    answer = _bind(server, _token(server, owner, register(server)), CONNECTED_ACCOUNT)
    assert answer.status_code == 200, answer.text
    body = _connect_event()
    delivered = server.client().post(
        APP_TEST, content=body, headers={"stripe-signature": sign(body, APP_TEST_SECRET)}
    )
    assert delivered.status_code == 200, delivered.text
    assert inbox(server, squatter.workspace_id) == []
    assert len(inbox(server, owner.workspace_id)) == 1


def test_the_stripe_app_binds_only_accounts_that_installed_it(
    server: LiveServer, stripe_api: StripeStandIn
) -> None:
    """An OAuth token with stripe.write names an account the platform cannot reach (it never
    installed the app): Stripe answers 403 to the platform key, and so does CodeQR."""
    stripe_api.add_account("acct_1NeverInstalled0", "rk_test_never_installed")
    account = make_account(server)
    token = _token(server, account, register(server))
    answer = _bind(server, token, "acct_1NeverInstalled0")
    assert answer.status_code == 403, answer.text
    assert "Install the app" in answer.json()["error"]["message"]
    assert _integration(server, account.workspace_id) is None
    # The account's own key vouches even through the app's token.
    mine = _bind(server, token, "acct_1NeverInstalled0", key="rk_test_never_installed")
    assert mine.status_code == 200, mine.text
    assert ("GET", "/v1/account", "acct_1NeverInstalled0") in stripe_api.requests


def test_without_a_platform_key_the_app_cannot_bind(server: LiveServer) -> None:
    server.services.settings.stripe_app_secret_key = None
    account = make_account(server)
    answer = _bind(server, _token(server, account, register(server)), CONNECTED_ACCOUNT)
    assert answer.status_code == 403, answer.text
    assert "platform key" in answer.json()["error"]["message"]


def test_stripe_unreachable_binds_nothing(server: LiveServer) -> None:
    server.services.stripe.base = dead_base()
    account = make_account(server)
    answer = _bind(server, _token(server, account, register(server)), CONNECTED_ACCOUNT)
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "bad_gateway"
    assert _integration(server, account.workspace_id) is None


def test_the_apps_patch_keeps_the_self_hosted_secrets_and_key(
    server: LiveServer, settings: Settings
) -> None:
    """The workspace connected the account the self-hosted way (signing secrets, restricted
    key); the Stripe App then binds the same account: it adds its mode and wipes nothing."""
    account = make_account(server)
    tenant = _tenant_of(server, account)
    connected = run(
        settings,
        *("stripe", "connect", "--workspace", tenant.slug, "--account", ACCOUNT),
        *("--webhook-secret", "whsec_live_own", "--test-webhook-secret", SECRET),
        *("--api-key", STANDIN_KEY),
    )
    assert connected.returncode == 0, connected.stderr
    answer = _bind(server, _token(server, account, register(server)), ACCOUNT, mode="live")
    assert answer.status_code == 200, answer.text
    assert answer.json()["stripeModes"] == ["live", "test"]
    kept = _integration(server, account.workspace_id)
    assert kept is not None
    assert (kept.webhook_secret, kept.test_webhook_secret, kept.api_key) == (
        "whsec_live_own",
        SECRET,
        STANDIN_KEY,
    )
    # Its key-bound self-hosted endpoint still takes the workspace's own signed events.
    body = event_bytes("checkout.session.completed")
    delivered = server.client().post(
        f"/api/stripe/webhook/{account.workspace_id}",
        content=body,
        headers={"stripe-signature": sign(body, SECRET)},
    )
    assert delivered.status_code == 200, delivered.text
    # The same workspace updating its key through the API keeps the secrets too.
    again = _bind(server, tenant.token, ACCOUNT, mode="test", key=STANDIN_KEY)
    assert again.status_code == 200, again.text
    kept = _integration(server, account.workspace_id)
    assert kept is not None
    assert (kept.webhook_secret, kept.test_webhook_secret) == ("whsec_live_own", SECRET)


def test_the_stripe_app_binds_only_an_account_its_signed_in_user_signed_for(
    server: LiveServer,
) -> None:
    """An OAuth token proves who consented on CodeQR's side, not which Stripe account is
    theirs: any workspace's token could otherwise claim any account that installed the app.
    The app's UI signs ``{user_id, account_id}`` (``fetchStripeSignature``) with the app's
    signing secret; without that signature, or with one for another account, user or secret,
    or a stale one, nothing is bound (403)."""
    account = make_account(server)
    token = _token(server, account, register(server))
    other = "acct_1PgafTB7WZ01zgkW"
    refusals = {
        "no signature": _bind(server, token, CONNECTED_ACCOUNT, signature=None),
        "signed for another account": _bind(
            server, token, CONNECTED_ACCOUNT, signature=app_user_signature(other)
        ),
        "signed for another user": _bind(
            server,
            token,
            CONNECTED_ACCOUNT,
            signature=app_user_signature(CONNECTED_ACCOUNT, user_id="usr_1SomeoneElse000"),
        ),
        "signed an hour ago": _bind(
            server,
            token,
            CONNECTED_ACCOUNT,
            signature=sign(
                json.dumps(
                    {"user_id": DASHBOARD_USER, "account_id": CONNECTED_ACCOUNT},
                    separators=(",", ":"),
                ).encode(),
                APP_SIGNING_SECRET,
                at=int(time.time()) - 3600,
            ),
        ),
        "signed with another secret": _bind(
            server,
            token,
            CONNECTED_ACCOUNT,
            signature=app_user_signature(CONNECTED_ACCOUNT, secret="absec_not_the_apps"),
        ),
    }
    for why, answer in refusals.items():
        assert answer.status_code == 403, (why, answer.text)
        assert answer.json()["error"]["code"] == "forbidden", why
    assert _integration(server, account.workspace_id) is None
    signed = _bind(server, token, CONNECTED_ACCOUNT)
    assert signed.status_code == 200, signed.text
    server.services.settings.stripe_app_signing_secret = None
    again = _bind(server, token, CONNECTED_ACCOUNT)
    assert again.status_code == 403
    assert "CODEQR_STRIPE_APP_SIGNING_SECRET" in again.json()["error"]["message"]

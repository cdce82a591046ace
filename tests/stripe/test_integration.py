"""Binding a Stripe account (SPEC §5.1): the Stripe App's OAuth token or a secret key calls
``PATCH /api/stripe/integration``; one workspace per account; business plan or higher;
``account.application.deauthorized`` unbinds."""

from __future__ import annotations

import json
import time

import httpx

from tests.auth.helpers import Account, make_account, signed_in_client
from tests.conftest import LiveServer
from tests.conversion.helpers import sales
from tests.factories import Tenant, make_key, make_tenant
from tests.oauth.helpers import Client, decide, exchange, get_code, pkce, query_of, register
from tests.stripe.helpers import CONNECTED_ACCOUNT, event_bytes, inbox, sign, tracked_link
from tests.stripe.helpers import click_with_id as name_click

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
    server: LiveServer, token: str, account: str | None, mode: str = "test"
) -> httpx.Response:
    return server.client(token).patch(
        "/api/stripe/integration", json={"stripeAccountId": account, "stripeMode": mode}
    )


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


def test_tokens_and_keys_that_may_not_bind(server: LiveServer) -> None:
    app = register(server)
    account = make_account(server)
    narrow = _token(server, account, app, scope="user.read workspace.read")
    assert _bind(server, narrow, CONNECTED_ACCOUNT).status_code == 403
    assert _bind(server, "cq_at_not-a-real-token", CONNECTED_ACCOUNT).status_code == 401
    tenant = make_tenant(server)
    publishable = make_key(server, tenant, publishable=True)
    assert _bind(server, publishable, CONNECTED_ACCOUNT).status_code == 403
    # A workspace's own secret key may bind too (the self-hosted way, from scripts).
    answer = _bind(server, tenant.token, CONNECTED_ACCOUNT, mode="live")
    assert answer.status_code == 200, answer.text
    assert answer.json()["stripeModes"] == ["live"]
    bad = server.client(tenant.token).patch(
        "/api/stripe/integration", json={"stripeAccountId": "not-an-account"}
    )
    assert bad.status_code == 400
    assert "acct_" in bad.json()["error"]["message"]


def test_deauthorizing_the_app_unbinds_the_account(server: LiveServer) -> None:
    tenant = make_tenant(server)
    assert _bind(server, tenant.token, CONNECTED_ACCOUNT).status_code == 200
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

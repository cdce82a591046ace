"""Settings: keys shown once and revocable, hostnames, currency, Stripe, roles and CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import ApiKey, Workspace
from tests.auth.helpers import sign_in
from tests.conftest import LiveServer
from tests.stripe.standin import StripeStandIn

from .helpers import dash, field_error, seed, viewer_of


def _token(html: str) -> str:
    found = re.search(r'<code class="token" id="new-token">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


def test_a_new_key_is_shown_once_and_works(server: LiveServer) -> None:
    owner = dash(server)
    posted = owner.post(
        "/settings/keys", {"name": "Server", "kind": "secret"}, owner.csrf("/settings")
    )
    # POST/redirect/GET: the browser ends on a page it can reload without a second key.
    assert posted.status_code == 303
    assert posted.headers["location"] == f"{owner.base}/settings/keys#created-key"
    created = owner.client.get(posted.headers["location"])
    assert created.status_code == 200
    token = _token(created.text)
    assert token.startswith("cq_")
    assert not token.startswith("cq_pk_")
    assert "shown this once" in created.text
    assert server.client(token).get("/api/links").status_code == 200
    again = owner.get("/settings/keys")  # a reload
    assert token not in again.text
    assert "Server" in again.text
    assert "Never" in again.text  # last used: the list is read before the use is recorded


def test_publishable_keys_and_revoking(server: LiveServer) -> None:
    owner = dash(server)
    made = owner.post(
        "/settings/keys", {"name": "Site", "kind": "publishable"}, owner.csrf("/settings")
    )
    assert _token(owner.client.get(made.headers["location"]).text).startswith("cq_pk_")
    with server.services.db.transaction() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.name == "Site")).one()
        key_id = key.id
    revoked = owner.post(f"/settings/keys/{key_id}/revoke", {}, owner.csrf("/settings"))
    assert revoked.status_code == 303
    page = owner.client.get(revoked.headers["location"])
    assert "Key revoked" in page.text
    assert f'data-key-id="{key_id}"' not in page.text


def test_a_new_key_is_shown_only_to_the_session_that_made_it(server: LiveServer) -> None:
    owner = dash(server)
    posted = owner.post(
        "/settings/keys", {"name": "Server", "kind": "secret"}, owner.csrf("/settings")
    )
    cookie = posted.cookies["cq_new_key"]
    owner.client.cookies.delete("cq_new_key")
    path, domain = f"{owner.base}/settings", "127.0.0.1"  # as the server set it
    # Another signed-in browser handed the cookie: not its session, no token.
    other = dash(server)
    other.client.cookies.set("cq_new_key", cookie, domain=domain, path=f"{other.base}/settings")
    assert 'id="new-token"' not in other.get("/settings/keys").text
    # A tampered cookie: no token either.
    owner.client.cookies.set("cq_new_key", cookie[:-3] + "xyz", domain=domain, path=path)
    assert 'id="new-token"' not in owner.get("/settings/keys").text
    # The cookie as given, in the browser that made the key: shown once.
    owner.client.cookies.set("cq_new_key", cookie, domain=domain, path=path)
    assert 'id="new-token"' in owner.get("/settings/keys").text
    assert 'id="new-token"' not in owner.get("/settings/keys").text


def test_a_key_needs_a_name(server: LiveServer) -> None:
    owner = dash(server)
    refused = owner.post("/settings/keys", {"name": " ", "kind": "secret"}, owner.csrf("/settings"))
    assert refused.status_code == 400
    assert "Give the key a name" in field_error(refused.text, "key_name")


def test_hostnames_and_currency(server: LiveServer) -> None:
    owner = dash(server)
    token = owner.csrf("/settings")
    saved = owner.post("/settings/hostnames", {"hostnames": "Example.com\n*.shop.test\n"}, token)
    assert saved.status_code == 303
    bad = owner.post("/settings/hostnames", {"hostnames": "https://example.com/x"}, token)
    assert bad.status_code == 400
    assert "is not a hostname" in field_error(bad.text, "hostnames")
    assert "https://example.com/x" in bad.text  # what was typed stays in the box
    seed(server, owner.account)
    currency = owner.post("/settings/currency", {"currency": "eur"}, token)
    assert currency.status_code == 303
    wrong = owner.post("/settings/currency", {"currency": "dollars"}, token)
    assert wrong.status_code == 400
    assert field_error(wrong.text, "currency")
    with server.services.db.transaction() as session:
        workspace = session.get(Workspace, owner.account.workspace_id)
        assert workspace is not None
        assert workspace.allowed_hostnames == ["example.com", "*.shop.test"]
        assert workspace.currency == "EUR"
    assert "€" in owner.get("/customers").text  # the sale was converted into EUR


@pytest.fixture
def stripe_api(server: LiveServer) -> Iterator[StripeStandIn]:
    """Stripe's API for this server: acct_123 with its restricted key, and another account."""
    standin = StripeStandIn()
    standin.add_account("acct_123", "rk_live_x")
    standin.add_account("acct_1SomeoneElse00", "rk_live_someone_else")
    standin.start()
    server.services.stripe.base = standin.base
    yield standin
    standin.stop()


def test_connecting_and_disconnecting_stripe(server: LiveServer, stripe_api: StripeStandIn) -> None:
    owner = dash(server)
    page = owner.get("/settings/stripe")
    webhook = f"/api/stripe/webhook/{owner.account.workspace_id}"
    assert webhook in page.text
    token = owner.csrf("/settings")
    missing = owner.post("/settings/stripe", {"account_id": "acct_123"}, token)
    assert missing.status_code == 400
    assert "signing secret" in field_error(missing.text, "webhook_secret")
    wrong = owner.post(
        "/settings/stripe", {"account_id": "acct_123", "webhook_secret": "sk_nope"}, token
    )
    assert "whsec_" in field_error(wrong.text, "webhook_secret")
    bad_account = owner.post(
        "/settings/stripe", {"account_id": "123", "webhook_secret": "whsec_a"}, token
    )
    assert "acct_" in field_error(bad_account.text, "account_id")
    # Stripe must vouch for the account: a key of it, not none, not another account's.
    keyless = owner.post(
        "/settings/stripe", {"account_id": "acct_123", "webhook_secret": "whsec_a"}, token
    )
    assert "restricted key" in field_error(keyless.text, "api_key")
    theirs = owner.post(
        "/settings/stripe",
        {"account_id": "acct_123", "webhook_secret": "whsec_a", "api_key": "rk_live_someone_else"},
        token,
    )
    assert theirs.status_code == 400
    assert "belongs to Stripe account acct_1SomeoneElse00" in field_error(theirs.text, "api_key")
    not_a_key = owner.post(
        "/settings/stripe",
        {"account_id": "acct_123", "webhook_secret": "whsec_a", "api_key": "pk_live_x"},
        token,
    )
    assert "rk_" in field_error(not_a_key.text, "api_key")
    with server.services.db.transaction() as session:
        assert session.get(StripeIntegration, owner.account.workspace_id) is None
    connected = owner.post(
        "/settings/stripe",
        {"account_id": "acct_123", "webhook_secret": "whsec_live", "api_key": "rk_live_x"},
        token,
    )
    assert connected.status_code == 303
    shown = owner.client.get(connected.headers["location"]).text
    assert "acct_123" in shown
    assert "Connected" in shown
    assert "whsec_live" not in shown
    assert "rk_live_x" not in shown
    # Updating the same account: the test secret is added, the live one and the key kept.
    updated = owner.post(
        "/settings/stripe", {"account_id": "acct_123", "test_webhook_secret": "whsec_t"}, token
    )
    assert updated.status_code == 303, updated.text
    with server.services.db.transaction() as session:
        row = session.get(StripeIntegration, owner.account.workspace_id)
        assert row is not None
        assert (row.webhook_secret, row.test_webhook_secret, row.api_key) == (
            "whsec_live",
            "whsec_t",
            "rk_live_x",
        )
        assert (row.live, row.test) == (True, True)
    other = dash(server)  # the same owner's second workspace: Stripe vouches, still 409
    clash = other.post(
        "/settings/stripe",
        {"account_id": "acct_123", "test_webhook_secret": "whsec_t", "api_key": "rk_live_x"},
        other.csrf("/settings"),
    )
    assert clash.status_code == 400
    assert "already connected to another workspace" in field_error(clash.text, "account_id")
    off = owner.post("/settings/stripe/disconnect", {}, token)
    assert off.status_code == 303
    with server.services.db.transaction() as session:
        assert session.get(StripeIntegration, owner.account.workspace_id) is None


def test_stripe_needs_the_business_plan(server: LiveServer) -> None:
    owner = dash(server, plan="pro")
    assert "The Stripe integration needs the Business plan" in owner.get("/settings/stripe").text


def test_a_viewer_sees_settings_but_changes_nothing(server: LiveServer) -> None:
    owner = dash(server)
    viewer = viewer_of(server, owner.account)
    for tab in ("", "/keys", "/domains", "/members", "/stripe", "/usage"):
        page = viewer.get("/settings" + tab)
        assert page.status_code == 200, tab
        assert "Create key" not in page.text
        assert "Connect Stripe" not in page.text
        assert "Create invitation link" not in page.text
        assert "Save workspace" not in page.text
    token = viewer.csrf("/settings")
    for path, data in [
        ("/settings/keys", {"name": "Mine", "kind": "secret"}),
        ("/settings/hostnames", {"hostnames": "evil.example"}),
        ("/settings/currency", {"currency": "JPY"}),
        ("/settings/stripe", {"account_id": "acct_9", "webhook_secret": "whsec_x"}),
        ("/settings/stripe/disconnect", {}),
    ]:
        assert viewer.post(path, data, token).status_code == 403, path


def test_settings_forms_need_the_sessions_token(server: LiveServer) -> None:
    owner = dash(server)
    for path in ("/settings/keys", "/settings/hostnames", "/settings/currency"):
        answer = owner.post(path, {"name": "x", "hostnames": "a.example", "currency": "EUR"}, "x")
        assert answer.status_code == 403, path


def test_another_workspaces_key_cannot_be_revoked(server: LiveServer) -> None:
    mine, theirs = dash(server), dash(server)
    theirs.post("/settings/keys", {"name": "Theirs", "kind": "secret"}, theirs.csrf("/settings"))
    with server.services.db.transaction() as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == "Theirs")).one()
    answer = mine.post(f"/settings/keys/{key_id}/revoke", {}, mine.csrf("/settings"))
    assert answer.status_code == 404
    with server.services.db.transaction() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        assert key.revoked_at is None


def test_client_sales_are_off_until_allowed_with_a_largest_sale(server: LiveServer) -> None:
    owner = dash(server)
    token = owner.csrf("/settings")
    page = owner.get("/settings")
    assert 'id="client-sales"' in page.text
    assert 'name="enabled" value="on" checked' not in page.text
    missing = owner.post("/settings/client-sales", {"enabled": "on"}, token)
    assert missing.status_code == 400
    assert "Required to turn client sales on" in field_error(missing.text, "client_sale_max")
    cents = owner.post(
        "/settings/client-sales", {"enabled": "on", "client_sale_max": "1.005"}, token
    )
    assert cents.status_code == 400
    assert "at most 2 decimals" in field_error(cents.text, "client_sale_max")
    saved = owner.post(
        "/settings/client-sales", {"enabled": "on", "client_sale_max": "1,500.50"}, token
    )
    assert saved.status_code == 303
    shown = owner.client.get(saved.headers["location"])
    assert "Client sales setting saved" in shown.text
    assert 'value="1500.50"' in shown.text
    with server.services.db.transaction() as session:
        workspace = session.get(Workspace, owner.account.workspace_id)
        assert workspace is not None
        assert (workspace.client_sales_enabled, workspace.client_sale_max) == (True, 150_050)
    turned_off = owner.post("/settings/client-sales", {"client_sale_max": "1500.50"}, token)
    assert turned_off.status_code == 303
    viewer = viewer_of(server, owner.account)
    refused = viewer.post("/settings/client-sales", {"enabled": "on"}, viewer.csrf("/settings"))
    assert refused.status_code == 403
    with server.services.db.transaction() as session:
        workspace = session.get(Workspace, owner.account.workspace_id)
        assert workspace is not None
        assert (workspace.client_sales_enabled, workspace.client_sale_max) == (False, 150_050)


def test_changing_the_password_signs_out_the_other_sessions(server: LiveServer) -> None:
    owner = dash(server)
    elsewhere = server.client()
    sign_in(elsewhere, owner.account)
    assert elsewhere.get(f"{owner.base}/links").status_code == 200
    wrong = owner.post(
        "/settings/password",
        {"current_password": "not it at all", "new_password": "brand new pw",
         "confirm_password": "brand new pw"},
        owner.csrf("/settings"),
    )  # fmt: skip
    assert wrong.status_code == 400
    assert field_error(wrong.text, "current_password") == "That is not your current password."
    differ = owner.post(
        "/settings/password",
        {"current_password": owner.account.password, "new_password": "brand new pw",
         "confirm_password": "brand new pq"},
        owner.csrf("/settings"),
    )  # fmt: skip
    assert field_error(differ.text, "confirm_password").startswith("The two new passwords differ")
    short = owner.post(
        "/settings/password",
        {"current_password": owner.account.password, "new_password": "short",
         "confirm_password": "short"},
        owner.csrf("/settings"),
    )  # fmt: skip
    assert field_error(short.text, "new_password") == "Must be at least 8 characters"
    assert elsewhere.get(f"{owner.base}/links").status_code == 200  # nothing changed yet
    done = owner.post(
        "/settings/password",
        {"current_password": owner.account.password, "new_password": "brand new pw",
         "confirm_password": "brand new pw"},
        owner.csrf("/settings"),
    )  # fmt: skip
    assert done.status_code == 303
    assert "Password changed" in owner.client.get(done.headers["location"]).text
    assert owner.get("/links").status_code == 200  # this browser stays signed in
    gone = elsewhere.get(f"{owner.base}/links")
    assert gone.status_code == 303  # the other one is sent to sign in
    fresh = server.client()
    sign_in(fresh, replace(owner.account, password="brand new pw"))
    assert fresh.get(f"{owner.base}/links").status_code == 200


def test_a_viewer_changes_their_own_password(server: LiveServer) -> None:
    owner = dash(server)
    viewer = viewer_of(server, owner.account)
    assert 'action="' + owner.base + '/settings/password"' in viewer.get("/settings").text
    done = viewer.post(
        "/settings/password",
        {"current_password": viewer.account.password, "new_password": "viewer's own",
         "confirm_password": "viewer's own"},
        viewer.csrf("/settings"),
    )  # fmt: skip
    assert done.status_code == 303
    forged = viewer.client.post(
        f"{owner.base}/settings/password",
        data={"csrf_token": "forged", "current_password": "viewer's own",
              "new_password": "x" * 10, "confirm_password": "x" * 10},
    )  # fmt: skip
    assert forged.status_code == 403

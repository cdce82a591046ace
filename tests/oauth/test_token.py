"""``POST /api/oauth/token``: code exchange with PKCE, refresh rotation, client auth."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from codeqr.kit.clock import utcnow
from codeqr.oauth.models import OAuthApp, OAuthCode, OAuthToken
from tests.auth.helpers import Account, make_account, signed_in_client
from tests.conftest import LiveServer

from .helpers import Client, exchange, get_code, pkce, refresh, register, userinfo


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return register(server)


@pytest.fixture
def browser(server: LiveServer, account: Account) -> httpx.Client:
    return signed_in_client(server, account)


@pytest.fixture
def api(server: LiveServer) -> httpx.Client:
    return server.client()


def assert_oauth_error(answer: httpx.Response, error: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"]
    assert answer.headers["cache-control"] == "no-store"


def tokens_for(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account
) -> dict[str, Any]:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    answer = exchange(server.client(), client, code, challenge.verifier)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_code_and_its_verifier_give_a_token_pair(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    answer = exchange(api, client, code, challenge.verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "user.read workspace.read stripe.write"
    assert body["access_token"].startswith("cq_at_")
    assert body["refresh_token"].startswith("cq_rt_")
    assert len(body["access_token"]) > 40
    assert userinfo(api, body["access_token"]).status_code == 200


def test_only_hashes_are_stored(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    body = exchange(api, client, code, challenge.verifier).json()
    secrets = [code, body["access_token"], body["refresh_token"], client.client_secret]
    with server.services.db.engine.connect() as conn:
        dump = " ".join(
            str(row)
            for table in ("oauth_apps", "oauth_codes", "oauth_tokens")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )
    for secret in secrets:
        assert secret not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_a_wrong_verifier_is_refused_and_the_right_one_still_works(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    assert_oauth_error(exchange(api, client, code, pkce().verifier), "invalid_grant")
    assert_oauth_error(exchange(api, client, code, None), "invalid_grant")
    assert_oauth_error(exchange(api, client, code, "short"), "invalid_grant")
    # The challenge itself is not the verifier (what "plain" would allow).
    assert_oauth_error(exchange(api, client, code, challenge.challenge), "invalid_grant")
    assert exchange(api, client, code, challenge.verifier).status_code == 200


def test_the_redirect_uri_must_be_the_authorize_requests(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    wrong = exchange(api, client, code, challenge.verifier, redirect_uri=client.redirect_uri + "x")
    assert_oauth_error(wrong, "invalid_grant")
    missing = exchange(api, client, code, challenge.verifier, redirect_uri=None)
    assert_oauth_error(missing, "invalid_grant")


def test_a_reused_code_is_refused_and_what_it_gave_is_revoked(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    first = exchange(api, client, code, challenge.verifier).json()
    assert_oauth_error(exchange(api, client, code, challenge.verifier), "invalid_grant")
    assert userinfo(api, first["access_token"]).status_code == 401
    assert_oauth_error(refresh(api, client, first["refresh_token"]), "invalid_grant")


def test_an_expired_code_is_refused(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    with server.services.db.transaction() as session:
        [row] = session.scalars(select(OAuthCode))
        lifetime = row.expires_at.replace(tzinfo=None) - row.created_at.replace(tzinfo=None)
        assert lifetime == timedelta(minutes=10)
        row.expires_at = utcnow() - timedelta(seconds=1)
    answer = exchange(api, client, code, challenge.verifier)
    assert_oauth_error(answer, "invalid_grant")
    assert "expired" in answer.json()["error_description"]


def test_a_code_of_another_client_is_refused(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    other = register(server, name="Other app")
    other_as_first = Client(other.id, other.client_id, other.client_secret, client.redirect_uri)
    assert_oauth_error(exchange(api, other_as_first, code, challenge.verifier), "invalid_grant")
    assert exchange(api, client, code, challenge.verifier).status_code == 200


def test_unknown_codes_are_refused(client: Client, api: httpx.Client) -> None:
    assert_oauth_error(exchange(api, client, "nope", pkce().verifier), "invalid_grant")
    assert_oauth_error(exchange(api, client, "", pkce().verifier), "invalid_request")


@pytest.mark.parametrize(
    "change",
    [
        {"client_secret": "cq_app_secret_wrong"},
        {"client_id": "cq_app_unknown"},
        {"client_id": None},
    ],
)
def test_a_wrong_client_is_refused_with_401(
    server: LiveServer,
    browser: httpx.Client,
    client: Client,
    account: Account,
    api: httpx.Client,
    change: dict[str, Any],
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    answer = exchange(api, client, code, challenge.verifier, **change)
    assert_oauth_error(answer, "invalid_client", 401)
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert exchange(api, client, code, challenge.verifier).status_code == 200


def test_http_basic_client_authentication(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": challenge.verifier,
    }
    wrong = api.post("/api/oauth/token", data=form, auth=(client.client_id, "wrong"))
    assert_oauth_error(wrong, "invalid_client", 401)
    garbled = api.post("/api/oauth/token", data=form, headers={"Authorization": "Basic !!!"})
    assert_oauth_error(garbled, "invalid_client", 401)
    both = api.post(
        "/api/oauth/token",
        data=form | {"client_secret": client.client_secret},
        auth=(client.client_id, client.client_secret),
    )
    assert_oauth_error(both, "invalid_request")
    right = api.post("/api/oauth/token", data=form, auth=(client.client_id, client.client_secret))
    assert right.status_code == 200, right.text


def test_a_pkce_client_may_be_public_and_omit_its_secret(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    challenge = pkce()
    code = get_code(browser, client, challenge, account)
    answer = exchange(api, client, code, challenge.verifier, client_secret=None)
    assert answer.status_code == 200, answer.text
    again = refresh(api, client, answer.json()["refresh_token"], client_secret=None)
    assert again.status_code == 200, again.text


def test_a_confidential_client_without_pkce_must_send_its_secret(
    server: LiveServer, browser: httpx.Client, account: Account, api: httpx.Client
) -> None:
    client = register(server, pkce_required=False)
    code = get_code(browser, client, None, account)
    assert_oauth_error(exchange(api, client, code, None, client_secret=None), "invalid_client", 401)
    assert_oauth_error(exchange(api, client, code, pkce().verifier), "invalid_grant")
    answer = exchange(api, client, code, None)
    assert answer.status_code == 200, answer.text


def test_refresh_rotates_and_the_old_refresh_token_stops_working(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    first = tokens_for(server, browser, client, account)
    second = refresh(api, client, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.headers["cache-control"] == "no-store"
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert new["access_token"] != first["access_token"]
    assert new["scope"] == first["scope"]
    assert userinfo(api, new["access_token"]).status_code == 200
    third = refresh(api, client, new["refresh_token"])
    assert third.status_code == 200
    assert_oauth_error(refresh(api, client, first["refresh_token"]), "invalid_grant")


def test_replaying_a_rotated_refresh_token_revokes_the_family(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    """A thief and the client both hold a refresh token: whichever comes second ends both."""
    first = tokens_for(server, browser, client, account)
    rotated = refresh(api, client, first["refresh_token"]).json()
    assert_oauth_error(refresh(api, client, first["refresh_token"]), "invalid_grant")
    assert_oauth_error(refresh(api, client, rotated["refresh_token"]), "invalid_grant")
    assert userinfo(api, rotated["access_token"]).status_code == 401
    # Another grant of the same user and app is not touched.
    other = tokens_for(server, browser, client, account)
    assert userinfo(api, other["access_token"]).status_code == 200


def test_refresh_can_narrow_but_not_widen_scopes(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    first = tokens_for(server, browser, client, account)
    narrow = refresh(api, client, first["refresh_token"], scope="user.read")
    assert narrow.status_code == 200
    assert narrow.json()["scope"] == "user.read"
    wide = refresh(api, client, narrow.json()["refresh_token"], scope="user.read stripe.write")
    assert_oauth_error(wide, "invalid_scope")
    unknown = refresh(api, client, narrow.json()["refresh_token"], scope="admin")
    assert_oauth_error(unknown, "invalid_scope")
    # Refused requests did not use the refresh token up.
    assert refresh(api, client, narrow.json()["refresh_token"]).status_code == 200


def test_refresh_of_another_client_or_expired_is_refused(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    first = tokens_for(server, browser, client, account)
    other = register(server, name="Other app")
    assert_oauth_error(refresh(api, other, first["refresh_token"]), "invalid_grant")
    assert_oauth_error(refresh(api, client, "cq_rt_unknown"), "invalid_grant")
    assert_oauth_error(refresh(api, client, ""), "invalid_request")
    with server.services.db.transaction() as session:
        session.execute(
            update(OAuthToken).values(refresh_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_oauth_error(refresh(api, client, first["refresh_token"]), "invalid_grant")


def test_a_member_who_left_cannot_refresh(
    server: LiveServer, browser: httpx.Client, client: Client, account: Account, api: httpx.Client
) -> None:
    from codeqr.workspace.models import Membership

    first = tokens_for(server, browser, client, account)
    with server.services.db.transaction() as session:
        session.delete(session.get(Membership, (account.user_id, account.workspace_id)))
    assert_oauth_error(refresh(api, client, first["refresh_token"]), "invalid_grant")
    assert userinfo(api, first["access_token"]).status_code == 401


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [(None, "invalid_request"), ("password", "unsupported_grant_type")],
)
def test_unsupported_grants(
    client: Client, api: httpx.Client, grant_type: str | None, error: str
) -> None:
    data = {"client_id": client.client_id, "client_secret": client.client_secret}
    if grant_type:
        data["grant_type"] = grant_type
    assert_oauth_error(api.post("/api/oauth/token", data=data), error)


def test_a_json_body_is_not_a_token_request(client: Client, api: httpx.Client) -> None:
    answer = api.post(
        "/api/oauth/token",
        json={"grant_type": "refresh_token", "client_id": client.client_id},
    )
    assert_oauth_error(answer, "invalid_client", 401)


def test_browsers_may_call_the_token_endpoint_without_credentials(api: httpx.Client) -> None:
    preflight = api.options(
        "/api/oauth/token",
        headers={"Origin": "https://stripe-app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    answer = api.post("/api/oauth/token", data={"grant_type": "refresh_token"})
    assert answer.headers["access-control-allow-origin"] == "*"


def test_client_secrets_are_checked_by_hash(server: LiveServer, client: Client) -> None:
    with server.services.db.transaction() as session:
        app = session.scalar(select(OAuthApp).where(OAuthApp.client_id == client.client_id))
        assert app is not None
        assert app.client_secret_hash == hashlib.sha256(client.client_secret.encode()).hexdigest()

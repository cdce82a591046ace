"""``get_oauth_grant`` and ``require_scope`` on a route of their own, and ``/userinfo``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends
from sqlalchemy import update

from codeqr.app import create_app
from codeqr.kit.clock import utcnow
from codeqr.oauth.deps import OAuthGrant, OAuthGrantDep, require_scope
from codeqr.oauth.models import OAuthToken
from codeqr.oauth.scopes import STRIPE_WRITE
from codeqr.settings import Settings
from tests.auth.helpers import Account, make_account, signed_in_client
from tests.conftest import LiveServer, free_port
from tests.factories import make_tenant

from .helpers import (
    Client,
    decide,
    exchange,
    get_code,
    pkce,
    query_of,
    refresh,
    register,
    userinfo,
)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app plus two routes that use the dependencies as the Stripe routes will."""
    port = free_port()
    app = create_app(settings, default_domain=f"127.0.0.1:{port}")

    @app.api.get("/api/grant-test")
    def grant(grant: OAuthGrantDep) -> dict[str, Any]:
        return {**grant.__dict__, "scopes": list(grant.scopes)}

    @app.api.patch("/api/stripe-scope-test")
    def scoped(grant: Annotated[OAuthGrant, Depends(require_scope(STRIPE_WRITE))]) -> str:
        return grant.workspace_id

    live = LiveServer(app, port)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return register(server)


def grant_tokens(server: LiveServer, client: Client, account: Account) -> dict[str, Any]:
    challenge = pkce()
    code = get_code(signed_in_client(server, account), client, challenge, account)
    answer = exchange(server.client(), client, code, challenge.verifier)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_userinfo_names_the_user_and_the_workspace(
    server: LiveServer, client: Client, account: Account
) -> None:
    tokens = grant_tokens(server, client, account)
    answer = userinfo(server.client(), tokens["access_token"])
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "user": {"id": account.user_id, "name": "Ada", "email": account.email},
        "workspace": {
            "id": account.workspace_id,
            "slug": account.slug,
            "name": f"Shop {account.slug.removeprefix('shop-')}",
            "plan": "business",
        },
    }


@pytest.mark.parametrize(
    ("scope", "sees_user", "sees_workspace"),
    [
        ("stripe.write", False, False),
        ("user.read", True, False),
        ("workspace.read", False, True),
        ("user.read stripe.write", True, False),
    ],
)
def test_userinfo_answers_only_what_the_scopes_allow(
    server: LiveServer,
    client: Client,
    account: Account,
    scope: str,
    sees_user: bool,
    sees_workspace: bool,
) -> None:
    """A token for the Stripe App alone (stripe.write) learns neither the user's email nor
    the workspace; user.read and workspace.read each open their own half."""
    browser = signed_in_client(server, account)
    challenge = pkce()
    answer = decide(browser, client, challenge, workspace_id=account.workspace_id, scope=scope)
    code = query_of(answer.headers["location"])["code"]
    tokens = exchange(server.client(), client, code, challenge.verifier).json()
    assert tokens["scope"] == scope
    who = userinfo(server.client(), tokens["access_token"])
    assert who.status_code == 200, who.text
    body = who.json()
    assert set(body) == {"user", "workspace"}
    if sees_user:
        assert body["user"] == {"id": account.user_id, "name": "Ada", "email": account.email}
    else:
        assert body["user"] is None
        assert account.email not in who.text
    if sees_workspace:
        assert body["workspace"]["id"] == account.workspace_id
    else:
        assert body["workspace"] is None
        assert account.workspace_id not in who.text
        assert account.slug not in who.text


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer cq_at_unknown", "Basic abc", "Bearer " + "x" * 500],
)
def test_userinfo_refuses_missing_or_unknown_tokens(server: LiveServer, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    assert_refused(server.client().get("/api/oauth/userinfo", headers=headers))


def test_an_api_key_is_not_an_oauth_token(server: LiveServer) -> None:
    tenant = make_tenant(server)
    assert_refused(userinfo(server.client(), tenant.token))


def test_an_expired_access_token_is_refused(
    server: LiveServer, client: Client, account: Account
) -> None:
    tokens = grant_tokens(server, client, account)
    with server.services.db.transaction() as session:
        session.execute(
            update(OAuthToken).values(access_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_refused(userinfo(server.client(), tokens["access_token"]))
    assert_refused(server.client().get("/api/grant-test", headers=bearer(tokens["access_token"])))
    # The refresh token outlives it and gives a working access token.
    fresh = refresh(server.client(), client, tokens["refresh_token"]).json()
    assert userinfo(server.client(), fresh["access_token"]).status_code == 200


def test_a_revoked_access_token_is_refused(
    server: LiveServer, client: Client, account: Account
) -> None:
    tokens = grant_tokens(server, client, account)
    with server.services.db.transaction() as session:
        session.execute(update(OAuthToken).values(revoked_at=utcnow()))
    assert_refused(server.client().get("/api/grant-test", headers=bearer(tokens["access_token"])))


def test_the_grant_dependency_resolves_a_token(
    server: LiveServer, client: Client, account: Account
) -> None:
    tokens = grant_tokens(server, client, account)
    answer = server.client().get("/api/grant-test", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 200
    assert answer.json() == {
        "user_id": account.user_id,
        "workspace_id": account.workspace_id,
        "app_id": client.id,
        "scopes": ["user.read", "workspace.read", "stripe.write"],
    }


def test_require_scope_refuses_a_grant_without_it(
    server: LiveServer, client: Client, account: Account
) -> None:
    tokens = grant_tokens(server, client, account)
    api = server.client()
    allowed = api.patch("/api/stripe-scope-test", headers=bearer(tokens["access_token"]))
    assert allowed.status_code == 200
    assert allowed.json() == account.workspace_id
    narrow = refresh(api, client, tokens["refresh_token"], scope="user.read").json()
    refused = api.patch("/api/stripe-scope-test", headers=bearer(narrow["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "stripe.write" in refused.json()["error"]["message"]


def test_oauth_grant_is_a_frozen_value() -> None:
    grant = OAuthGrant(user_id="u", workspace_id="w", app_id="a", scopes=("user.read",))
    assert grant.has("user.read")
    assert not grant.has("stripe.write")
    with pytest.raises(AttributeError):
        grant.user_id = "other"  # type: ignore[misc]


def test_an_access_token_gets_its_workspace_plans_api_rate(
    server: LiveServer, client: Client, account: Account
) -> None:
    """A token is a credential like a key: its calls count against the plan's rate per
    minute (429 in the envelope, with the X-RateLimit headers), each token on its own."""
    from codeqr.workspace.models import Plan

    with server.services.db.transaction() as session:
        session.execute(update(Plan).where(Plan.name == "business").values(api_rate_per_minute=5))
    tokens = grant_tokens(server, client, account)
    api = server.client()
    answers = [userinfo(api, tokens["access_token"]) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:2]] == ["4", "3"]
    assert answers[5].json()["error"]["code"] == "rate_limit_exceeded"
    assert answers[5].headers["x-ratelimit-limit"] == "5"
    assert int(answers[5].headers["retry-after"]) >= 1
    # The same count on every route the token reaches.
    assert api.get("/api/grant-test", headers=bearer(tokens["access_token"])).status_code == 429
    other = grant_tokens(server, client, account)
    assert userinfo(api, other["access_token"]).status_code == 200

"""``/oauth/authorize``: who may be redirected to, what errors go back, the consent form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from codeqr.oauth.models import OAuthCode
from codeqr.workspace import service as ws
from codeqr.workspace.models import Membership, Role
from tests.auth.helpers import Account, csrf_of, make_account, sign_in, signed_in_client
from tests.conftest import LiveServer

from .helpers import (
    REDIRECT_URI,
    Client,
    authorize_params,
    consent,
    decide,
    pkce,
    query_of,
    register,
)


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return register(server, redirect_uris=(REDIRECT_URI, "http://127.0.0.1:8765/cb?x=1"))


def codes(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(OAuthCode.id))) or 0)


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "cq_app_unknown"},
        {"client_id": ""},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/"},
        {"redirect_uri": REDIRECT_URI + "?extra=1"},
        {"redirect_uri": REDIRECT_URI.upper()},
        {"redirect_uri": ""},
    ],
)
def test_an_untrusted_client_or_redirect_uri_gets_an_error_page_never_a_redirect(
    server: LiveServer, account: Account, client: Client, change: dict[str, str]
) -> None:
    browser = signed_in_client(server, account)
    # Even with every other parameter wrong too: the client is checked first.
    params = authorize_params(client, None, response_type="token") | change
    answer = browser.get("/oauth/authorize", params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert "This link cannot be used" in answer.text
    assert "evil.example" not in answer.text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "user.read links.write"}, "invalid_scope"),
    ],
)
def test_other_errors_go_back_to_the_client_with_the_state(
    server: LiveServer, client: Client, change: dict[str, str], error: str
) -> None:
    """RFC 6749 §4.1.2.1; checked before sign-in, so a signed-out browser gets them too."""
    params = authorize_params(client, pkce()) | change
    answer = server.client().get("/oauth/authorize", params=params)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["state"] == "st-42"
    assert query["error_description"]
    assert "code" not in query


def test_a_redirect_uri_with_its_own_query_keeps_it(server: LiveServer, client: Client) -> None:
    own = "http://127.0.0.1:8765/cb?x=1"
    params = authorize_params(client, None, redirect_uri=own)
    answer = server.client().get("/oauth/authorize", params=params)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("http://127.0.0.1:8765/cb?x=1&")
    assert parse_qs(urlsplit(location).query)["error"] == ["invalid_request"]


def test_a_signed_out_browser_signs_in_then_comes_back(
    server: LiveServer, account: Account, client: Client
) -> None:
    browser = server.client()
    challenge = pkce()
    answer = browser.get("/oauth/authorize", params=authorize_params(client, challenge))
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/login"
    back = parse_qs(location.query)["next"][0]
    assert back.startswith("/oauth/authorize?")
    assert query_of(back) == authorize_params(client, challenge)
    signed = sign_in(browser, account, next_path=back)
    assert signed.headers["location"] == back
    page = browser.get(back)
    assert page.status_code == 200
    assert "Connect <strong>Stripe App</strong> to CodeQR" in page.text


def test_the_consent_page_names_the_app_and_lists_writable_workspaces(
    server: LiveServer, account: Account, client: Client
) -> None:
    stranger = make_account(server)
    with server.services.db.transaction() as session:
        user = session.get(ws.User, account.user_id)
        assert user is not None
        joined = ws.create_workspace(
            session, name="Joined as member", slug="joined-member", owner=user, plan="free"
        )
        session.get(Membership, (account.user_id, joined.id)).role = Role.member  # type: ignore[union-attr]
        session.add(
            Membership(
                user_id=account.user_id, workspace_id=stranger.workspace_id, role=Role.viewer
            )
        )
    browser = signed_in_client(server, account)
    page = consent(browser, client, pkce())
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert f'value="{account.workspace_id}"' in page.text
    assert f'value="{joined.id}"' in page.text
    assert stranger.workspace_id not in page.text  # a viewer cannot connect it
    assert "stripe-app.example" in page.text
    assert account.email in page.text
    assert "Connect a Stripe account to the workspace" in page.text
    assert 'value="allow"' in page.text
    assert 'value="deny"' in page.text


def test_the_consent_page_escapes_the_app_name(server: LiveServer, account: Account) -> None:
    client = register(server, name="<script>alert(1)</script>")
    page = consent(signed_in_client(server, account), client, pkce())
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_without_a_workspace_only_deny_is_offered(server: LiveServer, client: Client) -> None:
    account = make_account(server)
    with server.services.db.transaction() as session:
        session.delete(session.get(Membership, (account.user_id, account.workspace_id)))
    page = consent(signed_in_client(server, account), client, pkce())
    assert page.status_code == 200
    assert "nothing to connect" in page.text
    assert 'value="allow"' not in page.text


def test_authorize_sends_a_one_time_code_and_the_state_back(
    server: LiveServer, account: Account, client: Client
) -> None:
    answer = decide(
        signed_in_client(server, account), client, pkce(), workspace_id=account.workspace_id
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert set(query) == {"code", "state"}
    assert query["state"] == "st-42"
    assert len(query["code"]) >= 40
    assert codes(server) == 1


def test_deny_sends_access_denied_and_the_state_back(
    server: LiveServer, account: Account, client: Client
) -> None:
    answer = decide(
        signed_in_client(server, account),
        client,
        pkce(),
        workspace_id=account.workspace_id,
        decision="deny",
    )
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["error"] == "access_denied"
    assert query["state"] == "st-42"
    assert "code" not in query
    assert codes(server) == 0


def test_a_workspace_the_user_cannot_write_is_refused(
    server: LiveServer, account: Account, client: Client
) -> None:
    other = make_account(server)
    answer = decide(
        signed_in_client(server, account), client, pkce(), workspace_id=other.workspace_id
    )
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "access_denied"
    assert codes(server) == 0


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_the_decision_needs_the_sessions_csrf_token(
    server: LiveServer, account: Account, client: Client, token: str | None
) -> None:
    browser = signed_in_client(server, account)
    form = authorize_params(client, pkce()) | {
        "workspace_id": account.workspace_id,
        "decision": "allow",
    }
    if token is not None:
        form["csrf_token"] = token
    answer = browser.post("/oauth/authorize", data=form)
    assert answer.status_code == 403
    assert "location" not in answer.headers
    assert codes(server) == 0


def test_another_sessions_csrf_token_does_not_work(
    server: LiveServer, account: Account, client: Client
) -> None:
    other_page = consent(signed_in_client(server, make_account(server)), client, pkce())
    form = authorize_params(client, pkce()) | {
        "workspace_id": account.workspace_id,
        "decision": "allow",
        "csrf_token": csrf_of(other_page.text),
    }
    answer = signed_in_client(server, account).post("/oauth/authorize", data=form)
    assert answer.status_code == 403


def test_tampered_hidden_fields_are_checked_again(
    server: LiveServer, account: Account, client: Client
) -> None:
    browser = signed_in_client(server, account)
    evil = decide(
        browser,
        client,
        pkce(),
        workspace_id=account.workspace_id,
        redirect_uri=REDIRECT_URI,
    )
    assert evil.status_code == 302  # the untouched form works
    page = consent(browser, client, pkce())
    form = authorize_params(client, pkce()) | {
        "workspace_id": account.workspace_id,
        "decision": "allow",
        "csrf_token": csrf_of(page.text),
        "redirect_uri": "https://evil.example/steal",
    }
    answer = browser.post("/oauth/authorize", data=form)
    assert answer.status_code == 400
    assert "location" not in answer.headers

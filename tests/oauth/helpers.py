"""OAuth test helpers: registered clients, PKCE pairs, the consent form driven over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from codeqr.oauth import service
from tests.auth.helpers import Account, csrf_of
from tests.conftest import LiveServer

REDIRECT_URI = "https://stripe-app.example/callback"


@dataclass(frozen=True)
class Client:
    """A registered OAuth app as its developer knows it."""

    id: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def register(
    server: LiveServer,
    *,
    pkce_required: bool = True,
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
    name: str = "Stripe App",
) -> Client:
    """Register an app straight through the service."""
    with server.services.db.transaction() as session:
        created = service.register_app(
            session, name=name, redirect_uris=redirect_uris, pkce_required=pkce_required
        )
        return Client(
            created.app.id, created.app.client_id, created.client_secret, redirect_uris[0]
        )


def pkce() -> Pkce:
    """A fresh code verifier and its S256 challenge (RFC 7636 §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorize_params(client: Client, challenge: Pkce | None, **extra: str) -> dict[str, str]:
    """The query of an authorization request."""
    params = {
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "response_type": "code",
        "state": "st-42",
    }
    if challenge is not None:
        params |= {"code_challenge": challenge.challenge, "code_challenge_method": "S256"}
    return params | extra


def query_of(location: str) -> dict[str, str]:
    """The single-valued query parameters of a redirect."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def consent(
    browser: httpx.Client, client: Client, challenge: Pkce | None, **extra: str
) -> httpx.Response:
    """The consent page for a signed-in client."""
    return browser.get("/oauth/authorize", params=authorize_params(client, challenge, **extra))


def decide(
    browser: httpx.Client,
    client: Client,
    challenge: Pkce | None,
    *,
    workspace_id: str,
    decision: str = "allow",
    **extra: str,
) -> httpx.Response:
    """Post the consent form as the page would (its CSRF token included)."""
    page = consent(browser, client, challenge, **extra)
    assert page.status_code == 200, page.text
    form = authorize_params(client, challenge, **extra) | {
        "csrf_token": csrf_of(page.text),
        "workspace_id": workspace_id,
        "decision": decision,
    }
    return browser.post("/oauth/authorize", data=form)


def get_code(
    browser: httpx.Client, client: Client, challenge: Pkce | None, account: Account
) -> str:
    """Run the consent and return the authorization code."""
    answer = decide(browser, client, challenge, workspace_id=account.workspace_id)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(client.redirect_uri + "?")
    query = query_of(answer.headers["location"])
    assert query["state"] == "st-42"
    return query["code"]


def exchange(
    api: httpx.Client, client: Client, code: str, verifier: str | None, **extra: Any
) -> httpx.Response:
    """``POST /api/oauth/token`` for a code, authenticating with client_secret_post."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data |= extra
    return api.post("/api/oauth/token", data={k: v for k, v in data.items() if v is not None})


def refresh(api: httpx.Client, client: Client, refresh_token: str, **extra: Any) -> httpx.Response:
    """``POST /api/oauth/token`` with ``grant_type=refresh_token``."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    } | extra
    return api.post("/api/oauth/token", data={k: v for k, v in data.items() if v is not None})


def userinfo(api: httpx.Client, access_token: str) -> httpx.Response:
    return api.get("/api/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})

"""Accounts and a signed-in HTTP client for the sign-in and OAuth tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from codeqr.kit.ids import base62
from codeqr.workspace import service as ws
from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    """A user who owns one workspace."""

    user_id: str
    email: str
    password: str
    workspace_id: str
    slug: str


def make_account(server: LiveServer, plan: str = "business") -> Account:
    """A user with a password and a workspace they own."""
    suffix = base62(8).lower()
    with server.services.db.transaction() as session:
        user = ws.create_user(session, f"user-{suffix}@example.com", PASSWORD, name="Ada")
        workspace = ws.create_workspace(
            session, name=f"Shop {suffix}", slug=f"shop-{suffix}", owner=user, plan=plan
        )
        return Account(user.id, user.email, PASSWORD, workspace.id, workspace.slug)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF_RE.search(html)
    assert found, html
    return found.group(1)


def sign_in(client: httpx.Client, account: Account, next_path: str = "/") -> httpx.Response:
    """Sign in through the form, as a browser does; the client keeps the session cookie."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    answer = client.post(
        "/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_of(form.text),
            "next": next_path,
        },
    )
    assert answer.status_code == 303, answer.text
    return answer


def signed_in_client(server: LiveServer, account: Account) -> httpx.Client:
    """A new client of ``server`` with a session for ``account``."""
    client = server.client()
    sign_in(client, account)
    return client

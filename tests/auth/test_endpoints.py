"""Sign-in and sign-out over real HTTP: cookies, hashed sessions, CSRF, safe redirects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from codeqr.app import create_app
from codeqr.auth.csrf import CsrfKeys, csrf_keys
from codeqr.auth.deps import UserDep
from codeqr.auth.models import UserSession
from codeqr.kit.clock import utcnow
from codeqr.settings import Settings
from tests.conftest import LiveServer, free_port

from .helpers import Account, csrf_of, make_account, sign_in, signed_in_client


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app, plus a page and an API route behind ``require_user``."""
    port = free_port()
    app = create_app(settings, default_domain=f"127.0.0.1:{port}")

    @app.api.get("/dashboard/private/probe")
    def private(user: UserDep) -> dict[str, str]:
        return {"email": user.email}

    @app.api.get("/api/private-test")
    def private_api(user: UserDep) -> dict[str, str]:
        return {"email": user.email}

    live = LiveServer(app, port)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


def cookie_header(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert len(found) == 1, headers
    return str(found[0])


def sessions_of(server: LiveServer, user_id: str) -> list[UserSession]:
    with server.services.db.transaction() as session:
        return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id)))


def test_the_sign_in_page_is_a_protected_form(server: LiveServer) -> None:
    page = server.client().get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login"' in page.text
    assert 'name="viewport"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    nonce = cookie_header(page, "cq_login").lower()
    assert "httponly" in nonce
    assert "samesite=lax" in nonce
    assert "secure" not in nonce  # plain http here


def test_signing_in_opens_a_session_stored_as_a_hash(server: LiveServer, account: Account) -> None:
    client = server.client()
    answer = sign_in(client, account)
    assert answer.headers["location"] == "/"
    header = cookie_header(answer, "cq_session")
    assert "httponly" in header.lower()
    assert "samesite=lax" in header.lower()
    token = client.cookies["cq_session"]
    assert len(token) >= 40
    [stored] = sessions_of(server, account.user_id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.token_hash, stored.id)
    lifetime = stored.expires_at.replace(tzinfo=None) - stored.created_at.replace(tzinfo=None)
    assert lifetime == timedelta(days=14)
    # Signed in: the sign-in page sends the browser on, and a private page opens.
    assert client.get("/login").status_code == 303
    assert client.get("/dashboard/private/probe").json() == {"email": account.email}


def test_an_instance_published_on_https_sets_secure_cookies(settings: Settings) -> None:
    """Behind a TLS proxy the app hears plain HTTP; the public URL says cookies are Secure."""
    port = free_port()
    published = settings.model_copy(update={"public_url": "https://codeqr.example"})
    live = LiveServer(create_app(published, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    try:
        page = live.client().get("/login")
        assert "secure" in cookie_header(page, "cq_login").lower()
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("email", "password"),
    [("{email}", "wrong password"), ("nobody@example.com", "correct horse battery")],
)
def test_wrong_credentials_show_the_form_again(
    server: LiveServer, account: Account, email: str, password: str
) -> None:
    client = server.client()
    csrf = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"email": email.format(email=account.email), "password": password, "csrf_token": csrf},
    )
    assert answer.status_code == 400
    assert "That email and password do not match an account." in answer.text
    assert '<form method="post" action="/login"' in answer.text
    assert "cq_session" not in client.cookies
    assert sessions_of(server, account.user_id) == []


def test_the_email_is_matched_without_case(server: LiveServer, account: Account) -> None:
    shouting = Account(**{**account.__dict__, "email": account.email.upper()})
    sign_in(server.client(), shouting)


@pytest.mark.parametrize("token", ["", "forged", "other-browser"])
def test_a_sign_in_without_the_forms_token_is_refused(
    server: LiveServer, account: Account, token: str
) -> None:
    """Login CSRF: another site cannot post the form with its own (or no) token."""
    victim = server.client()
    victim.get("/login")  # the victim has a nonce cookie of their own
    if token == "other-browser":
        token = csrf_of(server.client().get("/login").text)
    answer = victim.post(
        "/login",
        data={"email": account.email, "password": account.password, "csrf_token": token},
    )
    assert answer.status_code == 403
    assert "This sign-in form had expired" in answer.text
    assert "cq_session" not in victim.cookies
    assert sessions_of(server, account.user_id) == []


def test_a_sign_in_without_the_nonce_cookie_is_refused(
    server: LiveServer, account: Account
) -> None:
    page = server.client().get("/login")
    stranger = server.client()  # has the token, not the cookie it belongs to
    answer = stranger.post(
        "/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert answer.status_code == 403


def test_a_private_page_sends_the_browser_to_sign_in_and_back(
    server: LiveServer, account: Account
) -> None:
    client = server.client()
    answer = client.get("/dashboard/private/probe?tab=keys&x=1")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/dashboard/private/probe?tab=keys&x=1"]}
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/dashboard/private/probe?tab=keys&amp;x=1"' in form.text
    back = client.post(
        "/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_of(form.text),
            "next": "/dashboard/private/probe?tab=keys&x=1",
        },
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/dashboard/private/probe?tab=keys&x=1"


def test_an_api_route_answers_401_instead_of_a_redirect(server: LiveServer) -> None:
    answer = server.client().get("/api/private-test")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(document.cookie)",
        "http:evil.example",
    ],
)
def test_next_never_leads_off_site(server: LiveServer, account: Account, target: str) -> None:
    """Open redirect: after sign-in, and for a signed-in visitor, only local paths."""
    client = server.client()
    form = client.get("/login", params={"next": target})
    assert target not in form.text
    answer = client.post(
        "/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_of(form.text),
            "next": target,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    again = client.get("/login", params={"next": target})
    assert again.status_code == 303
    assert again.headers["location"] == "/"


def test_signing_out_needs_the_sessions_token_and_ends_it(
    server: LiveServer, account: Account
) -> None:
    client = signed_in_client(server, account)
    token = client.cookies["cq_session"]
    # A forged form: the cookie may travel with it, the session's token does not.
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert "This form has expired" in refused.text
    assert client.get("/dashboard/private/probe").status_code == 200
    csrf = _keys(server).for_session(token)
    done = client.post("/logout", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert 'cq_session=""' in cookie_header(done, "cq_session")
    assert sessions_of(server, account.user_id) == []
    replay = server.client()
    replay.cookies.set("cq_session", token)
    assert replay.get("/dashboard/private/probe").status_code == 303


def test_signing_out_without_a_session_goes_to_sign_in(server: LiveServer) -> None:
    answer = server.client().post("/logout", data={"csrf_token": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"


def test_an_expired_session_is_not_accepted(server: LiveServer, account: Account) -> None:
    client = signed_in_client(server, account)
    with server.services.db.transaction() as session:
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == account.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.get("/dashboard/private/probe").status_code == 303
    assert client.get("/login").status_code == 200


def test_signing_in_again_replaces_the_browsers_session(
    server: LiveServer, account: Account
) -> None:
    client = signed_in_client(server, account)
    first = client.cookies["cq_session"]
    other = make_account(server)
    answer = client.post(
        "/login",
        data={
            "email": other.email,
            "password": other.password,
            "csrf_token": _keys(server).for_login(client.cookies["cq_login"]),
        },
    )
    assert answer.status_code == 303
    assert client.cookies["cq_session"] != first
    assert sessions_of(server, account.user_id) == []
    assert len(sessions_of(server, other.user_id)) == 1


def _keys(server: LiveServer) -> CsrfKeys:
    return csrf_keys(server.services.settings.secret())

"""Rules of the authorization server: apps, consent, codes and tokens (RFC 6749, RFC 7636).

Services never commit. One exception to "an error undoes the request": when a replayed
code or refresh token revokes a token family, the token endpoint answers the error
without raising it past the transaction, so the revocation is kept. Every other check comes
before the first write, so no other refusal leaves anything behind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from codeqr.kit.clock import now_ms, to_ms, utcnow
from codeqr.kit.errors import Unprocessable
from codeqr.kit.ids import base62, new_id
from codeqr.kit.passwords import hash_token
from codeqr.oauth import repository
from codeqr.oauth.errors import AuthorizeError, ClientRejected, InvalidClient, OAuthError
from codeqr.oauth.models import OAuthApp, OAuthCode, OAuthToken
from codeqr.oauth.scopes import parse_scope
from codeqr.workspace.models import User, Workspace

CLIENT_ID_PREFIX = "cq_app_"
CLIENT_SECRET_PREFIX = "cq_app_secret_"
ACCESS_PREFIX = "cq_at_"
REFRESH_PREFIX = "cq_rt_"
CODE_LIFETIME = timedelta(minutes=10)
ACCESS_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=90)
MAX_REDIRECT_URI = 2000
MAX_STATE = 1024
LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


@dataclass(frozen=True)
class CreatedApp:
    """An app as registered: the secret is shown this once and never again."""

    app: OAuthApp
    client_secret: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked ``/oauth/authorize`` request, ready for the user's decision."""

    app: OAuthApp
    redirect_uri: str
    state: str | None
    code_challenge: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class IssuedTokens:
    """A fresh access and refresh token pair, shown once to the client."""

    access_token: str
    refresh_token: str
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ClientCredentials:
    """How the client authenticated at the token endpoint; no secret for a public client."""

    client_id: str
    client_secret: str | None


# --- apps ---------------------------------------------------------------------------------


def check_redirect_uri(uri: str) -> str:
    """A redirect URI fit for registration: absolute https (http only on loopback), no
    fragment, no user info; 422 otherwise."""
    parts = urlsplit(uri.strip())
    host = (parts.hostname or "").lower()
    shown = f"[{host}]" if ":" in host else host
    secure = parts.scheme == "https" or (parts.scheme == "http" and shown in LOOPBACK)
    if (
        len(uri) > MAX_REDIRECT_URI
        or not secure
        or not host
        or "@" in parts.netloc
        or parts.fragment
        or "#" in uri
    ):
        raise Unprocessable(
            f"redirectUri: {uri!r} must be an absolute https URL (http only for localhost) "
            "without a fragment"
        )
    return uri.strip()


def register_app(
    session: Session, *, name: str, redirect_uris: Sequence[str], pkce_required: bool = True
) -> CreatedApp:
    """Register a client with its exact redirect URIs; the secret is returned once."""
    name = name.strip()
    if not name or len(name) > 190:
        raise Unprocessable("name: must be 1-190 characters")
    uris = list(dict.fromkeys(check_redirect_uri(uri) for uri in redirect_uris))
    if not uris:
        raise Unprocessable("redirectUris: at least one redirect URI is needed")
    secret = CLIENT_SECRET_PREFIX + base62(40)
    app = OAuthApp(
        id=new_id("oapp"),
        client_id=CLIENT_ID_PREFIX + base62(24),
        client_secret_hash=hash_token(secret),
        name=name,
        redirect_uris=uris,
        pkce_required=pkce_required,
        created_at=utcnow(),
    )
    session.add(app)
    session.flush()
    return CreatedApp(app=app, client_secret=secret)


def list_apps(session: Session) -> Sequence[OAuthApp]:
    """Every registered app, oldest first."""
    return repository.all_apps(session)


# --- authorization (the consent page) ------------------------------------------------------


def check_client(session: Session, client_id: str | None, redirect_uri: str | None) -> OAuthApp:
    """The app, when the client id is known and the redirect URI is one of its own
    (compared exactly); else ``ClientRejected``: nothing may be sent to that URI."""
    app = repository.app_by_client_id(session, client_id) if client_id else None
    if app is None:
        raise ClientRejected("This application is not known to CodeQR.")
    if not redirect_uri or redirect_uri not in app.redirect_uris:
        raise ClientRejected(f"The redirect address is not registered for {app.name}.")
    return app


def check_request(
    app: OAuthApp,
    redirect_uri: str,
    *,
    response_type: str | None,
    state: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    scope: str | None,
) -> AuthorizationRequest:
    """The rest of an authorization request, once client and redirect URI are trusted;
    ``AuthorizeError`` for what the client is told at its redirect URI."""
    if state is not None and len(state) > MAX_STATE:
        raise AuthorizeError("invalid_request", f"state is longer than {MAX_STATE} characters.")
    if not response_type:
        raise AuthorizeError("invalid_request", "response_type is required.")
    if response_type != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported.")
    if code_challenge:
        # Without a method RFC 7636 means "plain", which would let the challenge in the
        # browser's history redeem the code: refused like any other method than S256.
        if code_challenge_method != "S256":
            raise AuthorizeError("invalid_request", "code_challenge_method must be S256.")
        if not _CHALLENGE_RE.match(code_challenge):
            raise AuthorizeError(
                "invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)."
            )
    elif app.pkce_required:
        raise AuthorizeError(
            "invalid_request", "This client must use PKCE: code_challenge is required (S256)."
        )
    return AuthorizationRequest(
        app=app,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=code_challenge or None,
        scopes=parse_scope(scope),
    )


def with_params(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (its own parameters kept)."""
    parts = urlsplit(uri)
    extra = urlencode([(name, value) for name, value in params.items() if value is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def error_redirect(redirect_uri: str, state: str | None, error: AuthorizeError) -> str:
    """Where to send the browser with an error for the client (RFC 6749 §4.1.2.1)."""
    return with_params(
        redirect_uri,
        {"error": error.error, "error_description": error.description, "state": state},
    )


def grantable_workspaces(session: Session, user: User) -> Sequence[Workspace]:
    """Workspaces the user may connect an app to: those they own or are a member of."""
    return repository.grantable_workspaces(session, user.id)


def approve(session: Session, request: AuthorizationRequest, user: User, workspace_id: str) -> str:
    """Record the consent as a one-time code; the URL to send the browser back to."""
    if not repository.can_grant(session, user.id, workspace_id):
        raise AuthorizeError("access_denied", "The workspace chosen cannot be connected.")
    code = base62(43)
    now = utcnow()
    session.add(
        OAuthCode(
            id=new_id("ocode"),
            code_hash=hash_token(code),
            app_id=request.app.id,
            user_id=user.id,
            workspace_id=workspace_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            scopes=list(request.scopes),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    session.flush()
    return with_params(request.redirect_uri, {"code": code, "state": request.state})


def deny(request: AuthorizationRequest) -> str:
    """The URL that tells the client the user said no."""
    refusal = AuthorizeError("access_denied", "The user denied the request.")
    return error_redirect(request.redirect_uri, request.state, refusal)


# --- tokens -------------------------------------------------------------------------------


def authenticate_client(session: Session, credentials: ClientCredentials) -> OAuthApp:
    """The app presenting these credentials; ``InvalidClient`` otherwise.

    Apps that require PKCE may act as public clients (a Stripe App's UI extension cannot keep
    a secret) and omit the secret; a secret that is sent must be right.
    """
    app = repository.app_by_client_id(session, credentials.client_id)
    if app is None:
        raise InvalidClient()
    if credentials.client_secret is None:
        if not app.pkce_required:
            raise InvalidClient("This client must authenticate with its client secret.")
        return app
    if not hmac.compare_digest(hash_token(credentials.client_secret), app.client_secret_hash):
        raise InvalidClient()
    return app


def exchange_code(
    session: Session,
    app: OAuthApp,
    *,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> IssuedTokens:
    """Redeem an authorization code for the first token pair of a new family."""
    if not code:
        raise OAuthError("invalid_request", "code is required.")
    found = repository.code_by_hash(session, hash_token(code))
    if found is None or found.app_id != app.id:
        raise OAuthError("invalid_grant", "The authorization code is invalid.")
    now = utcnow()
    if found.used_at is not None:
        _replayed_code(session, found, now)
    if to_ms(found.expires_at) <= now_ms():
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if redirect_uri != found.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    _check_verifier(found.code_challenge, code_verifier)
    if not repository.can_grant(session, found.user_id, found.workspace_id):
        raise OAuthError("invalid_grant", "The user can no longer connect this workspace.")
    if not repository.claim_code(session, found.id, now):
        _replayed_code(session, found, now)  # redeemed by a concurrent request meanwhile
    return _issue(
        session,
        family_id=found.id,
        app_id=app.id,
        user_id=found.user_id,
        workspace_id=found.workspace_id,
        scopes=tuple(found.scopes),
        now=now,
    )


def refresh(
    session: Session, app: OAuthApp, *, refresh_token: str | None, scope: str | None
) -> IssuedTokens:
    """Rotate a refresh token: a new pair, and the presented token stops working."""
    if not refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required.")
    found = repository.token_by_refresh_hash(session, hash_token(refresh_token))
    if found is None or found.app_id != app.id or found.revoked_at is not None:
        raise OAuthError("invalid_grant", "The refresh token is invalid.")
    now = utcnow()
    if found.rotated_at is not None:
        _replayed_refresh(session, found, now)
    if to_ms(found.refresh_expires_at) <= now_ms():
        raise OAuthError("invalid_grant", "The refresh token has expired.")
    scopes = tuple(found.scopes)
    if scope is not None and scope.strip():
        try:
            asked = parse_scope(scope)
        except AuthorizeError as exc:
            raise OAuthError("invalid_scope", exc.description) from exc
        if not set(asked) <= set(scopes):
            raise OAuthError("invalid_scope", "A refresh cannot widen the granted scopes.")
        scopes = asked
    if not repository.can_grant(session, found.user_id, found.workspace_id):
        raise OAuthError("invalid_grant", "The user can no longer connect this workspace.")
    if not repository.claim_refresh(session, found.id, now):
        _replayed_refresh(session, found, now)  # rotated by a concurrent request meanwhile
    return _issue(
        session,
        family_id=found.family_id,
        app_id=app.id,
        user_id=found.user_id,
        workspace_id=found.workspace_id,
        scopes=scopes,
        now=now,
    )


def resolve_access_token(session: Session, token: str) -> tuple[OAuthToken, User, Workspace] | None:
    """The grant of a live access token with its user and workspace; ``None`` when the
    token is unknown, expired, revoked, or its user left the workspace."""
    if not token.startswith(ACCESS_PREFIX) or len(token) > 128:
        return None
    found = repository.live_grant(session, hash_token(token))
    if found is None or to_ms(found[0].access_expires_at) <= now_ms():
        return None
    return found


def _replayed_code(session: Session, code: OAuthCode, now: datetime) -> NoReturn:
    # RFC 6749 §4.1.2: a code used twice was intercepted; what it gave out is revoked.
    repository.revoke_family(session, code.id, now)
    raise OAuthError("invalid_grant", "The authorization code was already used.")


def _replayed_refresh(session: Session, token: OAuthToken, now: datetime) -> NoReturn:
    # Used before: either the client or a thief holds the newer token. Which is which cannot
    # be told, so the whole family stops working (RFC 9700 §4.14.2).
    repository.revoke_family(session, token.family_id, now)
    raise OAuthError("invalid_grant", "The refresh token was already used.")


def _check_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier:
            raise OAuthError("invalid_grant", "No code_challenge was sent for this code.")
        return
    if not verifier:
        raise OAuthError("invalid_grant", "code_verifier is required.")
    if not _VERIFIER_RE.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier must be 43-128 unreserved characters.")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(computed, challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")


def _issue(
    session: Session,
    *,
    family_id: str,
    app_id: str,
    user_id: str,
    workspace_id: str,
    scopes: tuple[str, ...],
    now: datetime,
) -> IssuedTokens:
    access = ACCESS_PREFIX + base62(43)
    refresh_token = REFRESH_PREFIX + base62(43)
    session.add(
        OAuthToken(
            id=new_id("otok"),
            family_id=family_id,
            app_id=app_id,
            user_id=user_id,
            workspace_id=workspace_id,
            access_token_hash=hash_token(access),
            refresh_token_hash=hash_token(refresh_token),
            scopes=list(scopes),
            created_at=now,
            access_expires_at=now + ACCESS_LIFETIME,
            refresh_expires_at=now + REFRESH_LIFETIME,
        )
    )
    session.flush()
    return IssuedTokens(
        access_token=access,
        refresh_token=refresh_token,
        expires_in=int(ACCESS_LIFETIME.total_seconds()),
        scopes=scopes,
    )


@dataclass(frozen=True)
class TokenRequest:
    """The parameters of a token request (RFC 6749 §4.1.3, §6)."""

    grant_type: str | None
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None


def grant_tokens(
    session: Session, credentials: ClientCredentials, request: TokenRequest
) -> IssuedTokens:
    """The token endpoint: authenticate the client, then run its grant."""
    app = authenticate_client(session, credentials)
    if request.grant_type == "authorization_code":
        return exchange_code(
            session,
            app,
            code=request.code,
            redirect_uri=request.redirect_uri,
            code_verifier=request.code_verifier,
        )
    if request.grant_type == "refresh_token":
        return refresh(session, app, refresh_token=request.refresh_token, scope=request.scope)
    if not request.grant_type:
        raise OAuthError("invalid_request", "grant_type is required.")
    raise OAuthError(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
    )


def grant_subjects(session: Session, user_id: str, workspace_id: str) -> tuple[User, Workspace]:
    """The user and the workspace of a grant (already loaded by the grant's lookup)."""
    user = session.get(User, user_id)
    workspace = session.get(Workspace, workspace_id)
    if user is None or workspace is None:  # pragma: no cover - deleted mid-request
        raise OAuthError("invalid_grant", "The grant's user or workspace no longer exists.")
    return user, workspace

"""The authorization server's routes: the consent page (``/oauth/authorize``), and the
token and userinfo endpoints under ``/api/oauth``."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from codeqr.api.deps import SessionDep
from codeqr.auth.deps import CsrfDep, MaybeSignedInDep, sign_in_url
from codeqr.auth.pages import render, templates
from codeqr.oauth import service
from codeqr.oauth.deps import OAuthGrantDep
from codeqr.oauth.errors import AuthorizeError, ClientRejected, InvalidClient, OAuthError
from codeqr.oauth.schemas import TokenError, TokenResponse, UserInfo
from codeqr.oauth.scopes import SCOPES
from codeqr.oauth.service import AuthorizationRequest, ClientCredentials, TokenRequest

router = APIRouter(tags=["oauth"], include_in_schema=False)
api_router = APIRouter(prefix="/oauth", tags=["oauth"])
_pages = templates("codeqr.oauth")

# Token answers hold secrets (RFC 6749 §5.1). CORS without credentials: a client that runs
# in a browser (a Stripe App's UI extension) reads them; no cookie is ever involved.
TOKEN_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Access-Control-Allow-Origin": "*",
}
OptionalQuery = Annotated[str | None, Query()]
OptionalForm = Annotated[str | None, Form()]


def _checked(
    session: Session,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    response_type: str | None,
    state: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    scope: str | None,
) -> AuthorizationRequest | Response:
    """The request, or the answer to a bad one: an error page while the client or its
    redirect URI is not trusted, a redirect with ``error`` once they are."""
    try:
        app = service.check_client(session, client_id, redirect_uri)
    except ClientRejected as exc:
        return render(
            _pages,
            "message.html",
            status=400,
            title="This link cannot be used",
            message=exc.message,
        )
    assert redirect_uri is not None  # check_client accepted it
    try:
        return service.check_request(
            app,
            redirect_uri,
            response_type=response_type,
            state=state,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            scope=scope,
        )
    except AuthorizeError as exc:
        kept_state = state if state is None or len(state) <= service.MAX_STATE else None
        return RedirectResponse(service.error_redirect(redirect_uri, kept_state, exc), 302)


@router.get("/oauth/authorize", response_model=None)
def authorize_page(
    request: Request,
    session: SessionDep,
    signed_in: MaybeSignedInDep,
    client_id: OptionalQuery = None,
    redirect_uri: OptionalQuery = None,
    response_type: OptionalQuery = None,
    state: OptionalQuery = None,
    code_challenge: OptionalQuery = None,
    code_challenge_method: OptionalQuery = None,
    scope: OptionalQuery = None,
) -> Response:
    """The consent page: which app, which workspace, Authorize or Deny."""
    checked = _checked(
        session,
        client_id=client_id,
        redirect_uri=redirect_uri,
        response_type=response_type,
        state=state,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        scope=scope,
    )
    if isinstance(checked, Response):
        return checked
    if signed_in is None:
        return RedirectResponse(sign_in_url(f"{request.url.path}?{request.url.query}"), 303)
    return render(
        _pages,
        "consent.html",
        title=f"Connect {checked.app.name}",
        app_name=checked.app.name,
        redirect_host=urlsplit(checked.redirect_uri).netloc,
        scopes=[SCOPES[name] for name in checked.scopes],
        workspaces=service.grantable_workspaces(session, signed_in.user),
        user=signed_in.user,
        csrf_token=signed_in.csrf_token,
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": response_type,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": code_challenge_method,
            "scope": " ".join(checked.scopes),
        },
    )


@router.post("/oauth/authorize", response_model=None)
def authorize_decision(
    session: SessionDep,
    signed_in: CsrfDep,
    decision: Annotated[str, Form()] = "deny",
    workspace_id: Annotated[str, Form(max_length=40)] = "",
    client_id: OptionalForm = None,
    redirect_uri: OptionalForm = None,
    response_type: OptionalForm = None,
    state: OptionalForm = None,
    code_challenge: OptionalForm = None,
    code_challenge_method: OptionalForm = None,
    scope: OptionalForm = None,
) -> Response:
    """Authorize (a one-time code) or Deny (``access_denied``), back at the redirect URI."""
    # The form's hidden fields are checked again: they came back through the browser.
    checked = _checked(
        session,
        client_id=client_id,
        redirect_uri=redirect_uri,
        response_type=response_type,
        state=state,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        scope=scope,
    )
    if isinstance(checked, Response):
        return checked
    if decision != "allow":
        return RedirectResponse(service.deny(checked), 302)
    try:
        target = service.approve(session, checked, signed_in.user, workspace_id)
    except AuthorizeError as exc:
        target = service.error_redirect(checked.redirect_uri, checked.state, exc)
    return RedirectResponse(target, 302)


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> ClientCredentials:
    """``client_secret_basic`` (RFC 6749 §2.3.1: form-encoded, then base64) or
    ``client_secret_post``; one of them, not both. No secret at all: a public client."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("Client authentication in a header must use HTTP Basic.")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidClient("Malformed HTTP Basic credentials.") from exc
        raw_id, colon, raw_secret = decoded.partition(":")
        if not colon:
            raise InvalidClient("Malformed HTTP Basic credentials.")
        if client_secret:
            raise OAuthError("invalid_request", "Use one client authentication method.")
        basic_id = unquote_plus(raw_id)
        if client_id and client_id != basic_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated one.")
        return ClientCredentials(client_id=basic_id, client_secret=unquote_plus(raw_secret))
    if not client_id:
        raise InvalidClient("client_id is required.")
    return ClientCredentials(client_id=client_id, client_secret=client_secret or None)


def _token_answer(body: dict[str, Any], status: int) -> JSONResponse:
    headers = dict(TOKEN_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="CodeQR"'
    return JSONResponse(body, status_code=status, headers=headers)


@api_router.post(
    "/token",
    response_model=TokenResponse,
    responses={400: {"model": TokenError}, 401: {"model": TokenError}},
)
def token(
    request: Request,
    session: SessionDep,
    grant_type: OptionalForm = None,
    code: OptionalForm = None,
    redirect_uri: OptionalForm = None,
    code_verifier: OptionalForm = None,
    refresh_token: OptionalForm = None,
    scope: OptionalForm = None,
    client_id: OptionalForm = None,
    client_secret: OptionalForm = None,
) -> JSONResponse:
    """Exchange an authorization code (with its PKCE verifier), or rotate a refresh token."""
    try:
        issued = service.grant_tokens(
            session,
            _client_credentials(request, client_id, client_secret),
            TokenRequest(
                grant_type=grant_type,
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                refresh_token=refresh_token,
                scope=scope,
            ),
        )
    except OAuthError as exc:
        # Answered, not raised: a revocation made on the way (replayed code or refresh
        # token) must be committed with the request, not rolled back with the error.
        return _token_answer(exc.body(), exc.status_code)
    return _token_answer(TokenResponse.of(issued).model_dump(), 200)


@api_router.get("/userinfo", response_model=UserInfo)
def userinfo(grant: OAuthGrantDep, session: SessionDep, response: Response) -> UserInfo:
    """The user who granted the access token and the workspace it is for, as far as the
    token's scopes allow (``user.read``, ``workspace.read``)."""
    response.headers.update(TOKEN_HEADERS)
    user, workspace = service.grant_subjects(session, grant.user_id, grant.workspace_id)
    return UserInfo.of(user, workspace, grant.scopes)


@api_router.options("/token", include_in_schema=False)
@api_router.options("/userinfo", include_in_schema=False)
def preflight() -> Response:
    """CORS preflight of the token and userinfo endpoints (no credentials involved)."""
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "authorization, content-type",
            "Access-Control-Max-Age": "86400",
        },
    )

"""Sign-in and sign-out pages of the dashboard (``/login``, ``/logout``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from codeqr.api.deps import ServicesDep, SessionDep, client_ip
from codeqr.auth import service
from codeqr.auth.csrf import csrf_keys, new_nonce
from codeqr.auth.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CsrfDep,
    MaybeSignedInDep,
    secure_cookies,
    set_login_cookie,
)
from codeqr.auth.pages import render, templates
from codeqr.kit.errors import RateLimited
from codeqr.services import Services

router = APIRouter(tags=["auth"], include_in_schema=False)
_pages = templates()
WRONG_CREDENTIALS = "That email and password do not match an account."
FORM_EXPIRED = "This sign-in form had expired. Please try again."


def _login_form(
    request: Request,
    services: Services,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    # One nonce per browser, kept while valid, so several open tabs can all sign in.
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    fresh = not (16 <= len(nonce) <= 64)
    if fresh:
        nonce = new_nonce()
    response = render(
        _pages,
        "login.html",
        status=status,
        csrf_token=csrf_keys(services.settings.secret()).for_login(nonce),
        next_path=next_path,
        email=email,
        error=error,
    )
    if fresh:
        set_login_cookie(response, nonce, request, services)
    return response


@router.get("/login", response_model=None)
def login_page(
    request: Request,
    services: ServicesDep,
    signed_in: MaybeSignedInDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=service.MAX_NEXT)] = None,
) -> Response:
    """The sign-in form; a signed-in browser goes straight on to ``next``."""
    target = service.safe_next(next_path)
    if signed_in is not None:
        return RedirectResponse(target, status_code=303)
    return _login_form(request, services, next_path=target)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=service.MAX_NEXT)] = "/",
) -> Response:
    """Check email and password, open a session and go on to ``next``."""
    target = service.safe_next(next_path)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf_keys(services.settings.secret()).check_login(nonce, csrf_token):
        return _login_form(
            request, services, next_path=target, email=email, error=FORM_EXPIRED, status=403
        )
    try:
        services.rate_limits.login(client_ip(services, request), email)
    except RateLimited as refused:
        # Refused before the password is hashed: guessing costs the guesser, not the server.
        page = _login_form(
            request, services, next_path=target, email=email, error=refused.message, status=429
        )
        page.headers.update(refused.headers)
        return page
    user = service.authenticate(session, email, password)
    if user is None:
        return _login_form(
            request, services, next_path=target, email=email, error=WRONG_CREDENTIALS, status=400
        )
    # A new token at every sign-in (no session fixation); the browser's old one ends.
    service.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    started = service.start_session(session, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        expires=started.expires_at,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    """End the session and go back to the sign-in page."""
    service.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response

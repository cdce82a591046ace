"""Who is signed in: reusable dependencies for every server-rendered page and form.

- ``current_user``: the signed-in user or ``None``;
- ``require_user`` / ``require_signed_in``: a browser without a session is sent to
  ``/login?next=<this page>``; an ``/api`` caller gets 401 in the error envelope;
- ``require_csrf``: as ``require_signed_in``, and the form's ``csrf_token`` must match the
  session's, else 403.

``install(app)`` registers the handlers that turn those refusals into answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.auth import service
from codeqr.auth.csrf import csrf_keys
from codeqr.auth.pages import render, templates
from codeqr.kit.errors import error_envelope
from codeqr.services import Services
from codeqr.workspace.models import User

SESSION_COOKIE = "cq_session"
LOGIN_COOKIE = "cq_login"

_pages = templates()


@dataclass(frozen=True)
class SignedIn:
    """A signed-in browser: the user, its session and the CSRF token its forms carry."""

    user: User
    session_id: str
    csrf_token: str


class SignInRequired(Exception):
    """No live session: the browser is sent to sign in, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form came without the token of the session that should have sent it."""


def secure_cookies(request: Request, services: Services) -> bool:
    """Whether cookies get ``Secure``: the request came over https, or the instance is
    published on https (then a TLS proxy in front speaks plain HTTP to us)."""
    public = services.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


LOGIN_COOKIE_AGE = 86_400
"""How long a sign-in form's nonce cookie lives (the form's CSRF token is bound to it)."""


def set_login_cookie(response: Response, nonce: str, request: Request, services: Services) -> None:
    """Hand a sign-in form's nonce to the browser (every sign-in form: dashboard, portal,
    invitation)."""
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )


def get_signed_in(request: Request, session: SessionDep, services: ServicesDep) -> SignedIn | None:
    """The session of the request's cookie, or ``None``."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = service.resolve_session(session, token)
    if found is None:
        return None
    user_session, user = found
    csrf = csrf_keys(services.settings.secret()).for_session(token)
    return SignedIn(user=user, session_id=user_session.id, csrf_token=csrf)


MaybeSignedInDep = Annotated[SignedIn | None, Depends(get_signed_in)]


def current_user(signed_in: MaybeSignedInDep) -> User | None:
    """The signed-in user, or ``None``."""
    return signed_in.user if signed_in else None


def require_signed_in(request: Request, signed_in: MaybeSignedInDep) -> SignedIn:
    """The session; without one, sign-in first (see ``SignInRequired``)."""
    if signed_in is None:
        here = request.url.path
        if request.method in {"GET", "HEAD"} and request.url.query:
            here += "?" + request.url.query
        raise SignInRequired(here if request.method in {"GET", "HEAD"} else "/")
    return signed_in


SignedInDep = Annotated[SignedIn, Depends(require_signed_in)]


def require_user(signed_in: SignedInDep) -> User:
    """The signed-in user; without one, sign-in first."""
    return signed_in.user


def require_csrf(
    request: Request,
    signed_in: SignedInDep,
    services: ServicesDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> SignedIn:
    """The session of a form POST whose ``csrf_token`` field is the session's own."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not csrf_keys(services.settings.secret()).check_session(token, csrf_token):
        raise CsrfRefused
    return signed_in


CurrentUserDep = Annotated[User | None, Depends(current_user)]
UserDep = Annotated[User, Depends(require_user)]
CsrfDep = Annotated[SignedIn, Depends(require_csrf)]


def sign_in_url(next_path: str) -> str:
    """The sign-in page that leads back to ``next_path`` (when it is a local path)."""
    target = service.safe_next(next_path, default="")
    return "/login" if target in {"", "/"} else f"/login?next={quote(target, safe='/')}"


def install(app: FastAPI) -> None:
    """Register the answers to ``SignInRequired`` and ``CsrfRefused``."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.url.path.startswith("/api/"):
            body = error_envelope("unauthorized", "Unauthorized: sign in first.")
            return JSONResponse(body, status_code=401)
        return RedirectResponse(sign_in_url(exc.next_path), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(_: Request, __: CsrfRefused) -> Response:
        return render(
            _pages,
            "message.html",
            status=403,
            title="This form has expired",
            message="For your safety the form was not sent. Go back, reload the page and "
            "try again.",
        )

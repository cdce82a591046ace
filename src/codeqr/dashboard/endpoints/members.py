"""Members: the Members settings tab's forms (owners only, but for leaving) and the invitation
link's pages.

``/app/invite/{token}`` is opened by the person invited: signed in, they accept with one button;
signed out, they sign in (and come back) or create an account there, which joins at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from codeqr.api.deps import ServicesDep, SessionDep, client_ip
from codeqr.auth import service as auth
from codeqr.auth.csrf import csrf_keys, new_nonce
from codeqr.auth.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CsrfDep,
    MaybeSignedInDep,
    secure_cookies,
    set_login_cookie,
    sign_in_url,
)
from codeqr.dashboard.deps import AccountDep, OwnerDep, Page, PageError, ViewDep
from codeqr.dashboard.endpoints import settings as tabs
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError, RateLimited
from codeqr.services import Services
from codeqr.workspace import members as team
from codeqr.workspace import service as workspaces
from codeqr.workspace.models import WorkspaceInvite

router = APIRouter(include_in_schema=False)
BASE = "/dashboard/{slug}/settings/members"
Id = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=512)]
RoleField = Annotated[str, Form(max_length=20)]
_DONE = {
    "invited": "Invitation created. Copy its link and send it to the person to invite.",
    "invite-off": "Invitation revoked: its link no longer works.",
    "role": "Role changed.",
    "removed": "Member removed from the workspace.",
    "joined": "Welcome: you joined this workspace.",
}


def _members(
    session: SessionDep,
    services: Services,
    page: Page,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    errors = {"members": error} if error else None
    return tabs._page(
        session, services, page, tab="members", notice=notice, errors=errors, status=status
    )


def _done(page: Page, what: str) -> RedirectResponse:
    return RedirectResponse(f"/dashboard/{page.slug}/settings/members?done={what}", 303)


def _refused(session: SessionDep, services: Services, page: Page, exc: CodeQRError) -> Response:
    session.rollback()
    if exc.status_code == 404:
        raise PageError(404, "Not found", exc.message)
    return _members(session, services, page, error=exc.message, status=exc.status_code)


@router.get(BASE, response_class=HTMLResponse)
def members_page(
    page: ViewDep, session: SessionDep, services: ServicesDep, done: str = ""
) -> HTMLResponse:
    """The members with their roles; owners also see the open invitations and the forms."""
    return _members(session, services, page, notice=_DONE.get(done[:20]))


@router.post(BASE + "/invite", response_model=None)
def invite(
    page: OwnerDep, session: SessionDep, services: ServicesDep, role: RoleField = ""
) -> Response:
    """A new invitation link with the role chosen."""
    try:
        team.create_invite(session, page.workspace, page.signed_in.user, role)
    except CodeQRError as exc:
        return _refused(session, services, page, exc)
    return _done(page, "invited")


@router.post(BASE + "/invites/{invite_id}/revoke", response_model=None)
def revoke_invite(
    invite_id: Id, page: OwnerDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Stop an invitation link from working."""
    try:
        team.revoke_invite(session, page.workspace, invite_id)
    except CodeQRError as exc:
        return _refused(session, services, page, exc)
    return _done(page, "invite-off")


@router.post(BASE + "/{user_id}/role", response_model=None)
def change_role(
    user_id: Id, page: OwnerDep, session: SessionDep, services: ServicesDep, role: RoleField = ""
) -> Response:
    """Give a member another role (the last owner stays one)."""
    try:
        team.set_role(session, page.workspace, user_id, role)
    except CodeQRError as exc:
        return _refused(session, services, page, exc)
    if user_id == page.signed_in.user.id and role != "owner":
        return RedirectResponse(f"/dashboard/{page.slug}/settings/members?done=role", 303)
    return _done(page, "role")


@router.post(BASE + "/{user_id}/remove", response_model=None)
def remove_member(
    user_id: Id, page: OwnerDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Take a member out of the workspace (never its last owner)."""
    try:
        team.remove(session, page.workspace, user_id)
    except CodeQRError as exc:
        return _refused(session, services, page, exc)
    if user_id == page.signed_in.user.id:
        return RedirectResponse("/dashboard", 303)
    return _done(page, "removed")


@router.post(BASE + "/leave", response_model=None)
def leave(page: AccountDep, session: SessionDep, services: ServicesDep) -> Response:
    """Leave the workspace, in any role; never as its last owner (403, as for ``remove``)."""
    try:
        team.remove(session, page.workspace, page.signed_in.user.id)
    except CodeQRError as exc:
        return _refused(session, services, page, exc)
    return RedirectResponse("/dashboard", 303)


# --- the invitation link -----------------------------------------------------------------


def _invite_page(
    request: Request,
    services: Services,
    *,
    token: str,
    invite: WorkspaceInvite,
    workspace_name: str,
    signed_in: bool,
    csrf_token: str = "",
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    nonce = ""
    fresh = False
    if not signed_in:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        fresh = not (16 <= len(nonce) <= 64)
        if fresh:
            nonce = new_nonce()
        csrf_token = csrf_keys(services.settings.secret()).for_login(nonce)
    response = render(
        "invite.html",
        status=status,
        title="Join " + workspace_name,
        invite=invite,
        workspace_name=workspace_name,
        token=token,
        signed_in=signed_in,
        csrf_token=csrf_token,
        sign_in=sign_in_url(f"/app/invite/{token}"),
        email=email,
        error=error,
    )
    if fresh:
        set_login_cookie(response, nonce, request, services)
    return response


def _open(session: SessionDep, services: Services, token: str) -> tuple[WorkspaceInvite, str]:
    try:
        invite, workspace = team.open_invite(session, services.settings.secret(), token)
    except team.InviteInvalid as exc:
        raise PageError(
            404,
            "Invitation not valid",
            exc.message + " Ask an owner of the workspace for a new invitation link.",
        ) from exc
    return invite, workspace.name


@router.get("/app/invite/{token}", response_class=HTMLResponse)
def invite_page(
    token: Token,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    signed_in: MaybeSignedInDep,
) -> HTMLResponse:
    """What the invitation offers, and how to accept it."""
    invite, name = _open(session, services, token)
    return _invite_page(
        request,
        services,
        token=token,
        invite=invite,
        workspace_name=name,
        signed_in=signed_in is not None,
        csrf_token=signed_in.csrf_token if signed_in else "",
    )


@router.post("/app/invite/{token}", response_model=None)
def accept(
    token: Token, session: SessionDep, services: ServicesDep, signed_in: CsrfDep
) -> Response:
    """Join the workspace as the signed-in user."""
    try:
        workspace = team.accept_invite(session, services.settings.secret(), token, signed_in.user)
    except team.InviteInvalid as exc:
        raise PageError(404, "Invitation not valid", exc.message) from exc
    except CodeQRError as exc:
        raise PageError(exc.status_code, "Could not join", exc.message) from exc
    return RedirectResponse(f"/dashboard/{workspace.slug}/settings/members?done=joined", 303)


@router.post("/app/invite/{token}/signup", response_model=None)
def sign_up(
    token: Token,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=auth.MAX_PASSWORD)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Create an account from the invitation, join, and sign in."""
    invite, name = _open(session, services, token)

    def again(error: str, status: int) -> HTMLResponse:
        session.rollback()
        return _invite_page(
            request,
            services,
            token=token,
            invite=invite,
            workspace_name=name,
            signed_in=False,
            email=email,
            error=error,
            status=status,
        )

    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf_keys(services.settings.secret()).check_login(nonce, csrf_token):
        return again("This form had expired. Please try again.", 403)
    try:
        services.rate_limits.login(client_ip(services, request), email)
    except RateLimited as refused:
        page = again(refused.message, 429)
        page.headers.update(refused.headers)
        return page
    if any(ord(c) < 0x20 for c in email + password):
        return again("The email and password cannot hold control characters.", 400)
    if len(password) < auth.MIN_PASSWORD:
        return again(f"Choose a password of at least {auth.MIN_PASSWORD} characters.", 400)
    try:
        user = workspaces.create_user(session, email, password)
        workspace = team.accept_invite(session, services.settings.secret(), token, user)
    except CodeQRError as exc:
        message = exc.message
        if exc.status_code == 409:
            message = "An account with this email exists already: sign in to accept instead."
        return again(message.removeprefix("email: "), 400 if exc.status_code != 404 else 404)
    started = auth.start_session(session, user)
    response = RedirectResponse(f"/dashboard/{workspace.slug}/links", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        expires=started.expires_at,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )
    return response

"""The partner portal's pages, under ``/app/partners/{workspace slug}``.

``/app`` is a reserved first segment of short links already, so the portal shadows no
existing link. The session cookie is scoped to the one workspace's portal path; a partner
of two workspaces signs in to each. Forms carry CSRF tokens as the dashboard's do.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.api.deps import ServicesDep, SessionDep, client_ip
from codeqr.auth.csrf import csrf_keys, new_nonce
from codeqr.auth.deps import LOGIN_COOKIE, secure_cookies, set_login_cookie
from codeqr.auth.pages import render as render_card
from codeqr.auth.pages import templates
from codeqr.dashboard import pages as dashboard_pages
from codeqr.kit.errors import CodeQRError, RateLimited
from codeqr.partner.models import Partner
from codeqr.portal import service
from codeqr.program.service import find_program
from codeqr.qr import render as qr
from codeqr.services import Services
from codeqr.workspace.models import Workspace

PREFIX = "/app/partners"
COOKIE = "cq_partner"
router = APIRouter(prefix=PREFIX + "/{slug}", include_in_schema=False)
Slug = Annotated[str, Path(max_length=64)]
LinkId = Annotated[str, Path(max_length=40)]
WRONG = "That email and password do not match a partner of this program."
EXPIRED = "This form had expired. Please try again."
BAD_INVITE = (
    "This invitation link is no longer valid: it was used already, it expired, or it was "
    "changed. Ask the program's team for a new one."
)

_cards = templates("codeqr.portal")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """The portal's page templates, drawn with the dashboard's styles and filters."""
    env = templates("codeqr.portal", "codeqr.dashboard")
    base = dashboard_pages.environment()
    env.globals.update(static=base.globals["static"], minor_units=base.globals["minor_units"])
    env.filters.update(base.filters)
    return env


def _render(name: str, status: int = 200, **context: object) -> HTMLResponse:
    html = _environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=dashboard_pages.PAGE_HEADERS)


def _not_found() -> HTMLResponse:
    return render_card(
        _cards,
        "portal_message.html",
        status=404,
        title="Not found",
        message="This partner program does not exist.",
    )


class _NoPortal(Exception):
    pass


def _workspace(session: Session, slug: str) -> Workspace:
    """The workspace of a portal URL: one with a partner program, else 404."""
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None or find_program(session, workspace.id) is None:
        raise _NoPortal
    return workspace


def _base(slug: str) -> str:
    return f"{PREFIX}/{slug}"


def _card_form(
    request: Request,
    services: Services,
    template: str,
    *,
    status: int = 200,
    **context: object,
) -> HTMLResponse:
    """A sign-in or set-password card, with the pre-session CSRF nonce (as ``/login``)."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    fresh = not (16 <= len(nonce) <= 64)
    if fresh:
        nonce = new_nonce()
    token = csrf_keys(services.settings.secret()).for_login(nonce)
    response = render_card(_cards, template, status=status, csrf_token=token, **context)
    if fresh:
        set_login_cookie(response, nonce, request, services)
    return response


def _form_ok(request: Request, services: Services, token: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return csrf_keys(services.settings.secret()).check_login(nonce, token)


def _signed_in(
    request: Request, services: Services, started: service.Started, slug: str
) -> Response:
    response = RedirectResponse(_base(slug), status_code=303)
    response.set_cookie(
        COOKIE,
        started.token,
        expires=started.expires_at,
        path=_base(slug),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )
    return response


def _partner(request: Request, session: Session, workspace: Workspace) -> Partner | None:
    return service.resolve(session, workspace, request.cookies.get(COOKIE, ""))


@router.get("", response_model=None)
def home(request: Request, slug: Slug, session: SessionDep, services: ServicesDep) -> Response:
    """The signed-in partner's links, totals, commissions and payouts."""
    try:
        workspace = _workspace(session, slug)
    except _NoPortal:
        return _not_found()
    partner = _partner(request, session, workspace)
    if partner is None:
        return RedirectResponse(_base(slug) + "/login", status_code=303)
    shown = service.view(session, workspace, partner)
    token = request.cookies.get(COOKIE, "")
    return _render(
        "portal.html",
        view=shown,
        workspace=workspace,
        base=_base(slug),
        currency=shown.program.currency if shown.program else workspace.currency,
        short_link=services.links.ctx.short_link,
        csrf_token=csrf_keys(services.settings.secret()).for_session(token),
    )


@router.get("/login", response_model=None)
def login_page(
    request: Request, slug: Slug, session: SessionDep, services: ServicesDep
) -> Response:
    """The portal's sign-in form."""
    try:
        workspace = _workspace(session, slug)
    except _NoPortal:
        return _not_found()
    if _partner(request, session, workspace) is not None:
        return RedirectResponse(_base(slug), status_code=303)
    return _card_form(
        request,
        services,
        "portal_login.html",
        program=workspace.name,
        base=_base(slug),
        email="",
        error=None,
    )


@router.post("/login", response_model=None)
def login(
    request: Request,
    slug: Slug,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=service.PASSWORD_MAX)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Check the partner's email and password and open a portal session."""
    try:
        workspace = _workspace(session, slug)
    except _NoPortal:
        return _not_found()
    context = {"program": workspace.name, "base": _base(slug), "email": email}
    if not _form_ok(request, services, csrf_token):
        return _card_form(
            request, services, "portal_login.html", status=403, error=EXPIRED, **context
        )
    try:
        # Counted apart from the dashboard's accounts, per workspace.
        services.rate_limits.login(client_ip(services, request), f"partner:{workspace.id}:{email}")
    except RateLimited as refused:
        page = _card_form(
            request, services, "portal_login.html", status=429, error=refused.message, **context
        )
        page.headers.update(refused.headers)
        return page
    partner = service.authenticate(session, workspace, email, password)
    if partner is None:
        return _card_form(
            request, services, "portal_login.html", status=400, error=WRONG, **context
        )
    service.end_session(session, request.cookies.get(COOKIE, ""))
    return _signed_in(request, services, service.start_session(session, partner), slug)


@router.post("/logout", response_model=None)
def logout(
    request: Request,
    slug: Slug,
    session: SessionDep,
    services: ServicesDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """End the portal session (a browser without one is just sent to sign in)."""
    try:
        workspace = _workspace(session, slug)
    except _NoPortal:
        return _not_found()
    token = request.cookies.get(COOKIE, "")
    response = RedirectResponse(_base(slug) + "/login", status_code=303)
    if _partner(request, session, workspace) is None:
        return response
    if not csrf_keys(services.settings.secret()).check_session(token, csrf_token):
        return render_card(
            _cards, "portal_message.html", status=403, title="Refused", message=EXPIRED
        )
    service.end_session(session, token)
    response.delete_cookie(COOKIE, path=_base(slug), httponly=True, samesite="lax")
    return response


def _invitation(
    session: Session, services: Services, slug: str, token: str
) -> tuple[Workspace, Partner] | Response:
    """The workspace and partner of an invitation, or the page that refuses it."""
    try:
        workspace = _workspace(session, slug)
        partner = service.invited_partner(session, services.settings.secret(), workspace, token)
    except _NoPortal:
        return _not_found()
    except service.InviteInvalid:
        return render_card(
            _cards,
            "portal_message.html",
            status=400,
            title="Invitation expired",
            message=BAD_INVITE,
        )
    return workspace, partner


@router.get("/invite", response_model=None)
def invite_page(
    request: Request,
    slug: Slug,
    session: SessionDep,
    services: ServicesDep,
    token: Annotated[str, Query(max_length=512)] = "",
) -> Response:
    """The invitation: the partner chooses the password of their portal."""
    found = _invitation(session, services, slug, token)
    if isinstance(found, Response):
        return found
    workspace, partner = found
    return _card_form(
        request,
        services,
        "portal_invite.html",
        program=workspace.name,
        base=_base(slug),
        invite=token,
        email=partner.email,
        error=None,
    )


@router.post("/invite", response_model=None)
def accept_invite(
    request: Request,
    slug: Slug,
    session: SessionDep,
    services: ServicesDep,
    token: Annotated[str, Form(max_length=512)] = "",
    password: Annotated[str, Form(max_length=service.PASSWORD_MAX)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Set the partner's password (the invitation is then used up) and sign them in."""
    found = _invitation(session, services, slug, token)
    if isinstance(found, Response):
        return found
    workspace, partner = found
    context = {"program": workspace.name, "base": _base(slug), "invite": token}
    context["email"] = partner.email
    if not _form_ok(request, services, csrf_token):
        # Said without the form (or the program's name): the sender may not be the invitee.
        return render_card(
            _cards,
            "portal_message.html",
            status=403,
            title="Form expired",
            message="This form had expired. Open the invitation link again.",
        )
    try:
        service.set_password(partner, password)
    except CodeQRError as refused:
        return _card_form(
            request,
            services,
            "portal_invite.html",
            status=422,
            error=refused.message.removeprefix("password: ").capitalize() + ".",
            **context,
        )
    service.end_sessions(session, partner)
    return _signed_in(request, services, service.start_session(session, partner), slug)


@router.get("/links/{link_id}/qr.svg", response_model=None)
def link_qr(
    request: Request, slug: Slug, link_id: LinkId, session: SessionDep, services: ServicesDep
) -> Response:
    """The QR code of one of the signed-in partner's links."""
    try:
        workspace = _workspace(session, slug)
    except _NoPortal:
        return _not_found()
    partner = _partner(request, session, workspace)
    if partner is None:
        return RedirectResponse(_base(slug) + "/login", status_code=303)
    link = service.partner_link(session, workspace, partner, link_id)
    if link is None:
        return _not_found()
    short = services.links.ctx.short_link(link.domain, link.key)
    image = qr.qr_image(
        short + "?qr=1", level="M", style=qr.Style(size=300), image_format="svg", logo_url=None
    )
    headers = {
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    return Response(image.body, media_type="image/svg+xml", headers=headers)

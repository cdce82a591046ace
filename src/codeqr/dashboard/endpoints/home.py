"""Where a browser lands: ``/`` and ``/dashboard`` lead to the right workspace, to sign-in, or
for an account in no workspace to a page that creates one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.auth.deps import CsrfDep, MaybeSignedInDep, SignedIn, SignedInDep
from codeqr.dashboard import access
from codeqr.dashboard.deps import Slug, ViewDep
from codeqr.dashboard.forms import workspace_field
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError
from codeqr.workspace import members as team

router = APIRouter(include_in_schema=False)


@router.get("/", response_model=None)
def home(signed_in: MaybeSignedInDep) -> Response:
    """A signed-in browser goes to its dashboard, any other to the sign-in page."""
    return RedirectResponse("/dashboard" if signed_in else "/login", status_code=303)


def _no_workspace(
    signed_in: SignedIn,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        "no_workspace.html",
        status,
        title="No workspace yet",
        email=signed_in.user.email,
        csrf_token=signed_in.csrf_token,
        values=values or {},
        errors=errors or {},
    )


@router.get("/dashboard", response_model=None)
def dashboard(session: SessionDep, signed_in: SignedInDep) -> Response:
    """The links of the user's first workspace; with none (never invited, or left them all),
    a page to create one."""
    found = access.workspaces_of(session, signed_in.user)
    if not found:
        return _no_workspace(signed_in)
    return RedirectResponse(f"/dashboard/{found[0][0].slug}/links", status_code=303)


@router.post("/dashboard/workspaces", response_model=None)
def create_first_workspace(
    session: SessionDep,
    services: ServicesDep,
    signed_in: CsrfDep,
    new_ws_name: Annotated[str, Form(max_length=500)] = "",
    new_ws_slug: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A workspace of one's own from the no-workspace page (the settings tab has the same
    form for those who have one): the signed-in user owns it, on the default plan."""
    try:
        created = team.new_workspace(
            session, signed_in.user, new_ws_name, new_ws_slug, services.settings.default_plan
        )
    except CodeQRError as exc:
        session.rollback()
        values = {"new_ws_name": new_ws_name, "new_ws_slug": new_ws_slug}
        errors = {workspace_field(exc, "new_ws_"): exc.message}
        return _no_workspace(signed_in, values=values, errors=errors, status=exc.status_code)
    return RedirectResponse(f"/dashboard/{created.slug}/links", status_code=303)


@router.get("/dashboard/{slug}", response_model=None)
def workspace_home(slug: Slug, page: ViewDep) -> Response:
    """A workspace opens on its links."""
    return RedirectResponse(f"/dashboard/{page.slug}/links", status_code=303)

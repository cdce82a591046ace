"""Where a browser lands: ``/`` and ``/dashboard`` lead to the right workspace or sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from codeqr.api.deps import SessionDep
from codeqr.auth.deps import MaybeSignedInDep, SignedInDep
from codeqr.dashboard import access
from codeqr.dashboard.deps import PageError, Slug, ViewDep

router = APIRouter(include_in_schema=False)


@router.get("/", response_model=None)
def home(signed_in: MaybeSignedInDep) -> Response:
    """A signed-in browser goes to its dashboard, any other to the sign-in page."""
    return RedirectResponse("/dashboard" if signed_in else "/login", status_code=303)


@router.get("/dashboard", response_model=None)
def dashboard(session: SessionDep, signed_in: SignedInDep) -> Response:
    """The links of the user's first workspace."""
    found = access.workspaces_of(session, signed_in.user)
    if not found:
        raise PageError(
            404,
            "No workspace yet",
            "Your account is not a member of any workspace. Ask an owner to add you, or "
            "create one with `codeqr workspaces create`.",
        )
    return RedirectResponse(f"/dashboard/{found[0][0].slug}/links", status_code=303)


@router.get("/dashboard/{slug}", response_model=None)
def workspace_home(slug: Slug, page: ViewDep) -> Response:
    """A workspace opens on its links."""
    return RedirectResponse(f"/dashboard/{page.slug}/links", status_code=303)

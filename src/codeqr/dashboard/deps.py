"""Dependencies of dashboard routes: the signed-in member of the workspace in the URL.

- ``ViewDep``: any member (a viewer too), for pages;
- ``WriteDep``: a form post with the session's CSRF token by an owner or member;
- ``DataDep``: any member, for the JSON the page scripts fetch (errors as JSON).

A workspace the user is not in answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import Response

from codeqr.api.deps import SessionDep
from codeqr.auth.deps import CsrfDep, SignedIn, SignedInDep
from codeqr.dashboard import access
from codeqr.dashboard.access import Member
from codeqr.dashboard.pages import render
from codeqr.kit.errors import NotFound
from codeqr.workspace.models import Role, Workspace


class PageError(Exception):
    """A refusal shown as a page: what happened and what to do about it."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


def not_found(what: str = "This page") -> PageError:
    """The 404 page, in the same words for what is absent and what is someone else's."""
    return PageError(
        404,
        "Not found",
        f"{what} does not exist, or you do not have access to it. "
        "Pick one of your workspaces from the menu.",
    )


@dataclass(frozen=True)
class Page:
    """Everything a dashboard page is drawn with: who, where, and the other workspaces."""

    signed_in: SignedIn
    member: Member
    workspaces: Sequence[tuple[Workspace, str]]

    @property
    def workspace(self) -> Workspace:
        """The workspace of the URL."""
        return self.member.workspace

    @property
    def slug(self) -> str:
        """The workspace's slug, the first segment after ``/dashboard/``."""
        return self.member.workspace.slug

    def context(self, section: str, **values: Any) -> dict[str, Any]:
        """Template variables shared by every page, plus the page's own."""
        return {
            "page": self,
            "member": self.member,
            "workspace": self.member.workspace,
            "workspaces": self.workspaces,
            "user": self.signed_in.user,
            "csrf_token": self.signed_in.csrf_token,
            "section": section,
            **values,
        }


Slug = Annotated[str, Path(max_length=64)]


def _page(session: SessionDep, signed_in: SignedIn, slug: str) -> Page:
    try:
        found = access.member(session, signed_in.user, slug)
    except NotFound as exc:
        raise not_found("This workspace") from exc
    return Page(signed_in, found, access.workspaces_of(session, signed_in.user))


def view_page(slug: Slug, session: SessionDep, signed_in: SignedInDep) -> Page:
    """A page of a workspace the signed-in user belongs to, in any role."""
    return _page(session, signed_in, slug)


def write_page(slug: Slug, session: SessionDep, signed_in: CsrfDep) -> Page:
    """A form post (CSRF checked) by an owner or member; viewers get 403."""
    page = _page(session, signed_in, slug)
    if not page.member.can_write:
        raise PageError(
            403,
            "View-only access",
            "You can look at this workspace but not change it. Ask one of its owners to "
            "make you a member if you need to.",
        )
    return page


def owner_page(slug: Slug, session: SessionDep, signed_in: CsrfDep) -> Page:
    """A form post (CSRF checked) by an owner: members, invitations, name and slug."""
    page = _page(session, signed_in, slug)
    if page.member.role != Role.owner.value:
        raise PageError(
            403,
            "Owners only",
            "Only an owner of this workspace can change its members, invitations, name or "
            "slug. Ask one of its owners.",
        )
    return page


def account_page(slug: Slug, session: SessionDep, signed_in: CsrfDep) -> Page:
    """A form post (CSRF checked) about the signed-in user's own account: any role."""
    return _page(session, signed_in, slug)


def data_member(slug: Slug, session: SessionDep, signed_in: SignedInDep) -> Member:
    """The member behind a JSON request of a page script; 404 in the error envelope."""
    return access.member(session, signed_in.user, slug)


ViewDep = Annotated[Page, Depends(view_page)]
WriteDep = Annotated[Page, Depends(write_page)]
AccountDep = Annotated[Page, Depends(account_page)]
OwnerDep = Annotated[Page, Depends(owner_page)]
DataDep = Annotated[Member, Depends(data_member)]


def install(app: FastAPI) -> None:
    """Register the page that answers a ``PageError``."""

    @app.exception_handler(PageError)
    async def _page_error(_: Request, exc: PageError) -> Response:
        return render("error.html", status=exc.status, title=exc.title, message=exc.message)

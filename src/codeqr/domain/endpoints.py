"""The custom domains API under ``/api/domains`` (Dub's routes and shapes; secret keys only:
a publishable key is refused with 403 before anything is read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.domain.schemas import SLUG_MAX, DomainCreate, DomainDeleted, DomainOut, DomainUpdate
from codeqr.kit.schemas import QueryInt

router = APIRouter(prefix="/domains", tags=["domains"])

MAX_PAGE_SIZE = 50  # Dub's
MAX_PAGE = 10_000
# Dub's route is /api/domains/[domain]; its SDKs fill the segment with the slug.
DomainPath = Annotated[str, Path(max_length=SLUG_MAX)]


@router.post("", response_model=DomainOut, status_code=201)
def create_domain(
    body: Annotated[DomainCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> DomainOut:
    """Add a custom short domain to the workspace."""
    domain = services.domains.create(session, caller.workspace, body)
    return services.domains.out(domain)


@router.get("", response_model=list[DomainOut])
def list_domains(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    archived: bool = False,
    search: Annotated[str | None, Query(max_length=SLUG_MAX)] = None,
    page: Annotated[QueryInt, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[QueryInt, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
) -> list[DomainOut]:
    """List the workspace's domains (the archived ones with ``archived=true``)."""
    domains = services.domains.find(
        session,
        caller.workspace,
        archived=archived,
        search=search,
        page=page,
        page_size=page_size,
    )
    return [services.domains.out(d) for d in domains]


@router.patch("/{domain}", response_model=DomainOut)
def update_domain(
    domain: DomainPath,
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    body: Annotated[DomainUpdate | None, Body()] = None,
) -> DomainOut:
    """Change a domain; fields not sent stay as they are."""
    found = services.domains.get(session, caller.workspace, domain)
    found = services.domains.update(session, caller.workspace, found, body or DomainUpdate())
    return services.domains.out(found)


@router.delete("/{domain}", response_model=DomainDeleted)
def delete_domain(
    domain: DomainPath, caller: CallerDep, session: SessionDep, services: ServicesDep
) -> DomainDeleted:
    """Delete a domain and the links on it."""
    found = services.domains.get(session, caller.workspace, domain)
    services.domains.delete(session, caller.workspace, found)
    return DomainDeleted(slug=found.slug)

"""The links API under ``/api/links`` (Dub-compatible)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.kit.errors import CodeQRError, Unprocessable
from codeqr.kit.schemas import QueryInt
from codeqr.link.schemas import (
    BulkDeleted,
    BulkUpdate,
    Deleted,
    LinkCreate,
    LinkError,
    LinkOut,
    LinkUpdate,
)

router = APIRouter(prefix="/links", tags=["links"])

MAX_PAGE_SIZE = 100
MAX_BULK = 100


class LinkFilters(BaseModel):
    """Filters shared by list and count."""

    domain: str | None = None
    tagId: str | None = None
    tagIds: str | None = None
    tagNames: str | None = None
    search: str | None = None
    userId: str | None = None
    tenantId: str | None = None
    showArchived: bool = False

    def as_dict(self) -> dict[str, Any]:
        def split(value: str | None) -> list[str]:
            return [v for v in (value or "").split(",") if v]

        return {
            "domain": self.domain,
            "tag_id": self.tagId,
            "tag_ids": split(self.tagIds),
            "tag_names": split(self.tagNames),
            "search": self.search,
            "user_id": self.userId,
            "tenant_id": self.tenantId,
            "show_archived": self.showArchived,
        }


FiltersDep = Annotated[LinkFilters, Query()]


@router.post("", response_model=LinkOut)
def create_link(
    body: Annotated[LinkCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> LinkOut:
    """Create a short link."""
    link = services.links.create(session, caller.workspace, body, caller.key.created_by)
    return services.links.out(session, link)


@router.get("", response_model=list[LinkOut])
def list_links(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    filters: FiltersDep,
    page: Annotated[QueryInt, Query(ge=1)] = 1,
    page_size: Annotated[QueryInt, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    sort_order: Annotated[str, Query(alias="sortOrder", pattern="^(asc|desc)$")] = "desc",
) -> list[LinkOut]:
    """List the workspace's links, newest first, paged."""
    links = services.links.find(
        session,
        caller.workspace,
        filters.as_dict(),
        page=page,
        page_size=page_size,
        sort_desc=sort_order == "desc",
    )
    return services.links.out_many(session, links)


@router.get("/count", response_model=int)
def count_links(
    caller: CallerDep, session: SessionDep, services: ServicesDep, filters: FiltersDep
) -> int:
    """How many links match the filters."""
    return services.links.count(session, caller.workspace, filters.as_dict())


@router.get("/info", response_model=LinkOut)
def link_info(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    domain: str | None = None,
    key: str | None = None,
    link_id: Annotated[str | None, Query(alias="linkId")] = None,
    external_id: Annotated[str | None, Query(alias="externalId")] = None,
) -> LinkOut:
    """One link by ``linkId``, ``externalId`` or ``domain`` and ``key``."""
    link = services.links.info(
        session,
        caller.workspace,
        domain=domain,
        key=key,
        link_id=link_id,
        external_id=external_id,
    )
    return services.links.out(session, link)


@router.put("/upsert", response_model=LinkOut)
def upsert_link(
    body: Annotated[LinkCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> LinkOut:
    """Update the link with the same destination URL, or create it."""
    link = services.links.upsert(session, caller.workspace, body, caller.key.created_by)
    return services.links.out(session, link)


@router.post("/bulk", response_model=list[LinkOut | LinkError])
def bulk_create(
    body: Annotated[list[dict[str, Any]], Body(max_length=MAX_BULK)],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[LinkOut | LinkError]:
    """Create up to 100 links; each item succeeds or reports its own error."""
    from pydantic import ValidationError

    from codeqr.api.errors import describe_validation

    out: list[LinkOut | LinkError] = []
    for item in body:
        try:
            data = LinkCreate.model_validate(item)
        except ValidationError as exc:
            _, message = describe_validation(list(exc.errors()))
            out.append(LinkError(link=item, error=message, code="unprocessable_entity"))
            continue
        savepoint = session.begin_nested()
        try:
            link = services.links.create(session, caller.workspace, data, caller.key.created_by)
        except CodeQRError as exc:
            savepoint.rollback()
            out.append(LinkError(link=item, error=exc.message, code=exc.code))
            continue
        savepoint.commit()
        out.append(services.links.out(session, link))
    return out


@router.patch("/bulk", response_model=list[LinkOut])
def bulk_update(
    body: Annotated[BulkUpdate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[LinkOut]:
    """Apply the same change to up to 100 links (all or nothing)."""
    ids = [*(body.link_ids or []), *("ext_" + e for e in body.external_ids or [])]
    if not ids:
        raise Unprocessable("Provide linkIds or externalIds.")
    if len(ids) > MAX_BULK:
        raise Unprocessable(f"At most {MAX_BULK} links can be updated at once.")
    data = body.data
    if data.model_fields_set & {"key", "external_id"} and len(ids) > 1:
        raise Unprocessable("data: key and externalId cannot be set on several links at once.")
    links = [services.links.get(session, caller.workspace, link_id) for link_id in ids]
    updated = [services.links.update(session, caller.workspace, link, data) for link in links]
    return services.links.out_many(session, updated)


@router.delete("/bulk", response_model=BulkDeleted)
def bulk_delete(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    link_ids: Annotated[str, Query(alias="linkIds", min_length=1)],
) -> BulkDeleted:
    """Delete up to 100 links of the workspace; ids of other workspaces are ignored."""
    ids = [i for i in link_ids.split(",") if i]
    if len(ids) > MAX_BULK:
        raise Unprocessable(f"At most {MAX_BULK} links can be deleted at once.")
    count = 0
    for link_id in dict.fromkeys(ids):
        try:
            link = services.links.get(session, caller.workspace, link_id)
        except CodeQRError:
            continue
        services.links.delete(session, caller.workspace, link)
        count += 1
    return BulkDeleted(deleted_count=count)


@router.get("/{link_id}", response_model=LinkOut)
def get_link(
    link_id: str, caller: CallerDep, session: SessionDep, services: ServicesDep
) -> LinkOut:
    """One link by id or ``ext_<externalId>``."""
    return services.links.out(session, services.links.get(session, caller.workspace, link_id))


@router.patch("/{link_id}", response_model=LinkOut)
def update_link(
    link_id: str,
    body: Annotated[LinkUpdate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> LinkOut:
    """Change a link; fields not sent stay as they are."""
    link = services.links.get(session, caller.workspace, link_id)
    link = services.links.update(session, caller.workspace, link, body)
    return services.links.out(session, link)


@router.delete("/{link_id}", response_model=Deleted)
def delete_link(
    link_id: str, caller: CallerDep, session: SessionDep, services: ServicesDep
) -> Deleted:
    """Delete a link."""
    link = services.links.get(session, caller.workspace, link_id)
    services.links.delete(session, caller.workspace, link)
    return Deleted(id=link.id)

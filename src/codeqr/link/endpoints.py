"""The links API under ``/api/links`` (Dub-compatible: 200 JSON everywhere)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.api.errors import describe_validation
from codeqr.kit.schemas import QueryInt
from codeqr.link.schemas import (
    BulkDeleted,
    BulkItem,
    BulkUpdate,
    CountGroupBy,
    Deleted,
    LinkCreate,
    LinkError,
    LinkFilters,
    LinkOut,
    LinkUpdate,
    SortOrder,
)
from codeqr.link.service import MAX_BULK

router = APIRouter(prefix="/links", tags=["links"])

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000

FiltersDep = Annotated[LinkFilters, Query()]


def _echo(item: Any) -> Any:
    """A bulk item as it can be echoed back in JSON (lone surrogates cannot be encoded)."""
    if isinstance(item, str):
        return item.encode("utf-8", "replace").decode("utf-8")
    if isinstance(item, list):
        return [_echo(v) for v in item]
    if isinstance(item, dict):
        return {_echo(k): _echo(v) for k, v in item.items()}
    return item


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
    page: Annotated[QueryInt, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[QueryInt, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.desc,
    starting_after: Annotated[str | None, Query(alias="startingAfter", max_length=200)] = None,
    ending_before: Annotated[str | None, Query(alias="endingBefore", max_length=200)] = None,
) -> list[LinkOut]:
    """List the workspace's links, newest first, by page or after/before a link."""
    links = services.links.find(
        session,
        caller.workspace,
        filters,
        page=page,
        page_size=page_size,
        order=sort_order,
        starting_after=starting_after,
        ending_before=ending_before,
    )
    return services.links.out_many(session, links)


@router.get("/count", response_model=int | list[dict[str, Any]])
def count_links(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    filters: FiltersDep,
    group_by: Annotated[CountGroupBy | None, Query(alias="groupBy")] = None,
) -> int | list[dict[str, Any]]:
    """How many links match, or ``[{<groupBy>: value, "_count": n}]`` per group."""
    return services.links.count(session, caller.workspace, filters, group_by)


@router.get("/info", response_model=LinkOut)
def link_info(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    domain: Annotated[str | None, Query(max_length=190)] = None,
    key: Annotated[str | None, Query(max_length=400)] = None,
    link_id: Annotated[str | None, Query(alias="linkId", max_length=200)] = None,
    external_id: Annotated[str | None, Query(alias="externalId", max_length=200)] = None,
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
    body: Annotated[list[BulkItem], Body(max_length=MAX_BULK)],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[LinkOut | LinkError]:
    """Create up to 100 links; each item is the link or, in its place, its own error."""
    out: list[LinkOut | LinkError] = []
    for item in body:
        try:
            data = LinkCreate.model_validate(item)
        except ValidationError as exc:
            _, message = describe_validation(list(exc.errors()), source="body")
            out.append(LinkError(link=_echo(item), error=message, code="unprocessable_entity"))
            continue
        result = services.links.try_create(
            session, caller.workspace, _echo(item), data, caller.key.created_by
        )
        out.append(result if isinstance(result, LinkError) else services.links.out(session, result))
    return out


@router.patch("/bulk", response_model=list[LinkOut])
def bulk_update(
    body: Annotated[BulkUpdate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[LinkOut]:
    """Apply the same change to up to 100 links (all or nothing)."""
    links = services.links.update_many(session, caller.workspace, body)
    return services.links.out_many(session, links)


@router.delete("/bulk", response_model=BulkDeleted)
def bulk_delete(
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    link_ids: Annotated[list[str], Query(alias="linkIds", min_length=1)],
) -> BulkDeleted:
    """Delete up to 100 links of the workspace; ids of other workspaces are skipped."""
    # Dub's SDKs send one comma-separated value; repeated parameters work too.
    ids = [i.strip() for value in link_ids for i in value.split(",") if i.strip()]
    count = services.links.delete_many(session, caller.workspace, ids)
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
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    body: Annotated[LinkUpdate | None, Body()] = None,
) -> LinkOut:
    """Change a link; fields not sent stay as they are."""
    link = services.links.get(session, caller.workspace, link_id)
    link = services.links.update(session, caller.workspace, link, body or LinkUpdate())
    return services.links.out(session, link)


@router.delete("/{link_id}", response_model=Deleted)
def delete_link(
    link_id: str, caller: CallerDep, session: SessionDep, services: ServicesDep
) -> Deleted:
    """Delete a link."""
    link = services.links.get(session, caller.workspace, link_id)
    services.links.delete(session, caller.workspace, link)
    return Deleted(id=link.id)

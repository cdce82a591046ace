"""The partners API under ``/api/partners`` (Dub-compatible; business plan and up).

Secret keys only: a publishable key gets 403 (``get_caller``), as on every route that is
not a client tracking route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.link.schemas import LinkOut
from codeqr.partner import analytics, service
from codeqr.partner.schemas import (
    BanRequest,
    PartnerCreate,
    PartnerFilters,
    PartnerLinkCreate,
    PartnerLinkOut,
    PartnerOut,
    PartnerRef,
    Selector,
)

router = APIRouter(prefix="/partners", tags=["partners"])


@router.post("", response_model=PartnerOut, status_code=status.HTTP_201_CREATED)
def create_partner(
    body: Annotated[PartnerCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> PartnerOut:
    """Enroll a partner in the workspace's program (made on first use)."""
    enrollment, partner, _ = service.create(
        session, services.links, caller.workspace, body, caller.key.created_by
    )
    return service.out_one(session, services.links, caller.workspace, enrollment, partner)


@router.get("", response_model=list[PartnerOut])
def list_partners(
    filters: Annotated[PartnerFilters, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[PartnerOut]:
    """List the program's partners with their links and totals."""
    rows = service.list_partners(session, caller.workspace, filters)
    return service.out_many(session, services.links, caller.workspace, rows)


@router.get("/analytics", response_model=None)
def partner_analytics(
    query: Annotated[analytics.PartnerAnalyticsQuery, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> dict[str, int] | list[dict[str, Any]]:
    """A partner's clicks, leads, sales and earnings: a count, a time series or its links."""
    return analytics.retrieve(session, services.links.ctx, caller.workspace, query, services.reader)


@router.get("/links", response_model=list[PartnerLinkOut])
def partner_links(
    who: Annotated[Selector, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[PartnerLinkOut]:
    """A partner's links (by ``partnerId`` or ``tenantId``), oldest first."""
    links = service.partner_links(session, caller.workspace, who)
    return [service.link_out(services.links, link) for link in links]


@router.post("/links", response_model=LinkOut, status_code=status.HTTP_201_CREATED)
def create_partner_link(
    body: Annotated[PartnerLinkCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> LinkOut:
    """Create a link for a partner, to ``url`` or the program's default destination."""
    link = service.create_link(
        session, services.links, caller.workspace, body, caller.key.created_by
    )
    return services.links.out(session, link)


@router.put("/links/upsert", response_model=LinkOut)
def upsert_partner_link(
    body: Annotated[PartnerLinkCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> LinkOut:
    """Update the partner's link to the same ``url``, or create it."""
    link = service.upsert_link(
        session, services.links, caller.workspace, body, caller.key.created_by
    )
    return services.links.out(session, link)


@router.post("/ban", response_model=PartnerRef)
def ban_partner(
    body: Annotated[BanRequest, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> PartnerRef:
    """Ban a partner: its links stop earning and answer 404, its pending commissions are
    canceled."""
    enrollment = service.ban(session, services.links, caller.workspace, body, body.reason)
    return PartnerRef(partner_id=enrollment.partner_id)


@router.post("/deactivate", response_model=PartnerRef)
def deactivate_partner(
    body: Annotated[Selector, Body()], caller: CallerDep, session: SessionDep
) -> PartnerRef:
    """Deactivate a partner: its links stop earning."""
    enrollment = service.deactivate(session, caller.workspace, body)
    return PartnerRef(partner_id=enrollment.partner_id)

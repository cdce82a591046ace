"""``GET /api/analytics``, ``/api/analytics/funnel`` and ``/api/events`` (Dub-compatible)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from codeqr.analytics import event_list, service
from codeqr.analytics.schemas import AnalyticsFilters, AnalyticsQuery, EventsQuery, Funnel
from codeqr.api.deps import CallerDep, ServicesDep, SessionDep

router = APIRouter(tags=["analytics"])


@router.get("/analytics", response_model=None)
def retrieve_analytics(
    query: Annotated[AnalyticsQuery, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> dict[str, int] | list[dict[str, Any]]:
    """Clicks, leads, sales and revenue: a total, a time series, or a breakdown."""
    return service.retrieve(session, services.links.ctx, caller.workspace, query, services.reader)


@router.get("/analytics/funnel", response_model=Funnel)
def retrieve_funnel(
    query: Annotated[AnalyticsFilters, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> Funnel:
    """Clicks → leads → sales with each step's share of clicks, conversion and drop-off."""
    return service.funnel(session, caller.workspace, query, services.reader)


@router.get("/events", response_model=None)
def list_events(
    query: Annotated[EventsQuery, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[dict[str, Any]]:
    """The workspace's clicks, leads or sales, newest first (Business plan and higher)."""
    return event_list.list_events(session, services.links, caller.workspace, query, services.reader)

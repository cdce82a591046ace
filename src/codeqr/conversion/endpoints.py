"""``POST /api/track/lead`` and ``POST /api/track/sale`` for server-side tracking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep, commit_here
from codeqr.conversion import flows
from codeqr.conversion.schemas import TrackLeadIn, TrackLeadOut, TrackSaleIn, TrackSaleOut

router = APIRouter(prefix="/track", tags=["track"])


@router.post("/lead", response_model=TrackLeadOut)
def track_lead(
    body: Annotated[TrackLeadIn, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> TrackLeadOut:
    """Record a lead: the customer behind a click signed up (or did another named thing)."""
    answer = flows.track_lead(session, services, caller.workspace, body)
    commit_here(session)
    return answer


@router.post("/sale", response_model=TrackSaleOut)
def track_sale(
    body: Annotated[TrackSaleIn, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> TrackSaleOut:
    """Record a sale for a customer; one per invoice id, however often it is sent."""
    answer = flows.track_sale(session, services, caller.workspace, body)
    commit_here(session)
    return answer

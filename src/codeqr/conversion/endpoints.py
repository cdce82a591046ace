"""``POST /api/track/lead`` and ``POST /api/track/sale`` for server-side tracking.

Calls with a well-formed body are answered by ``conversion.receiver`` before they reach
FastAPI; these routes answer the rest (their errors are the API's) and describe the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from codeqr.api.deps import CallerApartDep, ServicesDep, in_transaction
from codeqr.conversion import flows
from codeqr.conversion.schemas import TrackLeadIn, TrackLeadOut, TrackSaleIn, TrackSaleOut
from codeqr.services import Services
from codeqr.workspace.models import Workspace

router = APIRouter(prefix="/track", tags=["track"])


def _json(answer: BaseModel) -> Response:
    # Built here: FastAPI would validate the answer again on another worker thread.
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


async def record_lead(
    services: Services, workspace: Workspace, body: TrackLeadIn, *, publishable: bool = False
) -> Response:
    """The lead use case in one transaction on one worker thread (server and client routes;
    ``publishable``: see ``flows.track_lead``)."""

    def work(session: Session) -> TrackLeadOut:
        return flows.track_lead(session, services, workspace, body, publishable=publishable)

    return _json(await in_transaction(services, work))


async def record_sale(
    services: Services, workspace: Workspace, body: TrackSaleIn, *, publishable: bool = False
) -> Response:
    """The sale use case in one transaction on one worker thread (server and client routes;
    ``publishable``: see ``flows.track_sale``)."""

    def work(session: Session) -> TrackSaleOut:
        return flows.track_sale(session, services, workspace, body, publishable=publishable)

    return _json(await in_transaction(services, work))


@router.post("/lead", response_model=TrackLeadOut)
async def track_lead(
    body: Annotated[TrackLeadIn, Body()], caller: CallerApartDep, services: ServicesDep
) -> Response:
    """Record a lead: the customer behind a click signed up (or did another named thing)."""
    return await record_lead(services, caller.workspace, body)


@router.post("/sale", response_model=TrackSaleOut)
async def track_sale(
    body: Annotated[TrackSaleIn, Body()], caller: CallerApartDep, services: ServicesDep
) -> Response:
    """Record a sale for a customer; one per invoice id, however often it is sent."""
    return await record_sale(services, caller.workspace, body)

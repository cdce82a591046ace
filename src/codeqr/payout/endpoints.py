"""The payouts API under ``/api/payouts`` (Dub-compatible; business plan and up; secret
keys only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from codeqr.api.deps import CallerDep, SessionDep
from codeqr.payout import service
from codeqr.payout.schemas import PayoutFilters, PayoutOut

router = APIRouter(prefix="/payouts", tags=["payouts"])


@router.get("", response_model=list[PayoutOut])
def list_payouts(
    filters: Annotated[PayoutFilters, Query()], caller: CallerDep, session: SessionDep
) -> list[PayoutOut]:
    """List the program's payouts, largest first unless sorted otherwise."""
    rows = service.list_payouts(session, caller.workspace, filters)
    return [service.out(payout, partner, enrollment) for payout, partner, enrollment in rows]

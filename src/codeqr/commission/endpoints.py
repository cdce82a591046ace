"""The commissions API under ``/api/commissions`` (Dub-compatible; business plan and up;
secret keys only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.commission import manual, service
from codeqr.commission.models import CommissionStatus
from codeqr.commission.schemas import (
    Accepted,
    BulkStatusUpdate,
    CommissionFilters,
    CommissionOut,
    CommissionUpdate,
    CustomCommissionCreate,
    StatusOut,
)
from codeqr.program import service as programs

router = APIRouter(prefix="/commissions", tags=["commissions"])


@router.get("", response_model=list[CommissionOut])
def list_commissions(
    filters: Annotated[CommissionFilters, Query()], caller: CallerDep, session: SessionDep
) -> list[CommissionOut]:
    """List the program's commissions, newest first, by page or after/before one."""
    rows = service.list_commissions(session, caller.workspace, filters)
    return service.out_many(session, rows)


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
def create_commission(
    body: Annotated[CustomCommissionCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> Accepted:
    """Create a manual commission for a partner, or a clawback (negative ``amount``); or
    record a lead or sale on the partner's link with the commission it earns."""
    if body.type == "custom":
        commission = service.create_custom(session, caller.workspace, body)
    else:
        made = manual.create(session, services, caller.workspace, body)
        if made is None:
            return Accepted(
                success=True,
                message=f"The {body.type} was recorded; under the program's reward it earns "
                "no commission.",
            )
        commission = made
    return Accepted(success=True, message=f"Commission {commission.id} created.")


@router.patch("/bulk", response_model=list[StatusOut])
def update_commissions(
    body: Annotated[BulkStatusUpdate, Body()], caller: CallerDep, session: SessionDep
) -> list[StatusOut]:
    """Set one status on up to 100 commissions (all or nothing)."""
    rows = service.update_many(session, caller.workspace, body)
    return [StatusOut(id=c.id, status=CommissionStatus(c.status)) for c in rows]


@router.patch("/{commission_id}", response_model=CommissionOut)
def update_commission(
    commission_id: str,
    caller: CallerDep,
    session: SessionDep,
    body: Annotated[CommissionUpdate | None, Body()] = None,
) -> CommissionOut:
    """Change a commission's status, sale amount or earnings (before it is paid out)."""
    programs.gate(session, caller.workspace)
    commission = service.get(session, caller.workspace, commission_id)
    commission = service.update(session, caller.workspace, commission, body or CommissionUpdate())
    return service.out_many(session, [commission])[0]

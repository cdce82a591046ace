"""The customers API under ``/api/customers`` (Dub-compatible; ids or ``ext_<externalId>``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from sqlalchemy.orm import Session

from codeqr.api.deps import Caller, CallerDep, ServicesDep, SessionDep
from codeqr.customer import service
from codeqr.customer.schemas import (
    CustomerCreate,
    CustomerDeleted,
    CustomerFilters,
    CustomerOut,
    CustomerUpdate,
)
from codeqr.workspace.service import require_plan

router = APIRouter(prefix="/customers", tags=["customers"])

FEATURE = "Customers"


def _gate(session: Session, caller: Caller) -> None:
    require_plan(session, caller.workspace, FEATURE)


@router.get("", response_model=list[CustomerOut])
def list_customers(
    filters: Annotated[CustomerFilters, Query()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> list[CustomerOut]:
    """List the workspace's customers, newest first unless sorted otherwise."""
    _gate(session, caller)
    rows = service.list_customers(session, caller.workspace.id, filters)
    return service.out_many(
        session,
        rows,
        services.links.ctx,
        caller.workspace.currency,
        expanded=filters.include_expanded_fields,
    )


@router.post("", response_model=CustomerOut)
def create_customer(
    body: Annotated[CustomerCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> CustomerOut:
    """Create a customer known by the merchant's own id (``externalId``)."""
    _gate(session, caller)
    customer = service.create_customer(session, caller.workspace.id, body)
    return service.out(session, customer, services.links.ctx, caller.workspace.currency)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(
    customer_id: str,
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    include_expanded_fields: Annotated[bool, Query(alias="includeExpandedFields")] = True,
) -> CustomerOut:
    """A customer by id or ``ext_<externalId>``."""
    _gate(session, caller)
    customer = service.get_customer(session, caller.workspace.id, customer_id)
    return service.out(
        session,
        customer,
        services.links.ctx,
        caller.workspace.currency,
        expanded=include_expanded_fields,
    )


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: str,
    body: Annotated[CustomerUpdate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> CustomerOut:
    """Change a customer's details; ``null`` clears a field."""
    _gate(session, caller)
    customer = service.get_customer(session, caller.workspace.id, customer_id)
    customer = service.update_customer(session, customer, body)
    return service.out(session, customer, services.links.ctx, caller.workspace.currency)


@router.delete("/{customer_id}", response_model=CustomerDeleted)
def delete_customer(customer_id: str, caller: CallerDep, session: SessionDep) -> CustomerDeleted:
    """Delete a customer; their leads and sales stay in analytics."""
    _gate(session, caller)
    customer = service.get_customer(session, caller.workspace.id, customer_id)
    service.delete_customer(session, customer)
    return CustomerDeleted(id=customer.id)

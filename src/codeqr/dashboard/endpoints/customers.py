"""The customers page: who converted, through which link, and what they spent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.customer import service as customers
from codeqr.customer.schemas import CustomerFilters
from codeqr.dashboard import csv_export
from codeqr.dashboard import service as views
from codeqr.dashboard.deps import DataDep, ViewDep
from codeqr.dashboard.pages import render
from codeqr.workspace.service import require_plan

router = APIRouter(prefix="/dashboard/{slug}", include_in_schema=False)


@router.get("/customers", response_class=HTMLResponse)
def list_customers(
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=190)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The workspace's customers, newest first (Business plan and higher)."""
    found = None
    if page.member.conversions:
        found = views.customers_page(
            session, services.links, page.workspace, q.strip(), page_number
        )
    return render("customers.html", **page.context("customers", customers=found))


@router.get("/customers.csv", response_model=None)
def customers_csv(
    member: DataDep,
    session: SessionDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=190)] = "",
) -> Response:
    """The customers the page lists (its search applied), newest first, as a CSV file: at
    most ``MAX_EXPORT_ROWS``."""
    workspace = member.workspace
    require_plan(session, workspace, "Customers")
    rows = []
    size = 100  # the customers list's largest page
    for number in range(1, csv_export.MAX_EXPORT_ROWS // size + 1):
        filters = CustomerFilters(search=q.strip() or None, page=number, page_size=size)
        found = customers.list_customers(session, workspace.id, filters)
        rows.extend(customers.out_many(session, found, services.links.ctx, workspace.currency))
        if len(found) < size:
            break
    body = csv_export.customers_csv(rows, workspace.currency)
    return csv_export.download(body, f"codeqr-{workspace.slug}-customers.csv")

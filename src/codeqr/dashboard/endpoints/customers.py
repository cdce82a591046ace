"""The customers page: who converted, through which link, and what they spent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.dashboard import service as views
from codeqr.dashboard.deps import ViewDep
from codeqr.dashboard.pages import render

router = APIRouter(prefix="/dashboard/{slug}/customers", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
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

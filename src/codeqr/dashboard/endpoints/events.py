"""The live events page: clicks, leads, sales and refunds as they happen (SSE)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from codeqr.dashboard.deps import ViewDep
from codeqr.dashboard.pages import render

router = APIRouter(prefix="/dashboard/{slug}/events", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def live_events(page: ViewDep) -> HTMLResponse:
    """The page; its script follows ``/api/events/stream`` with the session cookie."""
    return render("events.html", **page.context("events"))

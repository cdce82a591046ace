"""The live events page: clicks, leads, sales and refunds as they happen (SSE)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.dashboard.deps import ViewDep
from codeqr.dashboard.pages import render
from codeqr.stream import service as stream

router = APIRouter(prefix="/dashboard/{slug}/events", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def live_events(page: ViewDep, session: SessionDep, services: ServicesDep) -> HTMLResponse:
    """The page with the newest events already in it; its script follows
    ``/api/events/stream`` (session cookie) from the newest of them on."""
    history = "[]"
    if page.member.conversions:
        feed = services.feed
        frames = stream.recent(
            session,
            feed.shaper,
            page.workspace.id,
            stream.HISTORY_LIMIT,
            byte_order=feed.byte_order,
        )
        history = stream.as_json(frames)
    return render("events.html", **page.context("events", history=history))

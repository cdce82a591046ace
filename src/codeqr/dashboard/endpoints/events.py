"""The live events page: clicks, leads, sales and refunds as they happen (SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from codeqr.analytics import event_list
from codeqr.analytics.schemas import EventsQuery
from codeqr.analytics.timeframe import Interval
from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.dashboard import csv_export
from codeqr.dashboard.deps import DataDep, ViewDep
from codeqr.dashboard.pages import render
from codeqr.stream import service as stream

router = APIRouter(prefix="/dashboard/{slug}", include_in_schema=False)


@router.get("/events", response_class=HTMLResponse)
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


@router.get("/events.csv", response_model=None)
def events_csv(
    query: Annotated[EventsQuery, Query()],
    member: DataDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Events of one type (``event``: clicks, leads or sales; the range and filters of
    ``GET /api/events``, the last 30 days unless told), newest first, as a CSV file: at
    most ``MAX_EXPORT_ROWS``."""
    workspace = member.workspace
    if query.interval is None and not query.start:
        query = query.model_copy(update={"interval": Interval.last_30d})
    rows: list[dict[str, Any]] = []
    size = 1_000  # the events list's largest page
    for number in range(1, csv_export.MAX_EXPORT_ROWS // size + 1):
        page = query.model_copy(update={"page": number, "limit": size})
        found = event_list.list_events(session, services.links, workspace, page, services.reader)
        rows.extend(found)
        if len(found) < size:
            break
    name = f"codeqr-{workspace.slug}-{query.event.value}-{query.interval or 'range'}.csv"
    return csv_export.download(csv_export.events_csv(rows), name)

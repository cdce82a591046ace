"""``GET /api/events/stream``: the workspace's events as Server-Sent Events, live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from codeqr.api.deps import ServicesDep, SessionDep, authorize, in_transaction
from codeqr.api.errors import answers
from codeqr.auth import service as auth
from codeqr.auth.deps import SESSION_COOKIE
from codeqr.kit.errors import Unauthorized
from codeqr.services import Services
from codeqr.stream import service
from codeqr.stream.feed import Frame
from codeqr.workspace.models import Workspace

router = APIRouter(tags=["events"])

_HEADERS = {
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on as it comes
}


@answers(400, 401, 403, 404)
def stream_workspace(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    workspace: Annotated[str | None, Query(max_length=190)] = None,
) -> Workspace:
    """The workspace to watch: a secret key's own, or one the signed-in user belongs to."""
    if request.headers.get("authorization"):
        caller = authorize(session, request, services)
        return service.for_key(session, caller.workspace, workspace)
    found = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise Unauthorized(
            "Unauthorized: send a secret API key (Authorization: Bearer) or sign in."
        )
    return service.for_member(session, found[1], workspace)


def resume_point(
    header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    query: Annotated[str | None, Query(alias="lastEventId", max_length=64)] = None,
) -> str | None:
    """The id of the last event the client received, when it is reconnecting."""
    return service.last_event_id(header, query)


@router.get("/events/stream", response_class=StreamingResponse)
async def stream_events(
    workspace: Annotated[Workspace, Depends(stream_workspace)],
    after: Annotated[str | None, Depends(resume_point)],
    services: ServicesDep,
) -> StreamingResponse:
    """Every click, lead, sale and refund of the workspace as it is stored (Business plan
    and higher); resumable with ``Last-Event-ID``."""
    body = _events(services, workspace.id, after)
    return StreamingResponse(body, media_type="text/event-stream", headers=_HEADERS)


async def _events(services: Services, workspace_id: str, after: str | None) -> AsyncIterator[bytes]:
    feed = services.feed
    sub = await feed.subscribe(workspace_id)
    if sub is None:
        return
    try:
        yield service.opening()
        # Subscribed first, then the backlog read: an event stored in between is in both,
        # and sent once.
        replayed: set[str] = set()
        if after is not None:

            def read(session: Session) -> list[Frame]:
                return service.missed(
                    session, feed.shaper, workspace_id, after, byte_order=feed.byte_order
                )

            backlog = await in_transaction(services, read)
            replayed = {frame.id for frame in backlog}
            if backlog:
                yield b"".join(frame.data for frame in backlog)
        heartbeat = services.settings.stream_heartbeat_seconds
        while (live := await sub.next(heartbeat)) is not None:
            if not live:
                yield service.ping()
                continue
            fresh = [frame.data for frame in live if frame.id not in replayed]
            if fresh:
                yield b"".join(fresh)
        yield f": closed ({sub.ended})\n\n".encode()
    finally:
        feed.unsubscribe(sub)

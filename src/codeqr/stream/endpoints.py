"""``GET /api/events/stream``: the workspace's events as Server-Sent Events, live."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from codeqr.api.deps import ServicesDep, SessionDep, authorize, in_transaction
from codeqr.api.errors import answers
from codeqr.auth import service as auth
from codeqr.auth.deps import SESSION_COOKIE
from codeqr.kit.errors import Unauthorized
from codeqr.services import Services
from codeqr.stream import service
from codeqr.stream.feed import Frame, Subscription

router = APIRouter(tags=["events"])

_HEADERS = {
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on as it comes
}


def _admit(
    session: Session, request: Request, services: Services, named: str | None
) -> service.Watch:
    """Who may watch which workspace: a secret key its own, a signed-in user one they are a
    member of (``named``); raises when neither holds. Run again while the stream is open."""

    def recheck(again: Session) -> service.Watch:
        return _admit(again, request, services, named)

    if request.headers.get("authorization"):
        caller = authorize(session, request, services)
        workspace = service.for_key(session, caller.workspace, named)
        return service.Watch(workspace.id, f"key:{caller.key.id}", recheck)
    found = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise Unauthorized(
            "Unauthorized: send a secret API key (Authorization: Bearer) or sign in."
        )
    workspace = service.for_member(session, found[1], named)
    return service.Watch(workspace.id, f"session:{found[0].id}", recheck)


@answers(400, 401, 403, 404)
def stream_watch(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    workspace: Annotated[str | None, Query(max_length=190)] = None,
) -> service.Watch:
    """The workspace to watch: a secret key's own, or one the signed-in user belongs to."""
    return _admit(session, request, services, workspace)


def resume_point(
    header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    query: Annotated[str | None, Query(alias="lastEventId", max_length=64)] = None,
) -> str | None:
    """The id of the last event the client received, when it is reconnecting."""
    return service.last_event_id(header, query)


@router.get("/events/stream", response_class=StreamingResponse)
async def stream_events(
    watch: Annotated[service.Watch, Depends(stream_watch)],
    after: Annotated[str | None, Depends(resume_point)],
    services: ServicesDep,
) -> StreamingResponse:
    """Every click, lead, sale and refund of the workspace as it is stored (Business plan
    and higher); resumable with ``Last-Event-ID``."""
    return _EventStream(services, watch, after)


class _EventStream(StreamingResponse):
    """The stream, subscribed when the response starts: one over its cap is refused (429)
    before its first byte, and its slot is freed however the response ends (even when its
    body is never iterated, e.g. a client gone before the headers)."""

    def __init__(self, services: Services, watch: service.Watch, after: str | None) -> None:
        super().__init__(iter(()), media_type="text/event-stream", headers=_HEADERS)
        self.services = services
        self.watch = watch
        self.after = after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings, feed = self.services.settings, self.services.feed
        admit = service.admission(settings.stream_max_per_key, settings.stream_max_per_workspace)
        sub = await feed.subscribe(self.watch.workspace_id, self.watch.holder, admit)
        if sub is None:  # shutting down
            await super().__call__(scope, receive, send)
            return
        try:
            self.body_iterator = _events(self.services, self.watch, sub, self.after)
            await super().__call__(scope, receive, send)
        finally:
            feed.unsubscribe(sub)


async def _events(
    services: Services, watch: service.Watch, sub: Subscription, after: str | None
) -> AsyncIterator[bytes]:
    feed = services.feed
    workspace_id = watch.workspace_id
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
    recheck = services.settings.stream_recheck_seconds
    checked = time.monotonic()
    while (live := await sub.next(heartbeat)) is not None:
        # A revoked key (or an ended sign-in) must not keep reading: ask again at every
        # heartbeat, and before delivering when the last answer is older than ``recheck``.
        if not live or time.monotonic() - checked >= recheck:
            if not await in_transaction(services, lambda s: service.still_allowed(s, watch)):
                sub.end("revoked")
                break
            checked = time.monotonic()
        if not live:
            yield service.ping()
            continue
        fresh = [frame.data for frame in live if frame.id not in replayed]
        if fresh:
            yield b"".join(fresh)
    yield f": closed ({sub.ended})\n\n".encode()

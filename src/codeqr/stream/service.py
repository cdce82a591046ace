"""Rules of the events stream: who may watch which workspace, what each event looks like on
the wire, and what a reconnecting client missed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.analytics.event_list import shape_events
from codeqr.kit.clock import now_ms
from codeqr.kit.errors import BadRequest, CodeQRError, NotFound, RateLimited
from codeqr.kit.ids import click_id, is_base62
from codeqr.link.service import LinkService
from codeqr.stream import repository as repo
from codeqr.stream.feed import Frame, Rows, Shaper
from codeqr.workspace.models import Membership, User, Workspace
from codeqr.workspace.service import require_plan

FEATURE = "The events stream"
RETRY_MS = 3000
"""How long a browser waits before it reconnects (the ``retry:`` field)."""
BACKLOG_MS = 24 * 3600 * 1000
BACKLOG_LIMIT = 1000
"""What a resumed stream replays at most: the newest 1000 events of the last 24 hours."""
HISTORY_LIMIT = 50
"""What the live page shows on open: the newest 50 events of the last 24 hours."""
_EVENT_ID_LENGTH = 16
FULL_RETRY_SECONDS = 10
"""``Retry-After`` of a stream refused for too many open ones: a slot frees when one closes."""


@dataclass(frozen=True)
class Watch:
    """Who watches which workspace, and how to ask again whether they still may."""

    workspace_id: str
    holder: str
    """``key:<id>`` or ``session:<id>``: one cap of open streams each."""
    recheck: Callable[[Session], Watch]
    """Runs the opening checks again (key live, sign-in live, member, plan); raises a
    ``CodeQRError`` once access is gone."""


def still_allowed(session: Session, watch: Watch) -> bool:
    """Whether the holder of an open stream may still watch its workspace."""
    try:
        again = watch.recheck(session)
    except CodeQRError:
        return False
    return again.workspace_id == watch.workspace_id and again.holder == watch.holder


def admission(per_key: int, per_workspace: int) -> Callable[[int, int], None]:
    """The check ``Feed.subscribe`` runs on the counts of open streams: 429 over a cap."""

    def admit(of_holder: int, of_workspace: int) -> None:
        # Each open stream holds a connection and a queue of up to 1000 events for as long
        # as the client likes: a leaked or hostile key must not hold them without bound.
        if of_holder >= per_key:
            raise RateLimited(
                f"Too many open event streams for this key or sign-in (at most {per_key}): "
                "close one, or share one stream between readers.",
                headers={"Retry-After": str(FULL_RETRY_SECONDS)},
            )
        if of_workspace >= per_workspace:
            raise RateLimited(
                f"Too many open event streams for this workspace (at most {per_workspace}).",
                headers={"Retry-After": str(FULL_RETRY_SECONDS)},
            )

    return admit


def for_key(session: Session, workspace: Workspace, named: str | None) -> Workspace:
    """The workspace of an API key; naming another one gets 404 (tenancy), a lower plan 403."""
    if named and named not in (workspace.slug, workspace.id):
        raise NotFound(f"Workspace {named[:64]} not found.")
    require_plan(session, workspace, FEATURE)
    return workspace


def for_member(session: Session, user: User, named: str | None) -> Workspace:
    """The workspace (by slug or id) of a signed-in user; 404 unless they belong to it, so a
    workspace they are not in looks like one that does not exist."""
    if not named:
        raise BadRequest("workspace: name the workspace to watch (?workspace=<slug>).")
    workspace = session.scalar(
        select(Workspace)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(
            Membership.user_id == user.id,
            (Workspace.slug == named) | (Workspace.id == named),
        )
    )
    if workspace is None:
        raise NotFound(f"Workspace {named[:64]} not found.")
    require_plan(session, workspace, FEATURE)
    return workspace


def last_event_id(header: str | None, query: str | None) -> str | None:
    """Where a reconnecting client left off (the header a browser sends, or the query
    parameter for clients that cannot set headers); 400 when it is not an event id."""
    value = (header or query or "").strip()
    if not value:
        return None
    if len(value) != _EVENT_ID_LENGTH or not is_base62(value):
        raise BadRequest(f"lastEventId: {value[:64]!r} is not an event id.")
    return value


def opening() -> bytes:
    """The first bytes of every stream: the reconnection delay, and a comment that tells the
    client the subscription is live."""
    return f"retry: {RETRY_MS}\n: connected\n\n".encode()


def ping() -> bytes:
    """A heartbeat: an SSE comment, ignored by clients, that keeps proxies from timing out."""
    return b": ping\n\n"


def encode(event_type: str, event_id: str, data: dict[str, object]) -> Frame:
    """One event as an SSE message: ``id``, ``event`` and the JSON object on one line."""
    body = orjson.dumps(data)
    return Frame(
        event_id,
        b"".join(
            (
                b"id: ",
                event_id.encode(),
                b"\nevent: ",
                event_type.encode(),
                b"\ndata: ",
                body,
                b"\n\n",
            )
        ),
    )


def shaper(links: LinkService) -> Shaper:
    """Shapes rows as ``GET /api/events`` does, plus ``test`` (Stripe test-mode data)."""

    def shape(session: Session, workspace_id: str, rows: Rows) -> list[Frame]:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            return []
        frames: list[Frame] = []
        ordered = sorted(rows, key=lambda item: item[0])
        for event_type, group in groupby(ordered, key=lambda item: item[0]):
            stored = [row for _, row in group]
            shaped = shape_events(session, links, workspace, event_type, stored)
            for row, data in zip(stored, shaped, strict=True):
                data["test"] = bool(row.get("test", False))
                frames.append(encode(event_type, row["id"], data))
        frames.sort(key=lambda frame: frame.id.encode())
        return frames

    return shape


def missed(
    session: Session, shape: Shaper, workspace_id: str, after: str, *, byte_order: bool
) -> list[Frame]:
    """What was stored after the event ``after``: the newest ``BACKLOG_LIMIT`` events of the
    last ``BACKLOG_MS``, oldest first."""
    floor = click_id(now_ms() - BACKLOG_MS)[:7]
    since = max(after, floor, key=str.encode)
    conn = session.connection()
    rows = repo.latest_after(conn, workspace_id, since, BACKLOG_LIMIT, plain=byte_order)
    return shape(session, workspace_id, rows)


def recent(
    session: Session, shape: Shaper, workspace_id: str, limit: int, *, byte_order: bool
) -> list[Frame]:
    """The newest ``limit`` (at most ``BACKLOG_LIMIT``) events of the last ``BACKLOG_MS``,
    oldest first: what a page shows before its stream is open, which then resumes after the
    newest of them."""
    floor = click_id(now_ms() - BACKLOG_MS)[:7]
    conn = session.connection()
    rows = repo.latest_after(conn, workspace_id, floor, min(limit, BACKLOG_LIMIT), plain=byte_order)
    return shape(session, workspace_id, rows)


def as_json(frames: list[Frame]) -> str:
    """Frames as a JSON list of ``{"id", "type", "data"}``, safe inside a ``<script>``
    element (no ``<`` left to close it)."""
    items = []
    for frame in frames:
        head, _, rest = frame.data.partition(b"\ndata: ")
        kind = head.rsplit(b"event: ", 1)[1]
        body = rest.rstrip(b"\n")
        items.append(
            b'{"id":'
            + orjson.dumps(frame.id)
            + b',"type":'
            + orjson.dumps(kind.decode())
            + b',"data":'
            + body
            + b"}"
        )
    return (b"[" + b",".join(items) + b"]").replace(b"<", b"\\u003c").decode()

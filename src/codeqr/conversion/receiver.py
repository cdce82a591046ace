"""``POST /api/track/lead`` and ``POST /api/track/sale`` as a plain ASGI endpoint, beside the
framework.

These are the busiest writes of the API: a merchant's backend calls them on every sign-up
and every payment, in bursts. Through FastAPI a call spent more time in routing, dependency
solving and thread hand-offs than in its SQL. Here a call is read and validated on the event
loop with the same schemas, then the key check, the plan check and the use case run in one
transaction on one worker thread, and the answer is written straight back.

Anything out of the ordinary (no declared length, a body that is not a JSON object of the
right shape) is handed to the API unchanged, so malformed input gets exactly the answers it
always got. Errors of the call itself are rendered by the API's own exception handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, cast

import anyio
import anyio.to_thread
import orjson
import structlog
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from codeqr.api.deps import bearer_token, transaction
from codeqr.api.ratelimits import STATE_KEY
from codeqr.conversion import flows
from codeqr.conversion.batch import Answer, Batcher, Headers
from codeqr.conversion.schemas import TrackLeadIn, TrackSaleIn
from codeqr.kit.errors import CodeQRError, Forbidden, Unauthorized, error_envelope
from codeqr.kit.passwords import hash_token
from codeqr.kit.prepared import prepared
from codeqr.kit.ratelimit import Decision
from codeqr.redirect.handler import Receive, Scope, Send
from codeqr.services import Services
from codeqr.workspace.models import ApiKey, KeyKind, Plan, Workspace
from codeqr.workspace.service import require_plan

log = structlog.get_logger(__name__)

Body = TrackLeadIn | TrackSaleIn
ROUTES: dict[str, type[Body]] = {"/api/track/lead": TrackLeadIn, "/api/track/sale": TrackSaleIn}
Message = Mapping[str, Any]
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
"""Nineteen digits in a row: as a number, at least 10**18 from zero, where orjson's integers
end (below -2**63 and above 2**64 - 1 it reads floats)."""
Handler = Callable[[Request, Exception], Any]

_keys = cast(Table, ApiKey.__table__)
_workspaces = cast(Table, Workspace.__table__)
_plans = cast(Table, Plan.__table__)
# The key, its workspace and what its plan allows, in one read.
_GRANT = (
    select(
        _keys.c.id,
        _keys.c.kind,
        _keys.c.last_used_at,
        _workspaces.c.id,
        _workspaces.c.currency,
        _workspaces.c.plan,
        _plans.c.conversions,
        _plans.c.api_rate_per_minute,
    )
    .select_from(
        _keys.join(_workspaces, _workspaces.c.id == _keys.c.workspace_id).outerjoin(
            _plans, _plans.c.name == _workspaces.c.plan
        )
    )
    .where(_keys.c.token_hash == bindparam("token_hash"), _keys.c.revoked_at.is_(None))
)


class Grant(NamedTuple):
    key_id: str
    kind: str
    last_used_at: datetime | None
    workspace_id: str
    currency: str
    plan: str
    conversions: bool | None
    """``None`` when the workspace's plan has no row (``require_plan`` says so)."""
    api_rate_per_minute: int | None


def authorize(
    session: Session, services: Services, authorization: str, state: dict[str, Any]
) -> Workspace:
    """The secret key's workspace, checked as ``api.deps.authorize`` and ``require_plan``
    do (same errors, same order), in one prepared read; the workspace is not loaded. The
    call is counted against the key's rate; its decision is left in ``state``."""
    token = bearer_token(authorization)
    row = prepared(_GRANT, session).first(session, {"token_hash": hash_token(token)})
    if row is None:
        raise Unauthorized("Unauthorized: Invalid API key.")
    grant = Grant(*row)
    if grant.kind == KeyKind.publishable:
        raise Forbidden("Publishable keys can only be used for client-side tracking.")
    workspace = _workspace(grant.workspace_id, grant.currency, grant.plan)
    if grant.api_rate_per_minute is None:
        require_plan(session, workspace, flows.CONVERSIONS)  # no such plan: its 422
    else:
        services.rate_limits.api_key(grant.key_id, grant.api_rate_per_minute, state)
    services.key_usage.mark_id(grant.key_id, grant.last_used_at)
    if not grant.conversions:
        require_plan(session, workspace, flows.CONVERSIONS)  # raises its 403 (or 422)
    return workspace


@lru_cache(maxsize=1024)
def _workspace(workspace_id: str, currency: str, plan: str) -> Workspace:
    # What the use cases read of the workspace, never attached to a session: made once per
    # (workspace, currency, plan), as building a mapped object costs more than the read.
    return Workspace(id=workspace_id, currency=currency, plan=plan)


def work(
    session: Session, services: Services, authorization: str, body: Body
) -> tuple[BaseModel, Headers]:
    """One call's key check and use case, in the caller's transaction; the answer and its
    rate-limit headers."""
    state: dict[str, Any] = {}
    workspace = authorize(session, services, authorization, state)
    if isinstance(body, TrackLeadIn):
        answer: BaseModel = flows.track_lead(session, services, workspace, body, plan_checked=True)
    else:
        answer = flows.track_sale(session, services, workspace, body, plan_checked=True)
    decision: Decision | None = state.get(STATE_KEY)
    return answer, _raw(decision.headers()) if decision else []


def track(services: Services, authorization: str, body: Body) -> Answer:
    """One call, start to finish on this thread: its transaction, then its answer."""
    answer, headers = transaction(
        services, lambda session: work(session, services, authorization, body)
    )
    return answer.model_dump_json(by_alias=True).encode(), headers


def _raw(headers: Mapping[str, str]) -> Headers:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


class TrackReceiver:
    """The two server-side tracking routes; ``route`` says whether a request is one."""

    def __init__(self, services: Services, api: Any, handlers: Mapping[Any, Handler]) -> None:
        self.services = services
        self.api = api
        """The whole API app, for every request this does not answer itself."""
        self.handlers = handlers
        self.limit = services.settings.max_body_bytes
        # SQLite has one writer: calls queue for it and share its commits (see ``batch``).
        # On PostgreSQL each call has its transaction, as many at once as the pool allows,
        # first come first served.
        self.batcher = Batcher(services, work) if services.db.is_sqlite else None
        self.workers = services.db.max_connections
        self._limiter: anyio.CapacityLimiter | None = None

    @staticmethod
    def route(scope: Scope) -> type[Body] | None:
        if scope["method"] != "POST":
            return None
        return ROUTES.get(scope["path"])

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, schema: type[Body]
    ) -> None:
        length = authorization = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value
        if length is None or not length.isdigit() or int(length) > self.limit:
            await self.api(scope, receive, send)  # chunked or oversize: BodyLimit's call
            return
        raw, first = await self._read(receive)
        body = self._parse(schema, raw, content_type)
        if body is None:
            await self.api(scope, _replay(first, receive), send)
            return
        try:
            content, headers = await self._track(authorization or "", body)
        except CodeQRError as exc:
            await _answer(send, exc.status_code, orjson.dumps(exc.envelope()), _raw(exc.headers))
            return
        except Exception as exc:  # rendered as the API renders it (IntegrityError: 409, …)
            handlers = self.handlers
            handler = next((handlers[t] for t in type(exc).__mro__ if t in handlers), None)
            if handler is None:
                log.exception("api.unhandled", error=repr(exc))
                envelope = error_envelope("internal_server_error", "An internal error occurred.")
                await _answer(send, 500, orjson.dumps(envelope))
                return
            response = await handler(Request(scope), exc)
            await response(scope, receive, send)
            return
        await _answer(send, 200, content, headers)

    async def _track(self, authorization: str, body: Body) -> Answer:
        if self.batcher is not None:
            return await self.batcher.submit(authorization, body)
        if self._limiter is None:  # made on the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.workers)
        return await anyio.to_thread.run_sync(
            track, self.services, authorization, body, limiter=self._limiter
        )

    async def _read(self, receive: Receive) -> tuple[bytes, list[Message]]:
        """The body, and the messages it came in (to hand the request on unread)."""
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        return b"".join(m.get("body", b"") for m in messages), messages

    @staticmethod
    def _parse(schema: type[Body], raw: bytes, content_type: bytes | None) -> Body | None:
        """The validated body, or ``None`` for anything the API should answer itself."""
        if content_type is not None and (
            content_type.split(b";", 1)[0].strip().lower() != b"application/json"
        ):
            return None
        if _LONG_NUMBER.search(raw):
            # orjson reads an integer past 64 bits as a float: the API's parser keeps it
            # whole and the schema refuses it (or the digits were in a string: same answer).
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        try:
            return schema.model_validate(data)
        except Exception:  # ValidationError, or a bug: either way the API answers it,
            return None  # inside its handlers (this runs outside them: no plain-text 500)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _answer(
    send: Send, status: int, content: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(content)).encode()),
                (b"content-type", b"application/json"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})

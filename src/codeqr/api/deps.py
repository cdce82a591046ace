"""Request dependencies: the transaction the request owns, and who is calling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar, cast

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from codeqr.api.errors import answers
from codeqr.api.ratelimits import STATE_KEY
from codeqr.kit.errors import Forbidden, Unauthorized
from codeqr.link.service import AFTER_COMMIT
from codeqr.services import Services
from codeqr.workspace.models import ApiKey, KeyKind, Workspace
from codeqr.workspace.service import authenticate_key, get_plan

T = TypeVar("T")


def get_services(request: Request) -> Services:
    """The app's service container."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def _limiter(services: Services, name: str, size: int) -> anyio.CapacityLimiter:
    # One per app, made on first use inside the event loop that serves it.
    limiters = services.limiters
    if name not in limiters:
        limiters[name] = anyio.CapacityLimiter(size)
    limiter: anyio.CapacityLimiter = limiters[name]
    return limiter


def _finishers(services: Services) -> anyio.CapacityLimiter:
    """Threads that commit or roll back, apart from the threads that run endpoints."""
    return _limiter(services, "finishers", 8)


async def get_session(services: ServicesDep) -> AsyncIterator[Session]:
    """One transaction per request: committed after the endpoint, rolled back on any error.

    The commit runs on threads of its own. Were it queued behind the endpoint threads, a
    request holding SQLite's write lock could wait for a thread while every thread waits for
    that lock (a deadlock that only the 30 s busy timeout ends).
    """
    # A request holds its pooled connection across several thread hops (dependencies, the
    # endpoint, the commit). Were more requests admitted than the pool has connections,
    # those holding connections could wait for threads taken by those waiting for
    # connections. Admission is decided here, on the event loop, before any thread is used.
    async with _limiter(services, "sessions", services.db.max_connections):
        session = services.db.session()
        try:
            yield session
            await anyio.to_thread.run_sync(session.commit, limiter=_finishers(services))
            for callback in session.info.pop(AFTER_COMMIT, []):
                callback()
        except BaseException:
            await anyio.to_thread.run_sync(session.rollback, limiter=_finishers(services))
            raise
        finally:
            await anyio.to_thread.run_sync(session.close, limiter=_finishers(services))


async def in_transaction(services: Services, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction on one worker thread: begin, work, commit, close.

    For the busiest write routes: the usual dependencies hop between the event loop and
    worker threads five times a request (caller, endpoint, response, commit, close); this
    does it once, and on SQLite holds the write gate only while the work runs.
    """
    async with _limiter(services, "sessions", services.db.max_connections):
        return await anyio.to_thread.run_sync(transaction, services, work)


def transaction(services: Services, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction on this thread: begin, work, commit (then the session's
    after-commit callbacks), close; rolled back on any error."""
    session = services.db.session()
    try:
        result = work(session)
        session.commit()
        for callback in session.info.pop(AFTER_COMMIT, []):
            callback()
        return result
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit runs when the endpoint returns, before the response is sent.
# With the default ("request") FastAPI sends the answer first and commits afterwards, so a
# client could read its own write back as missing, and a failed commit would follow a 200.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller: the key and the workspace it belongs to."""

    key: ApiKey
    workspace: Workspace


def _bearer(request: Request) -> str:
    return bearer_token(request.headers.get("authorization", ""))


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer …`` header; 401 when there is none."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Unauthorized: Missing or malformed Authorization header.")
    return token.strip()


# 401 without a live key, 403 for a publishable key or a plan without the feature, 404 for
# any object named in the request that is not the key's workspace's (SPEC §2).
WORKSPACE_CALLER_ANSWERS = (401, 403, 404)


@answers(*WORKSPACE_CALLER_ANSWERS)
def get_caller(request: Request, session: SessionDep, services: ServicesDep) -> Caller:
    """The secret key's workspace; publishable keys only reach the client tracking routes."""
    return authorize(session, request, services)


def authorize(session: Session, request: Request, services: Services) -> Caller:
    """``get_caller`` for code that runs its own transaction (see ``in_transaction``)."""
    key, workspace = authenticate_key(session, _bearer(request))
    if key.kind == KeyKind.publishable:
        raise Forbidden("Publishable keys can only be used for client-side tracking.")
    limit_key(session, request, services, key, workspace)
    services.key_usage.mark(key)
    return Caller(key=key, workspace=workspace)


def client_ip(services: Services, request: Request) -> str | None:
    """The client's address: the peer, or the hop behind the configured trusted proxies."""
    peer = request.client.host if request.client else None
    return services.redirector.proxies.client_ip(peer, request.headers.get("x-forwarded-for", ""))


async def limit_qr(request: Request, services: ServicesDep) -> None:
    """Count a QR render against the client's quota (``/api/qr`` is public, as Dub's)."""
    decision = await services.rate_limits.qr(client_ip(services, request))
    request.scope.setdefault("state", {})[STATE_KEY] = decision
    decision.raise_if_refused("Too many QR codes requested from this client")


def limit_key(
    session: Session, request: Request, services: Services, key: ApiKey, workspace: Workspace
) -> None:
    """Count the call against the key's plan rate (429 past it); the answer carries the
    ``X-RateLimit-*`` headers either way."""
    limit_credential(session, request, services, key.id, workspace.plan)


def limit_credential(
    session: Session, request: Request, services: Services, credential_id: str, plan: str
) -> None:
    """``limit_key`` for any credential (a key, an OAuth access token) by its own id."""
    per_minute = get_plan(session, plan).api_rate_per_minute
    state = request.scope.setdefault("state", {})
    services.rate_limits.api_key(credential_id, per_minute, state)


CallerDep = Annotated[Caller, Depends(get_caller)]


@answers(*WORKSPACE_CALLER_ANSWERS)
async def get_caller_apart(request: Request, services: ServicesDep) -> Caller:
    """``get_caller`` in a short read of its own, for routes that run their work with
    ``in_transaction``: the key is still checked before the body is looked at."""
    return await in_transaction(services, lambda session: authorize(session, request, services))


CallerApartDep = Annotated[Caller, Depends(get_caller_apart)]

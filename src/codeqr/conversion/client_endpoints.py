"""Client-side tracking (SPEC §4, §7): the browser script, and the routes it calls with a
publishable key from a page on one of the workspace's allowed hostnames.

Browsers reach these routes cross-origin, so ``ClientCors`` (wrapped around the API in
``codeqr.app``) answers their preflights and puts the CORS headers on every answer of these
paths, errors included, so that the page can read why it was refused.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from codeqr.api.deps import (
    WORKSPACE_CALLER_ANSWERS,
    ServicesDep,
    client_ip,
    get_services,
    in_transaction,
    limit_key,
)
from codeqr.api.errors import answers
from codeqr.conversion.endpoints import record_lead, record_sale
from codeqr.conversion.schemas import TrackLeadIn, TrackLeadOut, TrackSaleIn, TrackSaleOut
from codeqr.kit.clock import now_ms
from codeqr.kit.errors import Forbidden, Gone, NotFound, Unauthorized
from codeqr.kit.schemas import Nullable
from codeqr.redirect.cache import MISSING, Route
from codeqr.redirect.handler import Receive, Scope, Send
from codeqr.services import Services
from codeqr.workspace.models import ApiKey, KeyKind, Workspace
from codeqr.workspace.service import (
    authenticate_key,
    hostname_allowed,
    require_plan,
)

router = APIRouter()

CLIENT_PATHS = frozenset({"/api/track/click", "/api/track/lead/client", "/api/track/sale/client"})
FEATURE = "Client-side conversion tracking"
_SCRIPT_TYPE = "application/javascript; charset=utf-8"
# Unversioned URL: browsers may use it for an hour, then revalidate with the ETag.
_SCRIPT_CACHE = "public, max-age=3600, stale-while-revalidate=86400"
_URL_MAX = 2048


# --- who is calling ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCaller:
    """A publishable key, its workspace, and the allowed hostname of the calling page."""

    key: ApiKey
    workspace: Workspace
    hostname: str


def _publishable_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Unauthorized: Missing or malformed Authorization header "
            "(send Authorization: Bearer <publishable key>)."
        )
    return token.strip()


def _origin_hostname(request: Request) -> str:
    origin = request.headers.get("origin", "").strip()
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        hostname = None
    if not hostname:
        raise Forbidden(
            "Client-side tracking only answers pages in a browser: "
            "the request has no Origin header (or an opaque one)."
        )
    return hostname.rstrip(".")


def _authorize(session: Session, request: Request) -> ClientCaller:
    key, workspace = authenticate_key(session, _publishable_token(request))
    if key.kind != KeyKind.publishable:
        # A secret key in a page is readable by every visitor: refuse it even where it
        # would be valid, so the mistake shows at once.
        raise Forbidden(
            "Secret API keys must never be used in a browser: "
            "use the workspace's publishable key (cq_pk_…) for client-side tracking."
        )
    require_plan(session, workspace, FEATURE)
    hostname = _origin_hostname(request)
    if not hostname_allowed(workspace.allowed_hostnames or [], hostname):
        if not workspace.allowed_hostnames:
            raise Forbidden(
                "This workspace allows no hostnames for client-side tracking yet: "
                f"add the hostname {hostname} in the workspace settings."
            )
        raise Forbidden(
            f"The hostname {hostname} is not allowed for client-side tracking: "
            "add the hostname in the workspace settings."
        )
    services = get_services(request)
    limit_key(session, request, services, key, workspace)
    services.key_usage.mark(key)
    return ClientCaller(key=key, workspace=workspace, hostname=hostname)


@answers(*WORKSPACE_CALLER_ANSWERS)
async def get_client_caller(request: Request, services: ServicesDep) -> ClientCaller:
    """The publishable key's workspace, checked in a short read of its own before the body
    is looked at (the routes write through the click writer or ``in_transaction``). The
    visitor's calls are counted first, then the key's (against its plan's rate)."""
    await services.rate_limits.client_tracking(client_ip(services, request))
    return await in_transaction(services, lambda session: _authorize(session, request))


ClientCallerDep = Annotated[ClientCaller, Depends(get_client_caller)]


# --- the script -----------------------------------------------------------------------


@functools.cache
def _script() -> tuple[bytes, str]:
    body = resources.files("codeqr.conversion").joinpath("static/script.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


@router.get("/_/script.js", include_in_schema=False)
def client_script(request: Request) -> Response:
    """The client-side attribution script (``codeqrAnalytics``)."""
    body, etag = _script()
    headers = {
        "ETag": etag,
        "Cache-Control": _SCRIPT_CACHE,
        # Loadable with crossorigin/SRI and from pages that require CORP.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in (
        t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")
    ):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_SCRIPT_TYPE, headers=headers)


# --- click tracking -------------------------------------------------------------------


class TrackClickIn(BaseModel):
    """``POST /api/track/click``: a visitor reached a page through a link."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    domain: str = Field(min_length=1, max_length=190)
    key: str = Field(min_length=1, max_length=190)
    url: Nullable[str] = Field(default=None, max_length=_URL_MAX)
    referrer: Nullable[str] = Field(default=None, max_length=_URL_MAX)

    @field_validator("domain", "key", "url", "referrer")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL, and no link, URL or referrer needs one.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme.lower() not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        return value or None


class ClickedLink(BaseModel):
    id: str
    domain: str
    key: str
    url: str


class ClickTracked(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    click_id: str | None = Field(alias="clickId")
    """``None`` when nothing was recorded (a bot, ``codeqr-no-track``, a failed write)."""
    link: ClickedLink


async def _route(services: Services, domain: str, key: str) -> Route | None:
    """The link through the redirect's cache, as a visit to it would find it."""
    cache = services.cache
    domain, key_lower = domain.lower(), key.lower()
    cached = cache.get(domain, key_lower, now_ms())
    if cached is not MISSING:
        return cached  # type: ignore[return-value]
    generation = cache.generation()
    route = await asyncio.to_thread(cache.load, domain, key_lower)
    cache.put(domain, key_lower, route, generation)
    return route


def _check_open(route: Route) -> None:
    """The redirect's gates, applied before anything is recorded or answered (SPEC §3.2–3.3).

    A visit to an expired link records nothing (the redirect answers 410, or 302 to its
    ``expiredUrl``), and a password-protected link records a click only once the visitor
    got through its password page. This route has no password step (the unlock cookie
    lives on the short domain and a cross-origin ``fetch`` carries none), so it refuses
    both, and never names the destination a password protects.
    """
    if route.expires_at_ms is not None and now_ms() >= route.expires_at_ms:
        # 410 even when the link has an ``expiredUrl``: the visitor is already on the page,
        # there is nowhere to send them, and ``link.url`` is the link's destination.
        raise Gone(f"Link {route.domain}/{route.key} has expired.")
    if route.password_hash is not None:
        raise Forbidden(
            f"Link {route.domain}/{route.key} is password protected: its clicks are "
            "recorded by the short link itself once the visitor enters the password."
        )


async def _capture(
    services: Services, request: Request, route: Route, body: TrackClickIn
) -> str | None:
    """Record the click as the redirect would: same enrichment, bots and dedupe rules."""
    ua = request.headers.get("user-agent", "")
    if "codeqr-no-track" in request.headers:
        return None
    redirector = services.redirector
    peer = request.client.host if request.client else None
    ip = client_ip(services, request)
    geo_header = ""
    if redirector.proxies.believes_geo(peer):
        headers = request.headers
        geo_header = headers.get("cf-ipcountry") or headers.get("x-vercel-ip-country") or ""
    return await redirector.capture(
        route, body.url, ua, ip, geo_header, body.referrer or "", "link", now_ms()
    )


@router.post("/api/track/click", response_model=ClickTracked, tags=["track"])
async def track_click(
    body: Annotated[TrackClickIn, Body()],
    request: Request,
    caller: ClientCallerDep,
    services: ServicesDep,
) -> ClickTracked:
    """Record a click from the browser (client-side click tracking, publishable key)."""
    route = await _route(services, body.domain, body.key)
    if route is None or route.workspace_id != caller.workspace.id:
        raise NotFound(f"Link {body.domain}/{body.key} not found.")
    _check_open(route)
    click_id = await _capture(services, request, route, body)
    link = ClickedLink(id=route.link_id, domain=route.domain, key=route.key, url=route.url)
    return ClickTracked(click_id=click_id, link=link)


# --- leads and sales ------------------------------------------------------------------
#
# What a publishable key may do (SPEC §9). The key is public and ``Origin`` is forgeable by
# any client that is not a browser, so the key only records:
# - a lead or a sale may create a customer with the name, email and avatar it sends, but
#   never changes those of a customer already known;
# - answers keep Dub's shapes with ids and status only: the customer's name, email and
#   avatar are null, and a sale already recorded for an invoice id is not described;
# - sales are refused (403) unless the workspace turned client sales on, and refused (422)
#   past its ``clientSaleMax`` (in its reporting currency).


@router.post("/api/track/lead/client", response_model=TrackLeadOut, tags=["track"])
async def track_lead_client(
    body: Annotated[TrackLeadIn, Body()], caller: ClientCallerDep, services: ServicesDep
) -> Response:
    """Record a lead from the browser (``codeqrAnalytics.trackLead``, publishable key)."""
    return await record_lead(services, caller.workspace, body, publishable=True)


@router.post("/api/track/sale/client", response_model=TrackSaleOut, tags=["track"])
async def track_sale_client(
    body: Annotated[TrackSaleIn, Body()], caller: ClientCallerDep, services: ServicesDep
) -> Response:
    """Record a sale from the browser (``codeqrAnalytics.trackSale``, publishable key), when
    the workspace allows client sales."""
    return await record_sale(services, caller.workspace, body, publishable=True)


# --- CORS -----------------------------------------------------------------------------


class ClientCors:
    """CORS for the client routes: preflights answered here (they carry no key, the real
    check is on the request itself); every answer of those paths, the error handlers' too,
    echoes the page's origin so the page can read it. Never with credentials."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in CLIENT_PATHS:
            await self.app(scope, receive, send)
            return
        origin = next((v for n, v in scope["headers"] if n == b"origin"), None)
        cors = [(b"vary", b"Origin")]
        if origin is not None:
            cors.append((b"access-control-allow-origin", origin))
        if scope["method"] == "OPTIONS":
            headers = [
                *cors,
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", b"authorization, content-type"),
                (b"access-control-max-age", b"86400"),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

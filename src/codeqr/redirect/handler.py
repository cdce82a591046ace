"""The redirect hot path: ``GET {domain}/{key}`` as a bare ASGI app (SPEC §3.2–3.3).

It skips the web framework on purpose: every microsecond here is paid on every click. The
link comes from the in-process cache, the click is handed to the group-commit recorder, and
the 302 leaves only when the click is on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote

import structlog
from itsdangerous import BadSignature, TimestampSigner

from codeqr.api.ratelimits import RateLimits
from codeqr.events.ceiling import ClickCeiling
from codeqr.events.dedupe import WINDOW_MS, RecentVisitors, visitor_key
from codeqr.events.enrich import GeoLocator, IdentityHasher, is_bot, mobile_os
from codeqr.events.recorder import ClickRecorder, RawClick
from codeqr.events.shared_visitors import SharedVisitors, VisitorsUnavailable
from codeqr.kit.clock import now_ms
from codeqr.kit.errors import RateLimited
from codeqr.kit.ids import click_id as new_click_id
from codeqr.kit.passwords import verify_password
from codeqr.kit.records import new_record
from codeqr.redirect import pages
from codeqr.redirect.cache import MISSING, LinkCache, Route
from codeqr.redirect.destination import build_location, target_url
from codeqr.redirect.proxies import TrustedProxies

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = structlog.get_logger(__name__)

_NO_STORE = (b"cache-control", b"private, no-store")
_NOINDEX = (b"x-robots-tag", b"noindex")
# The pages a visitor can meet here (not found, expired, password) as the app's own pages:
# never framed (a framed password form is a clickjacking target), nothing but their inline
# style. No ``form-action``: Chromium applies it to the whole redirect chain of the password
# form, which ends at the link's destination.
_HTML = [
    (b"content-type", b"text/html; charset=utf-8"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
]
_NO_BODY = (b"content-length", b"0")
_MAX_KEY = 190
_MAX_QUERY = 8192
_MAX_FORM = 4096
_PASSWORD_COOKIE_AGE = 3600
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


class Redirector:
    """Resolves a short link, records the click, answers the 302."""

    def __init__(
        self,
        cache: LinkCache,
        recorder: ClickRecorder,
        identity: IdentityHasher,
        geo: GeoLocator,
        proxies: TrustedProxies,
        signer: TimestampSigner,
        visitors: RecentVisitors,
        rate_limits: RateLimits,
        ceiling: ClickCeiling | None = None,
        shared_visitors: SharedVisitors | None = None,
    ) -> None:
        self.cache = cache
        self.recorder = recorder
        self.identity = identity
        self.geo = geo
        self.proxies = proxies
        self.signer = signer
        self.visitors = visitors
        self.rate_limits = rate_limits
        """Password guesses only: the redirect itself is never limited."""
        self.ceiling = ceiling
        self.shared_visitors = shared_visitors
        """Scale-out: visitors claimed in Redis, so the dedupe holds across processes."""
        """Clicks recorded at most per address and link an hour; ``None``: no ceiling."""
        self._inflight: dict[int, asyncio.Future[str | None] | None] = {}
        """Visitor keys (``dedupe.visitor_key``) whose click is being written."""
        self.redirects = 0
        """Requests answered (``/metrics``; a plain int: ~20 ns a request)."""
        self.dedupe_hits = 0
        """Repeat clicks of the hour answered from memory, not stored again."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.redirects += 1
        method = scope["method"]
        if method not in ("GET", "HEAD", "POST"):
            await _respond(send, 405, b"", [(b"allow", b"GET, HEAD, POST")])
            return
        key = scope["path"][1:]
        if key.endswith("/"):
            key = key.rstrip("/")
        host = ua = referer = cookie = forwarded = geo_header = ""
        no_track = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1").lower()
            elif name == b"user-agent":
                ua = value.decode("latin-1")
            elif name == b"referer":
                referer = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name in (b"cf-ipcountry", b"x-vercel-ip-country"):
                geo_header = value.decode("latin-1")
            elif name == b"codeqr-no-track":
                no_track = True
        # After a domain change the table is read again, off the event loop.
        table = (
            await asyncio.to_thread(self.cache.load_domains) if self.cache.domains_stale() else None
        )
        domain = self.cache.domain_for_host(host, table)
        domain_name = domain.slug or self.cache.default_domain
        # No key holds NUL, and PostgreSQL refuses it in a query parameter.
        if len(key) > _MAX_KEY or not key or "\x00" in key:
            await self._not_found(send, domain.not_found_url)
            return
        key_lower = key.lower()
        now = now_ms()
        cached = self.cache.get(domain_name, key_lower, now)
        if cached is MISSING:
            generation = self.cache.generation()
            route = await asyncio.to_thread(self.cache.load, domain_name, key_lower)
            self.cache.put(domain_name, key_lower, route, generation)
        else:
            route = cached  # type: ignore[assignment]
        if route is None:
            await self._not_found(send, domain.not_found_url)
            return
        if route.expires_at_ms is not None and now >= route.expires_at_ms:
            # The link's own expired URL, else its domain's (Dub's order).
            if expired_url := route.expired_url or domain.expired_url:
                await _respond(send, 302, b"", [(b"location", _header_url(expired_url))])
            else:
                await _respond(send, 410, pages.EXPIRED, _HTML)
            return
        peer = scope.get("client")
        ip = self.proxies.client_ip(peer[0] if peer else None, forwarded)
        if geo_header and not self.proxies.believes_geo(peer[0] if peer else None):
            geo_header = ""
        if route.password_hash is not None and not self._unlocked(route, cookie):
            await self._password(scope, receive, send, route)
            return
        if method == "POST":
            await _respond(send, 405, b"", [(b"allow", b"GET, HEAD")])
            return
        query = scope["query_string"]
        visitor_query = query.decode("latin-1") if query else ""
        if len(visitor_query) > _MAX_QUERY:
            visitor_query = ""
        trigger = "qr" if ("qr=1" in visitor_query and _is_qr(visitor_query)) else "link"
        device_os = mobile_os(ua)
        country = None
        if route.geo:
            country = self.geo.locate(ip, geo_header).country
        target = target_url(route, device_os, country)
        click: str | None = None
        if not (method == "HEAD" or no_track):
            click = await self.capture(route, target, ua, ip, geo_header, referer, trigger, now)
        location = build_location(
            route, target, visitor_query, click if route.track_conversion else None
        )
        # As ``_respond`` would, without its coroutine: this is every redirect's answer.
        headers = [(b"location", _header_url(location)), _NO_STORE, _NOINDEX, _NO_BODY]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def capture(
        self,
        route: Route,
        target: str | None,
        ua: str,
        ip: str | None,
        geo_header: str,
        referer: str,
        trigger: str,
        now: int,
    ) -> str | None:
        """Record the click (or find the visitor's click of the last hour) and return its id;
        ``None`` for a bot, or an address past its click ceiling, whose clicks are not
        recorded.

        Also the way in for client-side click tracking, so both share enrichment and dedupe.
        """
        identity = self.identity(ip or "", ua, now)
        visitors = self.visitors
        visitor = visitor_key(identity, route.link_id)
        known = visitors.get_key(visitor, now)
        if known is not None:
            # A repeat within the hour: its user agent (part of the identity) was no bot's
            # when the first click was stored, so the bot rules need not run again.
            self.dedupe_hits += 1
            return known
        if is_bot(ua):
            return None
        inflight = self._inflight
        if visitor in inflight:
            # The same visitor's previous click on this link is being written right now:
            # share its outcome instead of recording a second click. The future exists only
            # once someone waits for it (rarely: a double click).
            waiting = inflight[visitor]
            if waiting is None:
                waiting = inflight[visitor] = asyncio.get_running_loop().create_future()
            return await asyncio.shield(waiting)
        inflight[visitor] = None
        click_id: str | None = None
        try:
            new_id = new_click_id(now)
            check = None if visitors.complete(now) else now - WINDOW_MS
            click_ts = now
            shared = self.shared_visitors
            claimed = adopted = False
            if shared is not None:
                try:
                    earlier = await shared.claim(route.link_id, identity, new_id, now)
                except VisitorsUnavailable:
                    check = now - WINDOW_MS  # as after a restart: the database decides
                else:
                    if earlier is None:
                        check, claimed = None, True  # the visitor's first here, said Redis
                    else:
                        # Another process claimed this visitor's click on this link this hour
                        # and handed its id out, but may have died before storing it: the
                        # click is stored under that id here unless it already is.
                        (new_id, click_ts), check, adopted = earlier, now - WINDOW_MS, True
            ceiling = self.ceiling
            if (
                ceiling is not None
                and ip
                and not adopted
                and not ceiling.spend(ip, route.link_id, now)
            ):
                # A new "visitor" past the address's ceiling on this link this hour (a
                # client rotating user agents): it still gets where it is going, unrecorded.
                if claimed and shared is not None:
                    await shared.release(route.link_id, identity)
                return None
            # Positional, in field order: this runs once per stored click.
            raw = new_record(
                RawClick,
                (
                    new_id,
                    click_ts,
                    route.workspace_id,
                    route.link_id,
                    route.domain,
                    route.key,
                    target or route.url,
                    trigger,
                    ua,
                    ip,
                    geo_header or None,
                    referer,
                    identity,
                ),
            )
            if route.partner:
                self.recorder.earns(new_id)
            # Stored durably; the id to hand out is an earlier one for a repeat.
            try:
                stored, first_seen = await self.recorder.record(
                    raw, check_since=check, adopted=adopted
                )
            except Exception as exc:
                # The visitor still gets where they are going; no click id is promised for a
                # click that is not stored.
                log.error("redirect.click.lost", link_id=route.link_id, error=repr(exc))
                if claimed and shared is not None:
                    await shared.release(route.link_id, identity)
            else:
                visitors.remember_key(visitor, stored, first_seen)
                click_id = stored
        finally:
            waiting = inflight.pop(visitor)
            if waiting is not None:
                waiting.set_result(click_id)
        return click_id

    def _unlocked(self, route: Route, cookie: str) -> bool:
        name = f"cq_pw_{route.link_id}="
        for raw_part in cookie.split(";"):
            part = raw_part.strip()
            if part.startswith(name):
                try:
                    value = self.signer.unsign(part[len(name) :], max_age=_PASSWORD_COOKIE_AGE)
                except BadSignature:
                    return False
                return value.decode() == _password_token(route)
        return False

    async def _password(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        if scope["method"] != "POST":
            status = 200 if scope["method"] == "GET" else 401
            await _respond(send, status, pages.password_page(), _HTML)
            return
        body = await _read_body(receive, _MAX_FORM)
        fields = dict(parse_qsl(body.decode("utf-8", "replace"))) if body is not None else {}
        password = fields.get("password", "")
        assert route.password_hash is not None
        peer = scope.get("client")
        forwarded = b", ".join(v for n, v in scope["headers"] if n == b"x-forwarded-for")
        ip = self.proxies.client_ip(peer[0] if peer else None, forwarded.decode("latin-1"))
        decision = await self.rate_limits.link_password(route.link_id, ip)
        try:
            if not decision.allowed:
                raise RateLimited("", headers=decision.headers())
            ok = bool(password) and await asyncio.to_thread(
                verify_password, route.password_hash, password
            )
        except RateLimited as refused:
            # Guesses are counted before any hashing: refused ones cost nothing.
            headers = [(k.lower().encode(), v.encode()) for k, v in refused.headers.items()]
            await _respond(send, 429, pages.password_page(limited=True), [*_HTML, *headers])
            return
        if not ok:
            await _respond(send, 401, pages.password_page(error=True), _HTML)
            return
        token = self.signer.sign(_password_token(route)).decode()
        # Back to the same address as the visitor sent it (still percent-encoded).
        path = scope.get("raw_path") or _header_url(scope["path"])
        if scope["query_string"]:
            path += b"?" + scope["query_string"]
        secure = "; Secure" if self._https(scope) else ""
        cookie = (
            f"cq_pw_{route.link_id}={token}; Max-Age={_PASSWORD_COOKIE_AGE}; Path=/; "
            f"HttpOnly; SameSite=Lax{secure}"
        )
        await _respond(send, 303, b"", [(b"location", path), (b"set-cookie", cookie.encode())])

    def _https(self, scope: Scope) -> bool:
        """Whether the visitor came over HTTPS, to us or to a trusted TLS-terminating proxy."""
        if scope.get("scheme") == "https":
            return True
        peer = scope.get("client")
        if not self.proxies.trusts(peer[0] if peer else None):
            return False
        return any(
            name == b"x-forwarded-proto" and value.strip().lower() == b"https"
            for name, value in scope["headers"]
        )

    async def _not_found(self, send: Send, not_found_url: str | None) -> None:
        if not_found_url:
            await _respond(send, 302, b"", [(b"location", _header_url(not_found_url))])
        else:
            await _respond(send, 404, pages.NOT_FOUND, _HTML)


def _password_token(route: Route) -> str:
    # Bound to the link and a digest of its current hash: changing the password locks old
    # cookies out, and the cookie shows nothing of the hash itself.
    assert route.password_hash is not None
    digest = hashlib.sha256(route.password_hash.encode()).hexdigest()[:20]
    return f"{route.link_id}:{digest}"


def _header_url(url: str) -> bytes:
    """A URL fit for a header: non-ASCII characters percent-encoded as UTF-8."""
    if url.isascii():
        return url.encode()
    return quote(url, safe=_URL_SAFE).encode()


def _is_qr(query: str) -> bool:
    return any(k == "qr" and v == "1" for k, v in parse_qsl(query, keep_blank_values=True))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += bytes(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    length = (b"content-length", str(len(body)).encode()) if body else _NO_BODY
    headers = [*headers, _NO_STORE, _NOINDEX, length]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

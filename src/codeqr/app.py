"""The ASGI application: the redirect hot path in front, the API (FastAPI) behind it."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from codeqr import migrate
from codeqr.analytics.endpoints import router as analytics_router
from codeqr.api import errors
from codeqr.api.limits import BodyLimit, RateLimitHeaders
from codeqr.api.requestid import with_request_id
from codeqr.auth import deps as auth_deps
from codeqr.auth.endpoints import router as auth_router
from codeqr.commission.endpoints import router as commissions_router
from codeqr.conversion.client_endpoints import ClientCors
from codeqr.conversion.client_endpoints import router as client_tracking_router
from codeqr.conversion.endpoints import router as track_router
from codeqr.conversion.receiver import TrackReceiver
from codeqr.customer.endpoints import router as customers_router
from codeqr.dashboard.endpoints import install as install_dashboard
from codeqr.domain.endpoints import router as domains_router
from codeqr.events import clickhouse
from codeqr.kit import logs
from codeqr.kit.clock import now_ms
from codeqr.link.endpoints import router as links_router
from codeqr.link.service import RESERVED_KEYS
from codeqr.oauth.endpoints import api_router as oauth_api_router
from codeqr.oauth.endpoints import router as oauth_router
from codeqr.partner.endpoints import router as partners_router
from codeqr.payout.endpoints import router as payouts_router
from codeqr.portal.endpoints import router as portal_router
from codeqr.program.endpoints import router as program_router
from codeqr.qr.endpoints import router as qr_router
from codeqr.redirect.handler import Receive, Scope, Send
from codeqr.services import Services
from codeqr.settings import Settings
from codeqr.stream.endpoints import router as stream_router
from codeqr.stripe.endpoints import router as stripe_router
from codeqr.stripe.receiver import WebhookReceiver
from codeqr.system.docs import router as docs_router
from codeqr.system.endpoints import router as system_router
from codeqr.system.health import Readiness
from codeqr.system.metrics import AppMetrics
from codeqr.webhook.endpoints import router as webhooks_router
from codeqr.workspace.endpoints import router as workspace_router


def create_api(services: Services) -> FastAPI:
    """The FastAPI app of the API and pages; ``services`` is built by the caller."""
    readiness = Readiness(services.db, services.settings.redis_url, services.invalidations)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if services.settings.migrate_on_start:
            migrate.upgrade(services.db.engine)
            if services.clickhouse is not None:
                clickhouse.migrate(services.clickhouse)
        if services.shipper is not None:
            services.shipper.start()
        if services.deliverer is not None:
            if services.deliverer.subscriptions is not None:
                services.deliverer.subscriptions.load()  # which clicks webhooks want
            if services.deliverer.pacer is not None:
                # This loop and its thread: deliveries yield to redirects.
                services.deliverer.pacer.watch(threading.get_ident(), asyncio.get_running_loop())
            services.deliverer.start()  # pending deliveries of earlier runs go out again
        services.cache.domain_for_host("")  # load the domain table before the first click
        # The dedupe's memory starts empty: until when may a click repeat an earlier one?
        services.redirector.visitors.start(services.events.load_recent_visitors(now_ms()))
        services.rollups.start()
        if services.payouts is not None:
            services.payouts.start()
        if services.invalidations is not None:
            services.invalidations.start()
        if services.nudges is not None:
            services.feed.watch_commits()
            services.nudges.start()
        # Objects made at start-up live for the whole process: keep them out of the
        # garbage collector's scans so its pauses stay short on the redirect path.
        gc.collect()
        gc.freeze()
        yield
        await readiness.aclose()
        await services.feed.aclose()
        if services.nudges is not None:
            await services.nudges.aclose()
        if services.invalidations is not None:
            await services.invalidations.aclose()
        if services.redirector.shared_visitors is not None:
            await services.redirector.shared_visitors.aclose()
        services.rollups.stop()
        if services.payouts is not None:
            services.payouts.stop()
        await services.recorder.drain()
        services.recorder.close()
        if services.shipper is not None:
            services.shipper.stop()  # after the last clicks: they go out before it stops
        if services.deliverer is not None:
            services.deliverer.stop()
            if services.deliverer.subscriptions is not None:
                services.deliverer.subscriptions.close()
        if services.clickhouse is not None:
            services.clickhouse.close()
        services.key_usage.close()
        services.rate_limits.close()
        services.stripe.close()
        services.db.dispose()
        services.events.close()  # after the pool: it closes the last handles on the file

    api = FastAPI(
        title="CodeQR API",
        version="0.1.0",
        description="Short links, QR codes and conversion tracking; shaped like Dub's API.",
        lifespan=lifespan,
        docs_url=None,  # served by ``system.docs`` from the vendored Swagger UI
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.state.services = services
    api.state.readiness = readiness
    errors.install(api)
    auth_deps.install(api)
    api.include_router(links_router, prefix="/api")
    api.include_router(domains_router, prefix="/api")
    api.include_router(qr_router, prefix="/api")
    api.include_router(workspace_router, prefix="/api")
    api.include_router(track_router, prefix="/api")
    api.include_router(customers_router, prefix="/api")
    api.include_router(stream_router, prefix="/api")
    api.include_router(analytics_router, prefix="/api")
    api.include_router(stripe_router, prefix="/api")
    api.include_router(oauth_api_router, prefix="/api")
    api.include_router(partners_router, prefix="/api")
    api.include_router(program_router, prefix="/api")
    api.include_router(commissions_router, prefix="/api")
    api.include_router(payouts_router, prefix="/api")
    api.include_router(webhooks_router, prefix="/api")
    api.include_router(auth_router)
    api.include_router(oauth_router)
    install_dashboard(api)
    api.include_router(portal_router)
    api.include_router(system_router)
    api.include_router(docs_router)
    api.include_router(client_tracking_router)
    return api


class CodeQR:
    """Routes each request: reserved first path segments to the API, everything else to the
    redirect, without going through the framework's router on the hot path."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.api = create_api(services)
        self._api = ClientCors(
            RateLimitHeaders(BodyLimit(self.api, services.settings.max_body_bytes))
        )
        self._redirect = services.redirector
        self._webhooks = WebhookReceiver(services)
        self._track = TrackReceiver(services, self._api, self.api.exception_handlers)
        self.metrics = AppMetrics(services, self._webhooks)
        """What ``/metrics`` reads; ``codeqr serve`` sets its ``server``."""
        self.api.state.metrics = self.metrics

    def dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The app as a plain function that hands back the chosen handler's coroutine.

        What ``codeqr serve`` gives uvicorn (told ``interface="asgi3"``, since a plain
        function does not look like ASGI 3 to it): one coroutine frame fewer per request than
        ``__call__``, ~2% more redirects a second.
        """
        if scope["type"] == "http":
            path: str = scope["path"]
            end = path.find("/", 1)
            first = path[1:] if end == -1 else path[1:end]
            if first and first.lower() not in RESERVED_KEYS:
                return self._redirect(scope, receive, send)
            if path.startswith("/api/stripe/") and (handle := self._webhooks.route(scope)):
                return with_request_id(scope, receive, send, self._webhooks, handle)
            if path.startswith("/api/track/") and (schema := self._track.route(scope)):
                return with_request_id(scope, receive, send, self._track, schema)
            return with_request_id(scope, receive, send, self._api)
        return self._api(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.dispatch(scope, receive, send)


def create_app(settings: Settings | None = None, *, default_domain: str | None = None) -> CodeQR:
    """Build the whole application from settings (tests pass their own).

    ``default_domain`` is the host:port served on, used when ``CODEQR_SHORT_DOMAIN`` is unset.
    """
    settings = settings or Settings()
    logs.configure(fmt=settings.log_format.value)
    domain, base = settings.instance_urls(default_domain or "localhost:8000")
    return CodeQR(Services.build(settings, default_domain=domain, public_url=base))

"""The service container: every long-lived object of one app, built once from ``Settings``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itsdangerous import TimestampSigner

from codeqr.analytics.clickhouse import ClickHouseReader
from codeqr.analytics.readers import SQL, EventsReader
from codeqr.analytics.rollup import RollupWorker
from codeqr.api.ratelimits import RateLimits
from codeqr.domain.service import DomainService
from codeqr.events import clickhouse
from codeqr.events.ceiling import ClickCeiling
from codeqr.events.dedupe import RecentVisitors
from codeqr.events.enrich import GeoLocator, IdentityHasher
from codeqr.events.recorder import ClickRecorder
from codeqr.events.shared_visitors import SharedVisitors
from codeqr.events.shipping import Shipper
from codeqr.events.sql import SqlEventsStore
from codeqr.events.store import EventsStore
from codeqr.kit.db import Database
from codeqr.kit.hooks import WEBHOOKS_KEY
from codeqr.kit.ratelimit import MemoryRateLimits
from codeqr.kit.redis_ratelimit import RedisRateLimits
from codeqr.link.service import LinkContext, LinkService
from codeqr.money.rates import Rates
from codeqr.payout.worker import PayoutWorker
from codeqr.qr.service import QRService
from codeqr.redirect.cache import LinkCache
from codeqr.redirect.handler import Redirector
from codeqr.redirect.invalidation import LinkInvalidations
from codeqr.redirect.proxies import TrustedProxies
from codeqr.settings import Durability, Settings
from codeqr.stream.fanout import SAFETY_NET_S, RemoteNudges
from codeqr.stream.feed import Feed
from codeqr.stream.service import shaper
from codeqr.stripe.client import StripeClients
from codeqr.webhook.clicks import TAG as CLICKS_TAG
from codeqr.webhook.clicks import ClickEvents, ClickSubscriptions
from codeqr.webhook.delivery import Deliverer
from codeqr.webhook.outbox import WebhookOutbox
from codeqr.webhook.pacing import Pacer
from codeqr.workspace.usage import KeyUsage

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


@dataclass
class Services:
    settings: Settings
    db: Database
    events: EventsStore
    recorder: ClickRecorder
    cache: LinkCache
    links: LinkService
    domains: DomainService
    """Custom domains; their changes reach the redirect cache as link changes do."""
    redirector: Redirector
    signer: TimestampSigner
    rates: Rates
    key_usage: KeyUsage
    stripe: StripeClients
    feed: Feed
    """New events of every process, fanned out to this process's open event streams."""
    rollups: RollupWorker
    """Keeps the daily click rollups that long analytics ranges read (SQLite)."""
    rate_limits: RateLimits
    """Who may do how much (SPEC §9); counted in this process in the embedded mode."""
    invalidations: LinkInvalidations | None = None
    nudges: RemoteNudges | None = None
    """Scale-out: every process's writes wake the event streams of every other (Redis)."""
    """Scale-out: link changes of every process reach this one's cache (Redis pub/sub)."""
    limiters: dict[str, Any] = field(default_factory=dict)
    """The API's admission and commit thread limits (see ``api.deps``), made per app."""
    qr: QRService = field(default_factory=QRService)
    """QR images: drawing threads, their queue and the cache of rendered images."""
    reader: EventsReader = SQL
    """Where analytics read events: the relational database, or ClickHouse."""
    clickhouse: Client | None = None
    """ClickHouse's client when ``CODEQR_EVENTS_URL`` is set."""
    shipper: Shipper | None = None
    """Sends noted event changes to ClickHouse (``events.shipping``)."""
    webhooks: WebhookOutbox | None = None
    """Notes webhook events in the transaction of their change (``webhook.outbox``)."""
    deliverer: Deliverer | None = None
    """Sends them to the endpoints, retries, disables (``webhook.delivery``)."""
    payouts: PayoutWorker | None = None
    """Moves due commissions into payouts now and then (``payout.worker``)."""

    @classmethod
    def build(cls, settings: Settings, *, default_domain: str, public_url: str) -> Services:
        """Wire the objects of one app from its settings."""
        settings.ensure_data_dir()
        db = settings.database()
        events = SqlEventsStore(db)
        reader: EventsReader = SQL
        client = shipper = None
        if settings.events_url:
            client = clickhouse.connect(settings.events_url)
            in_process = clickhouse.is_in_process(settings.events_url)
            lock = threading.Lock()
            archive = ClickHouseReader(client, in_process=in_process, lock=lock)
            reader = archive
            events.archive = archive.click
            shipper = Shipper(db, client, lock=lock)
            archive.settle = shipper.caught_up
        geo = GeoLocator(settings.geoip_database)
        recorder = ClickRecorder(
            events,
            geo,
            keep_ip=settings.keep_ip,
            batch_max=settings.click_batch_max,
            inline=db.gate
            if settings.is_sqlite and settings.durability is Durability.process
            else None,
        )
        cache = LinkCache(db, default_domain, size=settings.link_cache_size)
        local = MemoryRateLimits(settings.rate_limit_keys)
        invalidations = None
        context = LinkContext(default_domain, public_url)
        if settings.redis_url:
            invalidations = LinkInvalidations(settings.redis_url, cache)
            changed = invalidations.changed
            rate_limits = RateLimits(RedisRateLimits(settings.redis_url, fallback=local))
        else:
            changed = cache.invalidate
            rate_limits = RateLimits(local)
        links = LinkService(context, changed)
        secret = settings.secret()
        signer = TimestampSigner(secret, salt="codeqr.link-password")
        redirector = Redirector(
            cache=cache,
            recorder=recorder,
            identity=IdentityHasher(secret),
            geo=geo,
            proxies=TrustedProxies(
                settings.trusted_proxies, trust_geo_headers=settings.trust_geo_headers
            ),
            signer=signer,
            visitors=RecentVisitors(
                settings.dedupe_memory,
                keep=events.keep_visitor if events.keeps_visitors else None,
            ),
            rate_limits=rate_limits,
            ceiling=ClickCeiling(settings.click_ceiling_per_hour)
            if settings.click_ceiling_per_hour
            else None,
            shared_visitors=SharedVisitors(settings.redis_url) if settings.redis_url else None,
        )
        webhooks = WebhookOutbox(links, events)
        db.share(WEBHOOKS_KEY, webhooks)
        subscriptions = ClickSubscriptions(db)
        events.webhook_clicks = webhooks.subscriptions = subscriptions
        if invalidations is not None:
            invalidations.listeners[CLICKS_TAG] = subscriptions
            publish = invalidations.publish
            subscriptions.publish = lambda workspace_id: publish(CLICKS_TAG, workspace_id)
        deliverer = Deliverer(
            db,
            allow_private=settings.webhooks_allow_private,
            timeout=settings.webhooks_timeout_seconds,
            clicks=ClickEvents(db, links, events),
            subscriptions=subscriptions,
            pacer=Pacer(writer=lambda: recorder.stats.items),
        )
        webhooks.on_noted = deliverer.nudge
        feed = Feed(db, shaper(links), interval=SAFETY_NET_S if settings.redis_url else 0.2)
        recorder.on_stored = feed.nudge
        nudges = None
        if settings.redis_url:
            nudges = RemoteNudges(settings.redis_url, feed)
            feed.announce = nudges.stored
        return cls(
            settings=settings,
            db=db,
            events=events,
            recorder=recorder,
            cache=cache,
            links=links,
            domains=DomainService(context, changed),
            redirector=redirector,
            signer=signer,
            rates=Rates.load(settings.data_dir),
            key_usage=KeyUsage(db),
            stripe=StripeClients(settings.stripe_api_base),
            feed=feed,
            rollups=RollupWorker(db, settings.analytics_rollup_seconds),
            rate_limits=rate_limits,
            invalidations=invalidations,
            nudges=nudges,
            reader=reader,
            clickhouse=client,
            shipper=shipper,
            webhooks=webhooks,
            deliverer=deliverer,
            payouts=PayoutWorker(db, settings.payouts_run_seconds),
        )

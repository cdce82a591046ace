"""The one typed settings object: every knob of CodeQR, read from ``CODEQR_*`` variables."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from codeqr.events.dedupe import DEFAULT_CAPACITY
from codeqr.kit.db import Database

WORKERS_MAX = 256
METRICS_TOKEN_MIN = 16


class Durability(StrEnum):
    """How hard a click is pushed to disk before its 302 leaves.

    ``process``: the click is written to the database file before the answer, so it survives
    a crash of the server process (``kill -9``). ``fsync``: it is also flushed to the disk
    itself, so it survives a power cut, at the price of one fsync per group commit.
    """

    process = "process"
    fsync = "fsync"


class LogFormat(StrEnum):
    """How log lines are written: ``console`` (key=value text, for a person at a terminal)
    or ``json`` (one JSON object a line, for a log collector)."""

    console = "console"
    json = "json"


class Settings(BaseSettings):
    """Built once at start and passed in; nothing else reads the environment."""

    model_config = SettingsConfigDict(
        env_prefix="CODEQR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path(".codeqr")
    database_url: str | None = None
    """SQLAlchemy URL; empty means the SQLite file ``codeqr.db`` in the data directory."""
    redis_url: str | None = None
    """Scale-out: Redis shared by every process (link cache invalidation, click dedupe, rate
    limits, event stream fan-out). Empty in the embedded mode."""
    events_url: str | None = None
    """Scale-out: where clicks, leads, sales and refunds are kept for analytics, ClickHouse:
    ``clickhouse://HOST``, ``https://HOST`` (ClickHouse Cloud), or ``chdb:///PATH`` (the same
    engine inside the process; one process only). Empty: the relational database."""
    short_domain: str | None = None
    """Default short domain; empty means the host:port the server listens on."""
    public_url: str | None = None
    """Base URL of the dashboard and API; defaults to ``http://<short_domain>``."""
    secret_key: str | None = None
    """Signs cookies; empty means a random key kept in the data directory."""
    default_plan: str = "free"
    migrate_on_start: bool = True
    durability: Durability = Durability.process
    click_batch_max: int = Field(default=512, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    trusted_proxies: list[str] = Field(default_factory=list)
    """Peers whose ``X-Forwarded-For`` and geo headers are believed (IPs or CIDRs)."""
    trust_geo_headers: bool = False
    """Believe ``CF-IPCountry``-style headers even without a trusted proxy list."""
    geoip_database: Path | None = None
    """A MaxMind-format (.mmdb) city or country database; without it, country only."""
    keep_ip: bool = False
    """Keep the truncated client IP (IPv4 /24, IPv6 /48) with each click."""
    link_cache_size: int = Field(default=100_000, ge=0)
    dedupe_memory: int = Field(default=DEFAULT_CAPACITY, ge=0)
    """Visitors the one-hour click dedupe holds in process memory (59 bytes each, reserved at
    start); past that, misses are checked in the events store."""
    click_ceiling_per_hour: int = Field(default=20, ge=0, le=255)
    """Clicks recorded at most per public client address (IPv6: per /64) and link in each
    clock hour, whatever user agents it sends; past it the redirect still answers but records
    nothing. Private and loopback addresses are not counted (set ``trusted_proxies`` behind
    a proxy). Counted in process memory (1 MiB); 0 turns the ceiling off."""
    stripe_api_base: str = "https://api.stripe.com"
    """Where the ``stripe`` library sends API calls (tests point it at a local stand-in)."""
    stripe_app_secret_key: str | None = None
    """The CodeQR Stripe App's platform key, for reading connected accounts' objects."""
    stripe_app_signing_secret: str | None = None
    """The CodeQR Stripe App's signing secret (``absec_…``): checks the signature its UI sends
    when it binds an account (``fetchStripeSignature``); without it the app binds nothing."""
    stripe_app_webhook_secret: str | None = None
    """Signing secret of the Stripe App's live endpoint (``/api/stripe/integration/webhook``)."""
    stripe_app_test_webhook_secret: str | None = None
    """Signing secret of the Stripe App's test endpoint (``…/webhook/test``)."""
    stripe_webhook_tolerance: int = Field(default=300, ge=1)
    """Oldest accepted ``Stripe-Signature`` timestamp, in seconds."""
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    """How often an idle ``/api/events/stream`` gets a ``: ping`` comment (keeps proxies open)."""
    rate_limit_keys: int = Field(default=100_000, ge=1_000)
    """Rate-limit counters held in process memory (least recently used dropped past it)."""
    stream_recheck_seconds: float = Field(default=5.0, gt=0)
    """How long an open event stream may go on after its key is revoked (or its sign-in
    ends, its membership or plan goes): access is checked again at every heartbeat and, while
    events flow, before delivering once this much time has passed since the last check."""
    stream_max_per_key: int = Field(default=10, ge=1)
    """Open event streams per API key (a dashboard sign-in counts as one key), per process."""
    stream_max_per_workspace: int = Field(default=50, ge=1)
    """Open event streams per workspace, keys and dashboard sign-ins together, per process."""
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    """``codeqr serve`` closes a connection idle this long after its last answer (uvicorn's
    own default; a proxy in front should keep its idle upstream connections for less)."""
    http_head_timeout_seconds: float = Field(default=10.0, gt=0)
    """``codeqr serve`` closes a connection whose request line and headers take longer (a
    client dribbling them, slowloris), or that sends none at all."""
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    """… and one whose request body takes longer than this after its headers."""
    http_max_head_bytes: int = Field(default=65_536, ge=4096)
    """… and answers 431 to a request line and headers larger than this."""
    http_max_concurrency: int = Field(default=10_000, ge=1)
    """Open connections or requests in progress past which ``codeqr serve`` answers 503
    (uvicorn's ``limit_concurrency``): a bound on its memory. Idle keep-alive connections
    and open event streams count; the open-files limit is raised to fit it when it can."""
    workers: int = Field(default=1, ge=1, le=WORKERS_MAX)
    """App processes ``codeqr serve`` runs on its port, each restarted when it dies
    (``--workers`` wins). More than one needs PostgreSQL and Redis (refused otherwise)."""
    analytics_rollup_seconds: float = Field(default=300.0, ge=0)
    """How often the daily click rollups catch up (SQLite only; 0 turns them off)."""
    payouts_run_seconds: float = Field(default=3600.0, ge=0, le=31 * 86_400)
    """How often the payouts worker moves due commissions into payouts (as ``codeqr payouts
    run`` does for every program); 0 turns it off (run the command from cron instead)."""
    log_format: LogFormat = LogFormat.console
    """``console`` for a terminal (``make serve``), ``json`` for production log collectors."""
    webhooks_allow_private: bool = False
    """Let outbound webhooks reach loopback, private, link-local (cloud metadata) and other
    non-public addresses. Off: every delivery connects only to public addresses, checked on
    the address actually connected to (so DNS rebinding does not get through)."""
    webhooks_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    """How long a webhook delivery may wait to connect, to send, and for each read."""
    metrics_token: str | None = None
    """Bearer token that ``/metrics`` (Prometheus) asks for; empty turns ``/metrics`` off
    (404). At least 16 characters: it is compared to whatever anyone sends."""

    @field_validator("events_url")
    @classmethod
    def _events_url_names_clickhouse(cls, value: str | None) -> str | None:
        if not value:
            return None
        from codeqr.events.clickhouse import check_url

        return check_url(value)  # its EventsUrlError is a ValueError: pydantic says why

    def database(self) -> Database:
        """The relational database of these settings (noting event changes for ClickHouse
        when ``events_url`` is set)."""
        return Database(
            self.sqlalchemy_url,
            fsync=self.durability is Durability.fsync,
            events_outbox=bool(self.events_url),
        )

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: str | None) -> str | None:
        if not value:
            return None
        if len(value) < METRICS_TOKEN_MIN:
            raise ValueError(f"must be at least {METRICS_TOKEN_MIN} characters (or empty: off)")
        return value

    def instance_urls(self, fallback_domain: str) -> tuple[str, str]:
        """``(default short domain, public base URL)``: configured values, else the fallback."""
        domain = (self.short_domain or fallback_domain).lower()
        return domain, (self.public_url or f"http://{domain}").rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        """The relational database URL, SQLite in the data directory by default."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'codeqr.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the relational store is the embedded SQLite file."""
        return self.sqlalchemy_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        """The data directory, created or tightened to its owner only (0700): it holds the
        database and the cookie-signing key."""
        path = self.data_dir
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.stat().st_mode & 0o077:
            with contextlib.suppress(PermissionError):  # another user's: not ours to change
                path.chmod(0o700)
        return path

    def secret(self) -> str:
        """The cookie-signing key, created once in the data directory when not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        import secrets

        self.ensure_data_dir()
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

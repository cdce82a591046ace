"""The redirect's view of links: an in-process cache that a link change invalidates at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select

from codeqr.kit.clock import now_ms, to_ms
from codeqr.kit.db import Database
from codeqr.link.models import Domain, Link
from codeqr.partner.models import Enrollment, EnrollmentStatus


@dataclass(slots=True, frozen=True)
class Route:
    """Everything the redirect needs of one link, precomputed once per cache fill."""

    link_id: str
    workspace_id: str
    domain: str
    key: str
    url: str
    base: str
    """The destination without query and fragment."""
    query: tuple[tuple[str, str], ...]
    raw_query: str
    """The destination's query as written (for the fast path that only appends a click id)."""
    fragment: str
    track_conversion: bool
    expires_at_ms: int | None
    expired_url: str | None
    password_hash: str | None
    ios: str | None
    android: str | None
    geo: dict[str, str] | None
    partner: bool = False
    """A partner's link: its clicks may earn a click reward (``commission.clicks``)."""

    @classmethod
    def of(cls, link: Link) -> Route:
        """The route of a link row."""
        parts = urlsplit(link.url)
        base = parts._replace(query="", fragment="").geturl()
        return cls(
            link_id=link.id,
            workspace_id=link.workspace_id,
            domain=link.domain,
            key=link.key,
            url=link.url,
            base=base,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
            raw_query=parts.query,
            fragment=parts.fragment,
            track_conversion=link.track_conversion,
            expires_at_ms=to_ms(link.expires_at) if link.expires_at else None,
            expired_url=link.expired_url,
            password_hash=link.password_hash,
            ios=link.ios,
            android=link.android,
            geo=link.geo,
            partner=link.partner_id is not None,
        )


@dataclass(slots=True, frozen=True)
class DomainInfo:
    """What the redirect needs of a custom domain (the default domain has ``slug`` None)."""

    slug: str | None
    workspace_id: str | None
    not_found_url: str | None
    expired_url: str | None


MISSING = object()
_DEFAULT_DOMAIN = DomainInfo(None, None, None, None)


class LinkCache:
    """Bounded map of ``(domain, lowered key) → Route | None`` with race-free invalidation.

    A fill remembers the generation it started under; an invalidation bumps the generation,
    so a fill that read the row before a concurrent update committed is never stored.
    Entries also expire after ``ttl_ms``: the bound on staleness when another process
    changed the link and no invalidation reached this one.
    """

    def __init__(
        self, db: Database, default_domain: str, size: int = 100_000, ttl_ms: int = 60_000
    ) -> None:
        self.db = db
        self.default_domain = default_domain
        self.size = size
        self.ttl_ms = ttl_ms
        self._routes: OrderedDict[tuple[str, str], tuple[Route | None, int]] = OrderedDict()
        self._domains: dict[str, DomainInfo] | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self._suspended = False

    def get(self, domain: str, key_lower: str, now_ms: int) -> Route | object | None:
        """The cached route, ``None`` for a known miss, or ``MISSING`` when not cached."""
        entry = self._routes.get((domain, key_lower))
        if entry is None or entry[1] <= now_ms:
            return MISSING
        return entry[0]

    def generation(self) -> int:
        """A token to pass to ``put``."""
        return self._generation

    def load(self, domain: str, key_lower: str) -> Route | None:
        """Read a route from the database (runs in a worker thread).

        A banned partner's link is not found (``None``): it answers as a link that does not
        exist (404, or its domain's not-found URL) and records nothing. Banning a partner
        invalidates its links (``partner.service.ban``).
        """
        with self.db.session() as session:
            link = session.scalar(
                select(Link).where(Link.domain == domain, Link.key_lower == key_lower)
            )
            if link is None:
                return None
            if link.partner_id is not None and link.program_id is not None:
                status = session.scalar(
                    select(Enrollment.status).where(
                        Enrollment.program_id == link.program_id,
                        Enrollment.partner_id == link.partner_id,
                    )
                )
                if status == EnrollmentStatus.banned:
                    return None
            return Route.of(link)

    def put(self, domain: str, key_lower: str, route: Route | None, generation: int) -> None:
        """Store a fill unless something changed since it started."""
        with self._lock:
            if generation != self._generation or self.size == 0 or self._suspended:
                return
            self._routes[(domain, key_lower)] = (route, now_ms() + self.ttl_ms)
            self._routes.move_to_end((domain, key_lower))
            if len(self._routes) > self.size:
                self._routes.popitem(last=False)

    def invalidate(self, domain: str, key_lower: str) -> None:
        """Forget one link at once (called after the change commits); an empty key names
        the custom domain itself (added, changed, renamed or deleted): the domain table is
        read again and every link of that domain forgotten."""
        with self._lock:
            self._generation += 1
            if key_lower:
                self._routes.pop((domain, key_lower), None)
                return
            self._domains = None
            for cached in [k for k in self._routes if k[0] == domain]:
                del self._routes[cached]

    def suspend(self) -> None:
        """Drop every entry and cache nothing until ``resume``: invalidations from other
        processes cannot reach this one meanwhile (scale-out, Redis away)."""
        with self._lock:
            self._suspended = True
            self._generation += 1
            self._routes.clear()
            self._domains = None

    def resume(self) -> None:
        """Cache again (invalidations reach this process again)."""
        with self._lock:
            self._generation += 1
            self._routes.clear()
            self._domains = None
            self._suspended = False

    def domains_stale(self) -> bool:
        """Whether the domain table must be read again (at start, after a domain change)."""
        return self._domains is None

    def load_domains(self) -> dict[str, DomainInfo]:
        """Read the custom domain table (the redirect calls it in a worker thread) and keep
        it, unless a domain changed while it was read."""
        generation = self._generation
        with self.db.session() as session:
            rows = session.execute(
                select(Domain.slug, Domain.workspace_id, Domain.not_found_url, Domain.expired_url)
            ).all()
        domains = {row[0]: DomainInfo(*row) for row in rows}
        with self._lock:
            if generation == self._generation:
                self._domains = domains
        return domains

    def domain_for_host(self, host: str, table: dict[str, DomainInfo] | None = None) -> DomainInfo:
        """The custom domain of a Host header (with or without a port), or the default;
        from ``table`` when given (just read), else the kept one."""
        domains = table if table is not None else self._domains
        if domains is None:
            domains = self.load_domains()
        found = domains.get(host)
        if found is None and ":" in host:
            found = domains.get(host.rsplit(":", 1)[0])
        return found or _DEFAULT_DOMAIN

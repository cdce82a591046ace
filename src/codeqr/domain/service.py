"""Rules of custom domains: valid hostnames, one workspace each, a bound per plan, and the
links and redirect cache that follow a domain. Services never commit."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from codeqr.domain.schemas import DomainCreate, DomainFields, DomainOut, DomainUpdate
from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from codeqr.kit.ids import new_id
from codeqr.link.models import Domain, Link, LinkTag
from codeqr.link.service import LinkContext, after_commit
from codeqr.link.urls import normalize_url
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import get_plan

# A DNS name of at least two labels, each 1-63 letters, digits or inner hyphens, under a
# top-level label that is alphabetic or an IDNA A-label (so no bare IPs, no "localhost").
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
HOSTNAME_MAX = 253
DOMAIN_KEY = ""
"""The key a domain-wide cache invalidation names: no link has an empty key."""


def host_of(domain: str) -> str:
    """``domain`` without its port (``localhost:8000`` → ``localhost``)."""
    return urlsplit(f"//{domain}").hostname or domain


class DomainService:
    """Domain rules bound to the instance's own hosts and the redirect cache."""

    def __init__(self, ctx: LinkContext, invalidate: Callable[[str, str], None]) -> None:
        self.ctx = ctx
        self._invalidate = invalidate
        self.own_hosts = frozenset(
            h for h in (host_of(ctx.default_domain), urlsplit(ctx.public_url).hostname) if h
        )

    # -- the instance's host ----------------------------------------------------------------

    @property
    def target(self) -> str:
        """Where a custom domain's DNS must point: the host of the instance's public URL."""
        return urlsplit(self.ctx.public_url).hostname or host_of(self.ctx.default_domain)

    def dns_record(self, domain: Domain) -> tuple[str, str, str]:
        """The record to set for ``domain``: ``(type, name, value)``. A CNAME to the
        instance's host, or an A/AAAA record when the instance is reached by address."""
        try:
            address = ipaddress.ip_address(self.target)
        except ValueError:
            return "CNAME", domain.slug, self.target
        return ("A" if address.version == 4 else "AAAA"), domain.slug, str(address)

    # -- reads --------------------------------------------------------------------------------

    def get(self, session: Session, workspace: Workspace, slug: str) -> Domain:
        """A domain of this workspace by its slug; 404 for any other (SPEC §2)."""
        name = slug.strip().lower()
        found = None
        if name and "\x00" not in name:
            found = session.scalar(
                select(Domain).where(Domain.workspace_id == workspace.id, Domain.slug == name)
            )
        if found is None:
            raise NotFound(f"Domain {slug[:200]} not found.")
        return found

    @staticmethod
    def by_slug(session: Session, slug: str) -> Domain | None:
        """Any workspace's domain by its slug (for the operator's commands)."""
        name = slug.strip().lower().rstrip(".")
        if not name or "\x00" in name:
            return None
        return session.scalar(select(Domain).where(Domain.slug == name))

    def find(
        self,
        session: Session,
        workspace: Workspace,
        *,
        archived: bool,
        search: str | None,
        page: int,
        page_size: int,
    ) -> Sequence[Domain]:
        """A page of the workspace's domains (archived ones, or the others), oldest first."""
        stmt = select(Domain).where(
            Domain.workspace_id == workspace.id, Domain.archived.is_(archived)
        )
        if search:
            term = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Domain.slug.like(f"%{term}%", escape="\\"))
        stmt = stmt.order_by(Domain.created_at, Domain.id)
        return session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)).all()

    def all_of(self, session: Session, workspace: Workspace) -> Sequence[Domain]:
        """Every domain of the workspace (bounded by its plan), oldest first."""
        return session.scalars(
            select(Domain)
            .where(Domain.workspace_id == workspace.id)
            .order_by(Domain.created_at, Domain.id)
        ).all()

    # -- writes -------------------------------------------------------------------------------

    def create(self, session: Session, workspace: Workspace, data: DomainCreate) -> Domain:
        """Add a custom domain; 409 when any workspace holds it, 403 past the plan's bound."""
        slug = self.valid_slug(data.slug)
        values = self._values(data)
        self._ensure_free(session, slug)
        self._lock(session, workspace)
        now = utcnow()
        domain = Domain(
            id=new_id("dom"),
            workspace_id=workspace.id,
            slug=slug,
            archived=bool(data.archived),
            verified=False,
            created_at=now,
            updated_at=now,
        )
        for name, value in values.items():
            setattr(domain, name, value)
        session.add(domain)
        session.flush()
        self._within_plan(session, workspace)
        self._changed(session, slug)
        return domain

    def update(
        self, session: Session, workspace: Workspace, domain: Domain, data: DomainUpdate
    ) -> Domain:
        """Apply the fields that were sent; a new ``slug`` moves the domain's links with it."""
        sent = data.model_fields_set
        old = domain.slug
        slug = old
        if "slug" in sent and data.slug:
            slug = self.valid_slug(data.slug)
            if slug != old:
                self._ensure_free(session, slug)
        values = self._values(data)
        # Validated: apply.
        for name, value in values.items():
            setattr(domain, name, value)
        if "archived" in sent and data.archived is not None:
            domain.archived = data.archived
        if slug != old:
            domain.slug = slug
            # The rename is a new hostname: it must be pointed at the instance again.
            domain.verified = False
            session.execute(
                update(Link)
                .where(Link.workspace_id == workspace.id, Link.domain == old)
                .values(domain=slug)
            )
        domain.updated_at = utcnow()
        session.flush()
        self._changed(session, old)
        self._changed(session, slug)
        return domain

    def delete(self, session: Session, workspace: Workspace, domain: Domain) -> None:
        """Delete a domain and its links (as Dub does); their clicks stay in analytics."""
        links = select(Link.id).where(Link.workspace_id == workspace.id, Link.domain == domain.slug)
        session.execute(delete(LinkTag).where(LinkTag.link_id.in_(links)))
        session.execute(
            delete(Link).where(Link.workspace_id == workspace.id, Link.domain == domain.slug)
        )
        session.delete(domain)
        session.flush()
        self._changed(session, domain.slug)

    def set_verified(self, session: Session, domain: Domain, verified: bool) -> None:
        """Record what the last DNS check found."""
        domain.verified = verified
        domain.updated_at = utcnow()
        session.flush()

    # -- output -------------------------------------------------------------------------------

    @staticmethod
    def out(domain: Domain) -> DomainOut:
        """The API shape of a domain."""
        return DomainOut(
            id=domain.id,
            slug=domain.slug,
            verified=domain.verified,
            archived=domain.archived,
            placeholder=domain.placeholder,
            expired_url=domain.expired_url,
            not_found_url=domain.not_found_url,
            created_at=iso(domain.created_at) or "",
            updated_at=iso(domain.updated_at) or "",
        )

    # -- rules --------------------------------------------------------------------------------

    def valid_slug(self, value: str) -> str:
        """The lowercase hostname of ``value``; 422 unless it is a DNS name this instance
        can serve as a custom domain."""
        slug = value.strip().lower().rstrip(".")
        if not slug:
            raise Unprocessable("slug: must not be empty")
        if len(slug) > HOSTNAME_MAX or not HOSTNAME_RE.match(slug):
            raise Unprocessable(
                f"slug: {value[:100]!r} is not a hostname (like go.example.com: letters, digits "
                "and hyphens in dot-separated labels; no scheme, path, port or address; "
                "international names in their xn-- form)"
            )
        if slug in self.own_hosts:
            raise Unprocessable(f"slug: {slug} is this instance's own host")
        return slug

    @staticmethod
    def _values(data: DomainFields) -> dict[str, str | None]:
        """Columns for the URL fields that were sent, validated; nothing is set yet."""
        sent = data.model_fields_set
        values: dict[str, str | None] = {}
        for name, wire in (
            ("expired_url", "expiredUrl"),
            ("not_found_url", "notFoundUrl"),
            ("placeholder", "placeholder"),
        ):
            if name in sent:
                value = getattr(data, name)
                values[name] = normalize_url(value, wire) if value else None
        return values

    @staticmethod
    def _ensure_free(session: Session, slug: str) -> None:
        # Checked first for a clear message; the unique key settles a race (409 as well).
        with session.no_autoflush:
            if session.scalar(select(Domain.id).where(Domain.slug == slug)):
                raise Conflict(f"slug: the domain {slug} is already in use.")

    @staticmethod
    def _lock(session: Session, workspace: Workspace) -> None:
        # PostgreSQL: creations in one workspace queue on its row until the first commits,
        # so their counts after the insert (``_within_plan``) cannot pass the bound together.
        # SQLite: a transaction begins at its first write, under the one write lock.
        session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())

    @staticmethod
    def _within_plan(session: Session, workspace: Workspace) -> None:
        """403 when the workspace now holds more domains than its plan allows (the
        request's rollback takes the new one back)."""
        limit = get_plan(session, workspace.plan).domains
        held = session.scalar(
            select(func.count(Domain.id)).where(Domain.workspace_id == workspace.id)
        )
        if (held or 0) > limit:
            raise Forbidden(
                f"Domain limit reached: the {workspace.plan} plan allows {limit} custom "
                "domains; delete one or move to a larger plan."
            )

    def _changed(self, session: Session, slug: str) -> None:
        after_commit(session, lambda: self._invalidate(slug, DOMAIN_KEY))

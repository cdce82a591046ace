"""Rules of links: keys, domains, destinations, tags, counters. Services never commit."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from codeqr.kit.ids import base62, new_id
from codeqr.kit.passwords import hash_password
from codeqr.link.models import Domain, Link, LinkTag, Tag
from codeqr.link.schemas import LinkCreate, LinkFields, LinkOut, LinkUpdate, TagOut
from codeqr.link.urls import UTM_FIELDS, normalize_url, utm_of, with_utm
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

RESERVED_KEYS = frozenset(
    {
        "api",
        "_",
        "oauth",
        "static",
        "healthz",
        "dashboard",
        "login",
        "logout",
        "signin",
        "signout",
        "docs",
        "redoc",
        "openapi.json",
        "favicon.ico",
        "robots.txt",
        "settings",
        "links",
        "analytics",
        "events",
        "customers",
        "app",
        "auth",
        "admin",
        "well-known",
        ".well-known",
    }
)
KEY_RE = re.compile(r"^[^\s/?#\\%<>\"'`]+(?:/[^\s/?#\\%<>\"'`]+)*$")
DEFAULT_KEY_LENGTH = 7
AFTER_COMMIT = "after_commit"


@dataclass(frozen=True)
class LinkContext:
    """What link rules need from the instance: its default domain and public base URL."""

    default_domain: str
    public_url: str

    def short_link(self, domain: str, key: str) -> str:
        """The short URL of a link."""
        scheme = (
            "http"
            if domain == self.default_domain and self.public_url.startswith("http://")
            else "https"
        )
        return f"{scheme}://{domain}/{key}"

    def qr_code(self, short_link: str) -> str:
        """URL of the QR image of a short link (it encodes ``?qr=1``)."""
        return f"{self.public_url}/api/qr?url={quote(short_link + '?qr=1', safe='')}"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction has committed (cache invalidation)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class LinkService:
    """Link rules bound to the instance's context and the redirect cache."""

    def __init__(self, ctx: LinkContext, invalidate: Callable[[str, str], None]) -> None:
        self.ctx = ctx
        self._invalidate = invalidate

    # -- reads ------------------------------------------------------------------------------

    def get(self, session: Session, workspace: Workspace, link_id: str) -> Link:
        """A link of this workspace by id or ``ext_<externalId>``; 404 for any other."""
        if link_id.startswith("ext_"):
            link = session.scalar(
                select(Link).where(
                    Link.workspace_id == workspace.id, Link.external_id == link_id[4:]
                )
            )
        else:
            link = session.scalar(
                select(Link).where(Link.workspace_id == workspace.id, Link.id == link_id)
            )
        if link is None:
            raise NotFound(f"Link {link_id} not found.")
        return link

    def info(
        self,
        session: Session,
        workspace: Workspace,
        *,
        domain: str | None,
        key: str | None,
        link_id: str | None,
        external_id: str | None,
    ) -> Link:
        """A link by ``linkId``, ``externalId`` or ``domain`` + ``key``."""
        if link_id:
            return self.get(session, workspace, link_id)
        if external_id:
            return self.get(session, workspace, "ext_" + external_id.removeprefix("ext_"))
        if domain and key:
            link = session.scalar(
                select(Link).where(
                    Link.workspace_id == workspace.id,
                    Link.domain == domain.lower(),
                    Link.key_lower == key.lower(),
                )
            )
            if link is None:
                raise NotFound(f"Link {domain}/{key} not found.")
            return link
        raise Unprocessable("Provide linkId, externalId, or both domain and key.")

    def _filtered(
        self, stmt: Select[Any], workspace: Workspace, filters: dict[str, Any]
    ) -> Select[Any]:
        stmt = stmt.where(Link.workspace_id == workspace.id)
        if filters.get("domain"):
            stmt = stmt.where(Link.domain == filters["domain"].lower())
        if filters.get("tenant_id"):
            stmt = stmt.where(Link.tenant_id == filters["tenant_id"])
        if filters.get("user_id"):
            stmt = stmt.where(Link.user_id == filters["user_id"])
        if not filters.get("show_archived"):
            stmt = stmt.where(Link.archived.is_(False))
        if filters.get("search"):
            term = f"%{filters['search'].lower()}%"
            stmt = stmt.where(or_(func.lower(Link.url).like(term), Link.key_lower.like(term)))
        tag_ids = list(filters.get("tag_ids") or [])
        if filters.get("tag_id"):
            tag_ids.append(filters["tag_id"])
        if tag_ids:
            stmt = stmt.where(
                Link.id.in_(select(LinkTag.link_id).where(LinkTag.tag_id.in_(tag_ids)))
            )
        if filters.get("tag_names"):
            names = [n.lower() for n in filters["tag_names"]]
            stmt = stmt.where(
                Link.id.in_(
                    select(LinkTag.link_id)
                    .join(Tag, Tag.id == LinkTag.tag_id)
                    .where(Tag.workspace_id == workspace.id, func.lower(Tag.name).in_(names))
                )
            )
        return stmt

    def find(
        self,
        session: Session,
        workspace: Workspace,
        filters: dict[str, Any],
        *,
        page: int,
        page_size: int,
        sort_desc: bool = True,
    ) -> Sequence[Link]:
        """A page of the workspace's links, newest first by default."""
        order = (
            (Link.created_at.desc(), Link.id.desc())
            if sort_desc
            else (Link.created_at.asc(), Link.id.asc())
        )
        stmt = self._filtered(select(Link), workspace, filters).order_by(*order)
        return session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)).all()

    def count(self, session: Session, workspace: Workspace, filters: dict[str, Any]) -> int:
        """How many links match the filters."""
        stmt = self._filtered(select(func.count(Link.id)), workspace, filters)
        return int(session.scalar(stmt) or 0)

    # -- writes -----------------------------------------------------------------------------

    def create(
        self, session: Session, workspace: Workspace, data: LinkCreate, user_id: str | None
    ) -> Link:
        """Create a link; 409 when its domain and key are taken or its externalId is used."""
        if data.track_conversion:
            require_plan(session, workspace, "Conversion tracking")
        domain = self._domain(session, workspace, data.domain)
        url = self._destination(data.url, data)
        link = Link(
            id=new_id("link"),
            workspace_id=workspace.id,
            user_id=user_id,
            domain=domain,
            url=url,
            clicks=0,
            leads=0,
            sales=0,
            sale_amount=0,
            archived=False,
            track_conversion=False,
        )
        self._assign(session, workspace, link, data, creating=True)
        key = data.key
        if key:
            key = self._check_key(key)
            if data.prefix:
                key = f"{data.prefix.strip('/')}/{key}"
        else:
            key = self._free_key(
                session, domain, data.key_length or DEFAULT_KEY_LENGTH, data.prefix
            )
        link.key, link.key_lower = key, key.lower()
        self._ensure_unique(session, link)
        session.add(link)
        session.flush()
        self._set_tags(session, workspace, link, data)
        self._changed(session, link.domain, link.key_lower)
        return link

    def update(self, session: Session, workspace: Workspace, link: Link, data: LinkUpdate) -> Link:
        """Apply the fields that were sent; ``null`` clears a field."""
        sent = data.model_fields_set
        if data.track_conversion:
            require_plan(session, workspace, "Conversion tracking")
        old = (link.domain, link.key_lower)
        if "domain" in sent and data.domain:
            link.domain = self._domain(session, workspace, data.domain)
        if "key" in sent and data.key:
            key = self._check_key(data.key)
            link.key, link.key_lower = key, key.lower()
        if "url" in sent:
            if not data.url:
                raise Unprocessable("url: must not be empty")
            link.url = self._destination(data.url, data)
        elif any(f in sent for f in UTM_FIELDS):
            link.url = self._destination(link.url, data)
        self._assign(session, workspace, link, data, creating=False)
        if (link.domain, link.key_lower) != old or "external_id" in sent:
            self._ensure_unique(session, link)
        link.updated_at = utcnow()
        session.flush()
        if sent & {"tag_id", "tag_ids", "tag_names"}:
            self._set_tags(session, workspace, link, data, replace=True)
        self._changed(session, *old)
        self._changed(session, link.domain, link.key_lower)
        return link

    def delete(self, session: Session, workspace: Workspace, link: Link) -> None:
        """Delete a link; its recorded clicks stay in analytics."""
        session.execute(delete(LinkTag).where(LinkTag.link_id == link.id))
        session.delete(link)
        session.flush()
        self._changed(session, link.domain, link.key_lower)

    def upsert(
        self, session: Session, workspace: Workspace, data: LinkCreate, user_id: str | None
    ) -> Link:
        """Update the workspace's link with the same destination URL, or create one."""
        url = normalize_url(data.url)
        existing = session.scalar(
            select(Link)
            .where(Link.workspace_id == workspace.id, Link.url == url)
            .order_by(Link.created_at)
            .limit(1)
        )
        if existing is None:
            return self.create(session, workspace, data, user_id)
        fields = data.model_dump(exclude_unset=True)
        return self.update(session, workspace, existing, LinkUpdate.model_validate(fields))

    # -- output -----------------------------------------------------------------------------

    def out(self, session: Session, link: Link) -> LinkOut:
        """The API shape of a link."""
        return self.out_many(session, [link])[0]

    def out_many(self, session: Session, links: Sequence[Link]) -> list[LinkOut]:
        """API shapes of several links with one query for their tags."""
        tags: dict[str, list[TagOut]] = {}
        if links:
            rows = session.execute(
                select(LinkTag.link_id, Tag)
                .join(Tag, Tag.id == LinkTag.tag_id)
                .where(LinkTag.link_id.in_([link.id for link in links]))
                .order_by(Tag.name)
            ).all()
            for link_id, tag in rows:
                tags.setdefault(link_id, []).append(
                    TagOut(id=tag.id, name=tag.name, color=tag.color)
                )
        return [self._out(link, tags.get(link.id, [])) for link in links]

    def _out(self, link: Link, tags: list[TagOut]) -> LinkOut:
        short = self.ctx.short_link(link.domain, link.key)
        return LinkOut(
            id=link.id,
            domain=link.domain,
            key=link.key,
            url=link.url,
            track_conversion=link.track_conversion,
            external_id=link.external_id,
            tenant_id=link.tenant_id,
            archived=link.archived,
            expires_at=iso(link.expires_at),
            expired_url=link.expired_url,
            password=None,
            title=link.title,
            description=link.description,
            image=link.image,
            ios=link.ios,
            android=link.android,
            geo=link.geo,
            tag_id=tags[0].id if tags else None,
            tags=tags,
            comments=link.comments,
            short_link=short,
            qr_code=self.ctx.qr_code(short),
            utm_source=link.utm_source,
            utm_medium=link.utm_medium,
            utm_campaign=link.utm_campaign,
            utm_term=link.utm_term,
            utm_content=link.utm_content,
            user_id=link.user_id,
            workspace_id=link.workspace_id,
            project_id=link.workspace_id,
            clicks=link.clicks,
            leads=link.leads,
            conversions=link.leads,
            sales=link.sales,
            sale_amount=link.sale_amount,
            last_clicked=iso(link.last_clicked),
            created_at=iso(link.created_at) or "",
            updated_at=iso(link.updated_at) or "",
        )

    # -- helpers ----------------------------------------------------------------------------

    def _changed(self, session: Session, domain: str, key_lower: str) -> None:
        after_commit(session, lambda: self._invalidate(domain, key_lower))

    def _domain(self, session: Session, workspace: Workspace, domain: str | None) -> str:
        if not domain:
            return self.ctx.default_domain
        domain = domain.strip().lower()
        if domain == self.ctx.default_domain:
            return domain
        owner = session.scalar(select(Domain.workspace_id).where(Domain.slug == domain))
        if owner != workspace.id:
            raise Forbidden(f"Domain {domain} does not belong to this workspace.")
        return domain

    @staticmethod
    def _check_key(key: str) -> str:
        key = key.strip().strip("/")
        if not key or not KEY_RE.match(key):
            raise Unprocessable(
                "key: may not be empty or contain spaces, '?', '#', '%', quotes or backslashes"
            )
        if key.split("/", 1)[0].lower() in RESERVED_KEYS:
            raise Unprocessable(f"key: {key!r} is reserved")
        return key

    @staticmethod
    def _free_key(session: Session, domain: str, length: int, prefix: str | None) -> str:
        for _ in range(10):
            key = base62(length)
            if prefix:
                key = f"{prefix.strip('/')}/{key}"
            taken = session.scalar(
                select(Link.id).where(Link.domain == domain, Link.key_lower == key.lower())
            )
            if not taken:
                return key
        raise Conflict("Could not find a free key; try a longer keyLength.")  # pragma: no cover

    @staticmethod
    def _destination(url: str, data: LinkFields) -> str:
        url = normalize_url(url)
        sent = data.model_fields_set
        utm = {f: getattr(data, f) for f in UTM_FIELDS if f in sent}
        return with_utm(url, utm)

    @staticmethod
    def _ensure_unique(session: Session, link: Link) -> None:
        clash = session.scalar(
            select(Link.id).where(
                Link.domain == link.domain, Link.key_lower == link.key_lower, Link.id != link.id
            )
        )
        if clash:
            raise Conflict(f"Duplicate key: {link.key} already exists on {link.domain}.")
        if link.external_id:
            clash = session.scalar(
                select(Link.id).where(
                    Link.workspace_id == link.workspace_id,
                    Link.external_id == link.external_id,
                    Link.id != link.id,
                )
            )
            if clash:
                raise Conflict(f"A link with externalId {link.external_id} already exists.")

    def _assign(
        self,
        session: Session,
        workspace: Workspace,
        link: Link,
        data: LinkFields,
        *,
        creating: bool,
    ) -> None:
        sent = data.model_fields_set
        simple = (
            "external_id",
            "tenant_id",
            "title",
            "description",
            "image",
            "ios",
            "android",
            "comments",
        )
        for name in simple:
            if name in sent:
                value = getattr(data, name)
                if name in {"ios", "android"} and value:
                    value = normalize_url(value, name)
                setattr(link, name, value or None)
        for name in ("track_conversion", "archived"):
            if name in sent:
                setattr(link, name, bool(getattr(data, name)))
        if "expires_at" in sent:
            expires = data.expires_at
            if expires is not None and expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            link.expires_at = expires
        if "expired_url" in sent:
            link.expired_url = (
                normalize_url(data.expired_url, "expiredUrl") if data.expired_url else None
            )
        if "password" in sent:
            link.password_hash = hash_password(data.password) if data.password else None
        if "geo" in sent:
            link.geo = (
                {c: normalize_url(u, f"geo.{c}") for c, u in data.geo.items()} if data.geo else None
            )
        utm = utm_of(link.url)
        for name in UTM_FIELDS:
            setattr(link, name, utm[name])

    def _set_tags(
        self,
        session: Session,
        workspace: Workspace,
        link: Link,
        data: LinkFields,
        *,
        replace: bool = False,
    ) -> None:
        ids = list(data.tag_ids or [])
        if data.tag_id:
            ids.append(data.tag_id)
        tags: list[Tag] = []
        if ids:
            found = session.scalars(
                select(Tag).where(Tag.workspace_id == workspace.id, Tag.id.in_(ids))
            ).all()
            missing = set(ids) - {t.id for t in found}
            if missing:
                raise Unprocessable(f"tagIds: unknown tag(s) {', '.join(sorted(missing))}")
            tags.extend(found)
        for name in data.tag_names or []:
            tag = session.scalar(
                select(Tag).where(
                    Tag.workspace_id == workspace.id, func.lower(Tag.name) == name.lower()
                )
            )
            if tag is None:
                tag = Tag(id=new_id("tag"), workspace_id=workspace.id, name=name[:64], color="blue")
                session.add(tag)
                session.flush()
            tags.append(tag)
        if replace:
            session.execute(delete(LinkTag).where(LinkTag.link_id == link.id))
        for tag_id in dict.fromkeys(t.id for t in tags):
            session.add(LinkTag(link_id=link.id, tag_id=tag_id))
        session.flush()

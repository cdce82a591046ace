"""Rules of links: keys, domains, destinations, tags, counters. Services never commit."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import quote

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import CodeQRError, Conflict, Forbidden, NotFound, Unprocessable
from codeqr.kit.hooks import notes
from codeqr.kit.ids import base62, new_id
from codeqr.kit.passwords import hash_password
from codeqr.link import repository
from codeqr.link.models import Domain, Link, LinkTag, Tag
from codeqr.link.schemas import (
    BulkUpdate,
    CountGroupBy,
    LinkCreate,
    LinkError,
    LinkErrorCode,
    LinkFields,
    LinkFilters,
    LinkOut,
    LinkUpdate,
    SortOrder,
    TagOut,
)
from codeqr.link.urls import UTM_FIELDS, normalize_url, utm_of, with_utm
from codeqr.workspace import quota
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

RESERVED_KEYS = frozenset(
    {
        "api",
        "_",
        "oauth",
        "static",
        "healthz",
        "readyz",
        "metrics",
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
_SEGMENT = r"[^\s/?#\\%<>\"'`\x00-\x1f\x7f]+"
KEY_RE = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})*$")
KEY_MAX = 190
DOMAIN_RE = re.compile(r"^[^\s/?#@\\%<>\"'`:\x00-\x1f\x7f]+(?::\d{1,5})?$")
DEFAULT_KEY_LENGTH = 7
MAX_BULK = 100
AFTER_COMMIT = "after_commit"
_TAG_FIELDS = frozenset({"tag_id", "tag_ids", "tag_names"})
_LINK_ERROR_CODES: frozenset[str] = frozenset(get_args(LinkErrorCode))


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


@dataclass
class _Tags:
    """Tags a write will attach: found ones, and names to create once everything is valid."""

    found: list[Tag] = field(default_factory=list)
    new_names: list[str] = field(default_factory=list)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction has committed (cache invalidation)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def _findable(value: str) -> bool:
    # An id with NUL cannot exist, and PostgreSQL refuses to even compare it.
    return bool(value) and "\x00" not in value


class LinkService:
    """Link rules bound to the instance's context and the redirect cache.

    Writes validate everything before the first row is touched, so a failed create writes
    nothing even inside a bulk request that goes on with the next item.
    """

    def __init__(self, ctx: LinkContext, invalidate: Callable[[str, str], None]) -> None:
        self.ctx = ctx
        self._invalidate = invalidate

    # -- reads ------------------------------------------------------------------------------

    def get(self, session: Session, workspace: Workspace, link_id: str) -> Link:
        """A link of this workspace by id or ``ext_<externalId>``; 404 for any other."""
        link = self.find_one(session, workspace, link_id)
        if link is None:
            raise NotFound(f"Link {link_id[:100]} not found.")
        return link

    def find_one(self, session: Session, workspace: Workspace, link_id: str) -> Link | None:
        """Like ``get`` but ``None`` when the workspace has no such link."""
        if not _findable(link_id):
            return None
        if link_id.startswith("ext_"):
            where = Link.external_id == link_id[4:]
        else:
            where = Link.id == link_id
        return session.scalar(select(Link).where(Link.workspace_id == workspace.id, where))

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
            domain, key = domain.strip().lower(), key.strip().strip("/")
            link = None
            if _findable(domain) and _findable(key):
                link = session.scalar(
                    select(Link).where(
                        Link.workspace_id == workspace.id,
                        Link.domain == domain,
                        Link.key_lower == key.lower(),
                    )
                )
            if link is None:
                raise NotFound(f"Link {domain[:100]}/{key[:100]} not found.")
            return link
        raise Unprocessable("Provide linkId, externalId, or both domain and key.")

    def find(
        self,
        session: Session,
        workspace: Workspace,
        filters: LinkFilters,
        *,
        page: int,
        page_size: int,
        order: SortOrder = SortOrder.desc,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> Sequence[Link]:
        """A page of the workspace's links, newest first by default.

        ``startingAfter`` / ``endingBefore`` name a link of the workspace to page from;
        ``page`` then counts pages from that link.
        """
        self._check_folder(filters)
        if starting_after and ending_before:
            raise Unprocessable("Use startingAfter or endingBefore, not both.")
        after = self.get(session, workspace, starting_after) if starting_after else None
        before = self.get(session, workspace, ending_before) if ending_before else None
        return repository.find_page(
            session,
            workspace.id,
            filters,
            offset=(page - 1) * page_size,
            limit=page_size,
            order=order,
            starting_after=after,
            ending_before=before,
        )

    def count(
        self,
        session: Session,
        workspace: Workspace,
        filters: LinkFilters,
        group_by: CountGroupBy | None = None,
    ) -> int | list[dict[str, Any]]:
        """How many links match; with ``group_by``, Dub's ``[{field: value, "_count": n}]``."""
        self._check_folder(filters)
        if group_by is None:
            return repository.count(session, workspace.id, filters)
        return repository.count_by(session, workspace.id, filters, group_by)

    @staticmethod
    def _check_folder(filters: LinkFilters) -> None:
        # Folders do not exist yet, so any folder named is one this workspace does not have.
        if filters.folder_id:
            raise NotFound(f"Folder {filters.folder_id[:100]} not found.")

    # -- writes -----------------------------------------------------------------------------

    def create(
        self, session: Session, workspace: Workspace, data: LinkCreate, user_id: str | None
    ) -> Link:
        """Create a link; 409 when its domain and key are taken or its externalId is used."""
        if data.track_conversion:
            require_plan(session, workspace, "Conversion tracking")
        domain = self._domain(session, workspace, data.domain)
        link = Link(
            id=new_id("link"),
            workspace_id=workspace.id,
            user_id=user_id,
            domain=domain,
            url=self._destination(data.url, data),
            clicks=0,
            leads=0,
            sales=0,
            sale_amount=0,
            archived=False,
            track_conversion=False,
        )
        for name, value in self._values(link.url, data).items():
            setattr(link, name, value)
        if data.key:
            key = self._valid_key(data.key, data.prefix)
        else:
            key = self._free_key(
                session, domain, data.key_length or DEFAULT_KEY_LENGTH, data.prefix
            )
        link.key, link.key_lower = key, key.lower()
        self._ensure_unique(session, link)
        tags = self._resolve_tags(session, workspace, data)
        # Everything is valid: only now is anything written, the month's quota first.
        quota.claim_links(session, workspace, utcnow())
        session.add(link)
        session.flush()
        self._attach_tags(session, workspace, link, tags)
        self._changed(session, link.domain, link.key_lower)
        if (hooks := notes(session)) is not None:
            hooks.link_changed(session, "link.created", link)
        return link

    def try_create(
        self,
        session: Session,
        workspace: Workspace,
        raw: Any,
        data: LinkCreate,
        user_id: str | None,
    ) -> Link | LinkError:
        """One item of a bulk create: the link, or its error in Dub's ``LinkErrorSchema``."""
        try:
            return self.create(session, workspace, data, user_id)
        except CodeQRError as exc:
            code = exc.code if exc.code in _LINK_ERROR_CODES else "unprocessable_entity"
            return LinkError(link=raw, error=exc.message, code=code)

    def update(self, session: Session, workspace: Workspace, link: Link, data: LinkUpdate) -> Link:
        """Apply the fields that were sent; ``null`` clears a field."""
        sent = data.model_fields_set
        if data.track_conversion:
            require_plan(session, workspace, "Conversion tracking")
        old = (link.domain, link.key_lower)
        domain = link.domain
        if "domain" in sent and data.domain:
            domain = self._domain(session, workspace, data.domain)
        key = self._valid_key(data.key) if "key" in sent and data.key else link.key
        url = link.url
        if "url" in sent:
            if not data.url:
                raise Unprocessable("url: must not be empty")
            url = self._destination(data.url, data)
        elif any(f in sent for f in UTM_FIELDS):
            url = self._destination(link.url, data)
        values = self._values(url, data)
        tags = self._resolve_tags(session, workspace, data) if sent & _TAG_FIELDS else None
        # Validated: apply.
        link.domain, link.key, link.key_lower, link.url = domain, key, key.lower(), url
        for name, value in values.items():
            setattr(link, name, value)
        if (link.domain, link.key_lower) != old or "external_id" in sent:
            self._ensure_unique(session, link)
        link.updated_at = utcnow()
        session.flush()
        if tags is not None:
            self._attach_tags(session, workspace, link, tags, replace=True)
        self._changed(session, *old)
        self._changed(session, link.domain, link.key_lower)
        if (hooks := notes(session)) is not None:
            hooks.link_changed(session, "link.updated", link)
        return link

    def update_many(self, session: Session, workspace: Workspace, body: BulkUpdate) -> list[Link]:
        """The same change to up to 100 links of the workspace: all of them, or none."""
        ids = [*(body.link_ids or []), *("ext_" + e for e in body.external_ids or [])]
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise Unprocessable("linkIds: provide linkIds or externalIds.")
        if len(ids) > MAX_BULK:
            raise Unprocessable(f"linkIds: at most {MAX_BULK} links can be updated at once.")
        if body.data.model_fields_set & {"key", "external_id"} and len(ids) > 1:
            raise Unprocessable("data: key and externalId cannot be set on several links at once.")
        links = [self.get(session, workspace, link_id) for link_id in ids]
        return [self.update(session, workspace, link, body.data) for link in links]

    def delete(self, session: Session, workspace: Workspace, link: Link) -> None:
        """Delete a link; its recorded clicks stay in analytics."""
        if (hooks := notes(session)) is not None:
            hooks.link_changed(session, "link.deleted", link)  # as it was, tags and all
        session.execute(delete(LinkTag).where(LinkTag.link_id == link.id))
        session.delete(link)
        session.flush()
        self._changed(session, link.domain, link.key_lower)

    def delete_many(self, session: Session, workspace: Workspace, ids: Sequence[str]) -> int:
        """Delete the workspace's links among ``ids``; other ids are skipped. How many went."""
        if len(ids) > MAX_BULK:
            raise Unprocessable(f"linkIds: at most {MAX_BULK} links can be deleted at once.")
        count = 0
        for link_id in dict.fromkeys(ids):
            link = self.find_one(session, workspace, link_id)
            if link is not None:
                self.delete(session, workspace, link)
                count += 1
        return count

    def upsert(
        self, session: Session, workspace: Workspace, data: LinkCreate, user_id: str | None
    ) -> Link:
        """Update the workspace's oldest link to the same destination, or create one."""
        url = self._destination(data.url, data)
        existing = session.scalar(
            select(Link)
            .where(Link.workspace_id == workspace.id, Link.url == url)
            .order_by(Link.created_at, Link.id)
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
            program_id=link.program_id,
            partner_id=link.partner_id,
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

    def forget(self, session: Session, domain: str, key_lower: str) -> None:
        """After ``session`` commits, drop the link from every process's redirect cache
        (something the redirect reads of it changed outside the link row)."""
        self._changed(session, domain, key_lower)

    def _changed(self, session: Session, domain: str, key_lower: str) -> None:
        after_commit(session, lambda: self._invalidate(domain, key_lower))

    def _domain(self, session: Session, workspace: Workspace, domain: str | None) -> str:
        if not domain:
            return self.ctx.default_domain
        domain = domain.strip().lower()
        if domain == self.ctx.default_domain:
            return domain
        if not DOMAIN_RE.match(domain):
            raise Unprocessable(f"domain: {domain[:100]!r} is not a domain name")
        owner = session.scalar(select(Domain.workspace_id).where(Domain.slug == domain))
        if owner != workspace.id:
            raise Forbidden(f"domain: {domain} does not belong to this workspace.")
        return domain

    @staticmethod
    def _valid_key(key: str, prefix: str | None = None) -> str:
        """``prefix/key`` checked: URL-safe path segments, not reserved, not too long."""
        key = key.strip().strip("/")
        if prefix and prefix.strip("/"):
            key = f"{prefix.strip().strip('/')}/{key}"
        if not key:
            raise Unprocessable("key: must not be empty")
        if not KEY_RE.match(key):
            raise Unprocessable(
                f"key: {key[:100]!r} may not contain spaces, control characters, '?', '#',"
                " '%', '<', '>', quotes, backslashes or empty path segments"
            )
        segments = key.split("/")
        if any(s in {".", ".."} for s in segments):
            raise Unprocessable("key: '.' and '..' cannot be path segments")
        if segments[0].lower() in RESERVED_KEYS:
            raise Unprocessable(f"key: {segments[0]!r} is reserved")
        if max(len(key), len(key.lower())) > KEY_MAX:
            raise Unprocessable(f"key: must be at most {KEY_MAX} characters, prefix included")
        return key

    def _free_key(self, session: Session, domain: str, length: int, prefix: str | None) -> str:
        for _ in range(10):
            key = self._valid_key(base62(length), prefix)
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
        # No autoflush: the pending change itself would hit the unique index first and
        # surface as an anonymous IntegrityError instead of this message.
        with session.no_autoflush:
            clash = session.scalar(
                select(Link.id).where(
                    Link.domain == link.domain,
                    Link.key_lower == link.key_lower,
                    Link.id != link.id,
                )
            )
            if clash:
                raise Conflict(f"key: {link.key} already exists on {link.domain}.")
            if link.external_id:
                clash = session.scalar(
                    select(Link.id).where(
                        Link.workspace_id == link.workspace_id,
                        Link.external_id == link.external_id,
                        Link.id != link.id,
                    )
                )
                if clash:
                    raise Conflict(
                        f"externalId: a link with externalId {link.external_id} already exists."
                    )

    @staticmethod
    def _values(url: str, data: LinkFields) -> dict[str, Any]:
        """Column values for the fields that were sent, validated; nothing is set yet."""
        sent = data.model_fields_set
        values: dict[str, Any] = {}
        for name in ("external_id", "tenant_id", "title", "description", "image", "comments"):
            if name in sent:
                values[name] = getattr(data, name) or None
        for name in ("ios", "android"):
            if name in sent:
                value = getattr(data, name)
                values[name] = normalize_url(value, name) if value else None
        for name in ("track_conversion", "archived"):
            if name in sent:
                values[name] = bool(getattr(data, name))
        if "expires_at" in sent:
            values["expires_at"] = data.expires_at
        if "expired_url" in sent:
            values["expired_url"] = (
                normalize_url(data.expired_url, "expiredUrl") if data.expired_url else None
            )
        if "password" in sent:
            values["password_hash"] = hash_password(data.password) if data.password else None
        if "geo" in sent:
            values["geo"] = (
                {c: normalize_url(u, f"geo.{c}") for c, u in data.geo.items()} if data.geo else None
            )
        values.update(utm_of(url))
        return values

    @staticmethod
    def _resolve_tags(session: Session, workspace: Workspace, data: LinkFields) -> _Tags:
        """The tags named by ``tagId``/``tagIds``/``tagNames``; 422 for unknown ids."""
        tags = _Tags()
        ids = list(data.tag_ids or [])
        if data.tag_id:
            ids.append(data.tag_id)
        if ids:
            found = session.scalars(
                select(Tag).where(Tag.workspace_id == workspace.id, Tag.id.in_(ids))
            ).all()
            missing = set(ids) - {t.id for t in found}
            if missing:
                raise Unprocessable(f"tagIds: unknown tag(s) {', '.join(sorted(missing))[:500]}")
            tags.found.extend(found)
        for name in dict.fromkeys(n.strip() for n in data.tag_names or []):
            if not name:
                continue
            tag = session.scalar(
                select(Tag).where(
                    Tag.workspace_id == workspace.id, func.lower(Tag.name) == name.lower()
                )
            )
            if tag is not None:
                tags.found.append(tag)
            elif name.lower() not in {n.lower() for n in tags.new_names}:
                tags.new_names.append(name)
        return tags

    @staticmethod
    def _attach_tags(
        session: Session, workspace: Workspace, link: Link, tags: _Tags, *, replace: bool = False
    ) -> None:
        found = list(tags.found)
        for name in tags.new_names:
            tag = Tag(id=new_id("tag"), workspace_id=workspace.id, name=name, color="blue")
            session.add(tag)
            found.append(tag)
        if replace:
            session.execute(delete(LinkTag).where(LinkTag.link_id == link.id))
        session.flush()
        for tag_id in dict.fromkeys(t.id for t in found):
            session.add(LinkTag(link_id=link.id, tag_id=tag_id))
        session.flush()

"""The links list of the dashboard: sorting, filters, per-link sparklines, and bulk actions.

The page costs a fixed number of queries whatever its size: one for the page of links, one
count, one for their tags, one for the workspace's tags and domains (the filter menus) and
one for every sparkline of the page (clicks grouped by link and day).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from codeqr.analytics.timeframe import DAY_MS
from codeqr.dashboard.service import PAGE_SIZE
from codeqr.events.models import click_events
from codeqr.kit.clock import now_ms
from codeqr.kit.errors import NotFound, Unprocessable
from codeqr.link import repository
from codeqr.link.models import Link, LinkTag, Tag
from codeqr.link.schemas import LinkFilters, LinkOut, LinkUpdate
from codeqr.link.service import MAX_BULK, LinkService
from codeqr.workspace.models import Workspace

TAG_CHOICES = 200
"""How many tags the filter and the bulk "add tag" menus offer (by name)."""
TAG_NAME_MAX = 64
SPARK_DAYS = (7, 30)


class Sort(StrEnum):
    """What the list is ordered by, largest or newest first."""

    created = "created"
    clicks = "clicks"
    last_clicked = "last_clicked"
    revenue = "revenue"


SORT_LABELS = {
    Sort.created: "Newest",
    Sort.clicks: "Most clicks",
    Sort.last_clicked: "Last clicked",
    Sort.revenue: "Most revenue",
}
_SORT_COLUMNS: dict[Sort, Any] = {
    Sort.created: Link.created_at,
    Sort.clicks: Link.clicks,
    Sort.last_clicked: Link.last_clicked,
    Sort.revenue: Link.sale_amount,
}


class Conversion(StrEnum):
    """The conversion-tracking filter."""

    any = ""
    on = "on"
    off = "off"


class BulkAction(StrEnum):
    """What one bulk form post does to every selected link."""

    archive = "archive"
    unarchive = "unarchive"
    delete = "delete"
    tag = "tag"


@dataclass(frozen=True)
class ListQuery:
    """The list's parameters, as read from the URL (already bounded by the route)."""

    search: str = ""
    sort: Sort = Sort.created
    tag: str = ""
    domain: str = ""
    conversion: Conversion = Conversion.any
    days: int = 30
    page: int = 1

    def params(self, **changes: Any) -> str:
        """The query string of this list with ``changes``, defaults left out."""
        values = {
            "q": self.search,
            "sort": self.sort.value,
            "tag": self.tag,
            "domain": self.domain,
            "conversion": self.conversion.value,
            "days": str(self.days),
            "page": str(self.page),
            **{k: str(v) for k, v in changes.items()},
        }
        defaults = {"sort": Sort.created.value, "days": "30", "page": "1"}
        kept = {k: v for k, v in values.items() if v and defaults.get(k) != v}
        return urlencode(kept)

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list."""
        return bool(self.search or self.tag or self.domain or self.conversion.value)


@dataclass(frozen=True)
class Row:
    """A link of the list with what the row draws beside it."""

    link: LinkOut
    host: str
    initial: str
    hue: int
    spark: str
    spark_total: int


@dataclass(frozen=True)
class LinkList:
    """One page of the list, its filters' choices and where it sits."""

    rows: Sequence[Row]
    query: ListQuery
    total: int
    tags: Sequence[tuple[str, str]]
    domains: Sequence[str]
    bulk_max: int = MAX_BULK
    sorts: dict[Sort, str] = field(default_factory=lambda: dict(SORT_LABELS))

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.query.page * PAGE_SIZE < self.total

    @property
    def has_previous(self) -> bool:
        """Whether a page comes before this one."""
        return self.query.page > 1


def host_of(url: str) -> str:
    """The destination's hostname without ``www.`` (empty when it has none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _badge(host: str) -> tuple[str, int]:
    """The letter and one of five colours of a host's badge: drawn here, never fetched."""
    letter = next((c for c in host if c.isalnum()), "?").upper()
    return letter, sum(host.encode()) % 5


def _statement(workspace: Workspace, query: ListQuery) -> Select[Any]:
    filters = LinkFilters(
        search=query.search or None,
        domain=query.domain or None,
        tagIds=query.tag or None,
        showArchived=True,
    )
    stmt = repository.filtered(select(Link), workspace.id, filters)
    if query.conversion is Conversion.on:
        stmt = stmt.where(Link.track_conversion.is_(True))
    elif query.conversion is Conversion.off:
        stmt = stmt.where(Link.track_conversion.is_(False))
    return stmt


def _order(sort: Sort) -> list[ColumnElement[Any]]:
    column = _SORT_COLUMNS[sort]
    if sort is Sort.last_clicked:
        # Never clicked last, on SQLite and PostgreSQL alike.
        return [column.is_(None), column.desc(), Link.id.desc()]
    return [column.desc(), Link.id.desc()]


def sparklines(
    session: Session, link_ids: Sequence[str], days: int, now: int
) -> dict[str, list[int]]:
    """Clicks per UTC day of the last ``days`` days (today last) of each link, in one query.
    ``link_ids`` must be links of the workspace being shown (its list page's)."""
    if not link_ids:
        return {}
    start = (now // DAY_MS - days + 1) * DAY_MS
    # Integer division: the timestamps are at or after ``start``, so it is the floor.
    day = ((click_events.c.timestamp - start) // DAY_MS).label("day")
    rows = session.execute(
        select(click_events.c.link_id, day, func.count().label("n"))
        # By link and time only, so the (link_id, timestamp) index covers the whole query: a
        # workspace condition would make SQLite walk every click of the workspace's month
        # instead. The ids are the page's links, already read from this workspace only.
        .where(click_events.c.link_id.in_(list(link_ids)), click_events.c.timestamp >= start)
        .group_by(click_events.c.link_id, day)
    ).all()
    out = {link_id: [0] * days for link_id in link_ids}
    for link_id, index, n in rows:
        slot = int(index)
        if 0 <= slot < days:
            out[link_id][slot] = int(n)
    return out


def spark_points(counts: Sequence[int], width: int = 80, height: int = 20) -> str:
    """An SVG polyline's points for ``counts``, scaled to the box (flat at the bottom if 0)."""
    if not counts:
        return ""
    top = max(counts) or 1
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (n / top) * (height - 2):.1f}" for i, n in enumerate(counts)
    )


def links_list(
    session: Session, links: LinkService, workspace: Workspace, query: ListQuery
) -> LinkList:
    """A page of the workspace's links as ``query`` asks, with sparklines and filter menus."""
    stmt = _statement(workspace, query)
    found = list(
        session.scalars(
            stmt.order_by(*_order(query.sort)).offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )
    total = int(session.scalar(stmt.with_only_columns(func.count(Link.id))) or 0)
    outs = links.out_many(session, found)
    spark = sparklines(session, [link.id for link in found], query.days, now_ms())
    rows = []
    for out in outs:
        host = host_of(out.url)
        letter, hue = _badge(host)
        counts = spark[out.id]
        rows.append(Row(out, host, letter, hue, spark_points(counts), sum(counts)))
    tags = session.execute(
        select(Tag.id, Tag.name)
        .where(Tag.workspace_id == workspace.id)
        .order_by(func.lower(Tag.name), Tag.id)
        .limit(TAG_CHOICES)
    ).all()
    return LinkList(
        rows=rows,
        query=query,
        total=total,
        tags=[(tag_id, name) for tag_id, name in tags],
        domains=domains_used(session, workspace),
    )


def domains_used(session: Session, workspace: Workspace) -> list[str]:
    """The domains the workspace's links are on, for the filter menu."""
    rows = session.scalars(
        select(Link.domain).where(Link.workspace_id == workspace.id).group_by(Link.domain)
    )
    return sorted(rows)


def bulk(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    action: BulkAction,
    ids: Sequence[str],
    tag_name: str = "",
) -> int:
    """Apply ``action`` to every link of ``ids``: all of them or, on any refusal, none (the
    caller's transaction rolls back). Every id must be a link of this workspace."""
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        raise Unprocessable("Select at least one link.")
    if len(wanted) > MAX_BULK:
        raise Unprocessable(f"At most {MAX_BULK} links can be changed at once.")
    if any("\x00" in i for i in wanted):  # no id holds one (nor can PostgreSQL text)
        raise NotFound("One of the selected links does not exist; nothing was changed.")
    name = tag_name.strip()
    if action is BulkAction.tag and not name:
        raise Unprocessable("Name the tag to add, e.g. “spring-sale”.")
    if action is BulkAction.tag and (len(name) > TAG_NAME_MAX or "\x00" in name):
        raise Unprocessable(f"A tag name has at most {TAG_NAME_MAX} characters.")
    found = list(
        session.scalars(select(Link).where(Link.workspace_id == workspace.id, Link.id.in_(wanted)))
    )
    if len(found) != len(wanted):
        raise NotFound("One of the selected links does not exist any more; nothing was changed.")
    if action is BulkAction.delete:
        for link in found:
            links.delete(session, workspace, link)
        return len(found)
    if action is BulkAction.tag:
        current: dict[str, list[str]] = {link.id: [] for link in found}
        for link_id, tag_id in session.execute(
            select(LinkTag.link_id, LinkTag.tag_id).where(LinkTag.link_id.in_(wanted))
        ):
            current[link_id].append(tag_id)
        for link in found:
            try:
                update = LinkUpdate.model_validate({"tagIds": current[link.id], "tagNames": [name]})
            except ValidationError as exc:  # a link already at the most tags a link can have
                raise Unprocessable("A selected link has too many tags for another.") from exc
            links.update(session, workspace, link, update)
        return len(found)
    archived = action is BulkAction.archive
    change = LinkUpdate.model_validate({"archived": archived})
    for link in found:
        if link.archived != archived:
            links.update(session, workspace, link, change)
    return len(found)

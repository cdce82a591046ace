"""The SQL of listing, counting and grouping a workspace's links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from codeqr.link.models import Link, LinkTag, Tag
from codeqr.link.schemas import CountGroupBy, LinkFilters, SortOrder


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered(
    stmt: Select[Any],
    workspace_id: str,
    filters: LinkFilters,
    *,
    skip: CountGroupBy | None = None,
) -> Select[Any]:
    """``stmt`` restricted to the workspace's links that match ``filters``.

    ``skip`` leaves out the filter on the field being grouped by, so a grouped count shows
    every group (what a filter sidebar needs), as Dub does.
    """
    stmt = stmt.where(Link.workspace_id == workspace_id)
    if filters.domain and skip is not CountGroupBy.domain:
        stmt = stmt.where(Link.domain == filters.domain.strip().lower())
    if filters.tenant_id:
        stmt = stmt.where(Link.tenant_id == filters.tenant_id)
    if filters.user_id and skip is not CountGroupBy.user_id:
        stmt = stmt.where(Link.user_id == filters.user_id)
    if not filters.show_archived:
        stmt = stmt.where(Link.archived.is_(False))
    if filters.search:
        term = f"%{_escape_like(filters.search.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Link.url).like(term, escape="\\"),
                Link.key_lower.like(term, escape="\\"),
            )
        )
    if skip is CountGroupBy.tag_id:
        return stmt
    tag_ids = filters.tag_id_list()
    if tag_ids:
        stmt = stmt.where(Link.id.in_(select(LinkTag.link_id).where(LinkTag.tag_id.in_(tag_ids))))
    names = [n.lower() for n in filters.tag_name_list()]
    if names:
        stmt = stmt.where(
            Link.id.in_(
                select(LinkTag.link_id)
                .join(Tag, Tag.id == LinkTag.tag_id)
                .where(Tag.workspace_id == workspace_id, func.lower(Tag.name).in_(names))
            )
        )
    return stmt


def _after(cursor: Link, order: SortOrder) -> ColumnElement[bool]:
    """Rows that come after ``cursor`` in (createdAt, id) order."""
    if order is SortOrder.desc:
        return or_(
            Link.created_at < cursor.created_at,
            and_(Link.created_at == cursor.created_at, Link.id < cursor.id),
        )
    return or_(
        Link.created_at > cursor.created_at,
        and_(Link.created_at == cursor.created_at, Link.id > cursor.id),
    )


def find_page(
    session: Session,
    workspace_id: str,
    filters: LinkFilters,
    *,
    offset: int,
    limit: int,
    order: SortOrder,
    starting_after: Link | None = None,
    ending_before: Link | None = None,
) -> Sequence[Link]:
    """One page of links in (createdAt, id) order, optionally after or before a cursor."""
    stmt = filtered(select(Link), workspace_id, filters)
    walk = order
    if starting_after is not None:
        stmt = stmt.where(_after(starting_after, order))
    elif ending_before is not None:
        # Walk backwards from the cursor, then put the page back in the asked order.
        walk = SortOrder.asc if order is SortOrder.desc else SortOrder.desc
        stmt = stmt.where(_after(ending_before, walk))
    if walk is SortOrder.desc:
        stmt = stmt.order_by(Link.created_at.desc(), Link.id.desc())
    else:
        stmt = stmt.order_by(Link.created_at.asc(), Link.id.asc())
    rows = list(session.scalars(stmt.offset(offset).limit(limit)))
    return rows[::-1] if walk is not order else rows


def count(session: Session, workspace_id: str, filters: LinkFilters) -> int:
    """How many links match."""
    stmt = filtered(select(func.count(Link.id)), workspace_id, filters)
    return int(session.scalar(stmt) or 0)


def count_by(
    session: Session, workspace_id: str, filters: LinkFilters, group_by: CountGroupBy
) -> list[dict[str, Any]]:
    """Counts per domain, tag, user or folder, largest first: ``[{field: value, "_count": n}]``."""
    n = func.count(Link.id).label("n")
    column: Any
    if group_by is CountGroupBy.tag_id:
        column = LinkTag.tag_id
        stmt = select(column, n).join(Link, Link.id == LinkTag.link_id)
    elif group_by is CountGroupBy.folder_id:
        column = literal(None).label("folder")  # links are not in folders yet
        stmt = select(column, n)
    else:
        column = Link.domain if group_by is CountGroupBy.domain else Link.user_id
        stmt = select(column, n)
    stmt = filtered(stmt, workspace_id, filters, skip=group_by)
    if group_by is not CountGroupBy.folder_id:
        stmt = stmt.group_by(column).order_by(n.desc(), column)
    return [
        {group_by.value: value, "_count": int(total)}
        for value, total in session.execute(stmt)
        if total
    ]

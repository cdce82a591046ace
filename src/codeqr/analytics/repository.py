"""SQL of analytics: the rows each event type counts, the filters, and grouped totals.

Every query is scoped to one workspace and one time range first, so it runs on the
``(workspace_id, timestamp, …)`` indexes of the events tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from codeqr.analytics.filters import Filter, Scope
from codeqr.customer.models import Customer
from codeqr.events.models import (
    WHERE_FROM,
    click_events,
    lead_events,
    refund_events,
    sale_events,
)
from codeqr.link.models import Link, LinkTag, Tag
from codeqr.money.bounds import clamp_total, money_sum

NULLABLE = {"link_id", "customer_id", "click_id"}
"""Columns some events leave empty (a sale without a link); negations keep those rows."""


class Kind(StrEnum):
    clicks = "clicks"
    leads = "leads"
    sales = "sales"


def sale_facts() -> FromClause:
    """The rows every sales figure is summed from: one per sale (``sale_count`` 1, ``amount``
    its amount in the reporting currency) and one per refund (``sale_count`` 0, ``amount``
    the refunded part, negative), so ``saleAmount`` is net revenue, refunds counted at the
    time they happened against the sale's link and where-from columns.

    A sale with no known rate has a NULL ``amount``: still counted in ``sales``, left out
    of ``saleAmount``. Analytics, the funnel and the dashboard all read sales through here.
    """
    c, r = sale_events.c, refund_events.c
    sales = select(
        c.id,
        c.timestamp,
        c.workspace_id,
        c.link_id,
        c.click_id,
        c.customer_id,
        c.event_name,
        *(c[name] for name in WHERE_FROM),
        literal(1, BigInteger).label("sale_count"),
        c.reporting_amount.label("amount"),
        c.test,
    )
    refunds = select(
        r.id,
        r.timestamp,
        r.workspace_id,
        r.link_id,
        r.click_id,
        r.customer_id,
        literal(REFUND_EVENT, String).label("event_name"),
        *(r[name] for name in WHERE_FROM),
        literal(0, BigInteger).label("sale_count"),
        (-r.reporting_amount).label("amount"),
        r.test,
    )
    return union_all(sales, refunds).subquery("sale_facts")


REFUND_EVENT = "Refund"
"""The event name refund rows carry in ``sale_facts`` (an ``eventName`` filter sees it)."""


def sale_totals(facts: FromClause) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """``sales`` and ``saleAmount`` over ``sale_facts()`` (see there for what they count);
    the amount summed so that no number of rows can make the query fail (``money_sum``)."""
    return (
        func.coalesce(func.sum(facts.c.sale_count), 0).label("sales"),
        func.coalesce(money_sum(facts.c.amount), 0).label("saleAmount"),
    )


@dataclass(frozen=True)
class Source:
    """The rows one event type contributes and the totals it adds to a result row."""

    kind: Kind
    rows: FromClause
    measures: tuple[ColumnElement[Any], ...]


def source(kind: Kind) -> Source:
    """Clicks count one each; leads their quantity (as the link counters do); sales
    through ``sale_facts``."""
    if kind is Kind.clicks:
        return Source(kind, click_events, (func.count().label("clicks"),))
    if kind is Kind.leads:
        qty = func.coalesce(func.sum(lead_events.c.event_quantity), 0).label("leads")
        return Source(kind, lead_events, (qty,))
    facts = sale_facts()
    return Source(kind, facts, sale_totals(facts))


def _in(column: ColumnElement[Any], values: Any, negate: bool, nullable: bool) -> Any:
    if not negate:
        return column.in_(values)
    return or_(column.is_(None), column.not_in(values)) if nullable else column.not_in(values)


def where(
    src: Source,
    workspace_id: str,
    start_ms: int | None,
    end_ms: int | None,
    filters: Sequence[Filter],
    *,
    with_test: bool = False,
) -> list[Any]:
    """The conditions of a query: workspace, ``[start_ms, end_ms)`` (``None``: open),
    then each filter. Rows recorded from Stripe test mode are left out unless ``with_test``
    (a sandbox workspace, whose test data are its figures)."""
    c = src.rows.c
    found: list[Any] = [c.workspace_id == workspace_id]
    if not with_test and "test" in c:
        found.append(c.test.is_(False))
    if start_ms is not None:
        found.append(c.timestamp >= start_ms)
    if end_ms is not None:
        found.append(c.timestamp < end_ms)
    for f in filters:
        scope, values = f.field.scope, list(f.values)
        if scope is Scope.event:
            name = f.field.column
            found.append(_in(c[name], values, f.negate, name in NULLABLE))
        elif scope is Scope.link:
            ids = select(Link.id).where(
                Link.workspace_id == workspace_id, getattr(Link, f.field.column).in_(values)
            )
            found.append(_in(c.link_id, ids, f.negate, True))
        elif scope is Scope.tag:
            tagged = (
                select(LinkTag.link_id)
                .join(Tag, Tag.id == LinkTag.tag_id)
                .where(Tag.workspace_id == workspace_id, LinkTag.tag_id.in_(values))
            )
            found.append(_in(c.link_id, tagged, f.negate, True))
        elif scope is Scope.customer:
            if src.kind is Kind.clicks:
                # A click "of" a customer is the click that brought them.
                brought = select(Customer.click_id).where(
                    Customer.workspace_id == workspace_id,
                    Customer.id.in_(values),
                    Customer.click_id.is_not(None),
                )
                found.append(_in(c.id, brought, f.negate, False))
            else:
                found.append(_in(c.customer_id, values, f.negate, True))
        elif src.kind is not Kind.clicks:  # Scope.conversion: clicks have no event name
            found.append(_in(c.event_name, values, f.negate, False))
    return found


def total(session: Session, src: Source, conditions: Sequence[Any]) -> dict[str, int]:
    """The measures of ``src`` over every matching row."""
    row = session.execute(select(*src.measures).select_from(src.rows).where(*conditions)).one()
    return {name: clamp_total(value) for name, value in row._mapping.items()}


def grouped(
    session: Session,
    src: Source,
    conditions: Sequence[Any],
    keys: Sequence[str],
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """The measures of ``src`` per distinct value of event columns ``keys`` (empty values,
    which mean unknown, left out)."""
    cols = [src.rows.c[k] for k in keys]
    known = [and_(col.is_not(None), col != "") for col in cols]
    query = select(*cols, *src.measures).where(*conditions, *known).group_by(*cols)
    return _split(session.execute(query).all(), len(keys))


def grouped_by_link(
    session: Session, src: Source, conditions: Sequence[Any], column: str
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """The measures of ``src`` per value of a column of the event's link (a UTM tag)."""
    col = getattr(Link, column)
    query: Select[Any] = (
        select(col, *src.measures)
        .select_from(src.rows.join(Link, Link.id == src.rows.c.link_id))
        .where(*conditions, col.is_not(None), col != "")
        .group_by(col)
    )
    return _split(session.execute(query).all(), 1)


_PARTS_PER_STATEMENT = 200
"""SQLite takes at most 500 SELECTs in one compound statement."""


def per_range(
    session: Session, src: Source, conditions: Sequence[Any], bounds: Sequence[int]
) -> list[dict[str, int]]:
    """The measures of ``src`` in each range ``[bounds[i], bounds[i + 1])``; ``conditions``
    must not bound the time (SQLite would scan from the looser of two lower bounds).

    One index range scan per bucket, glued with UNION ALL: no expression per row and no
    sort, which is what a GROUP BY on a computed bucket costs over a year of clicks.
    """
    ranges = [(n, bounds[n], bounds[n + 1]) for n in range(len(bounds) - 1)]
    found = in_ranges(session, src, conditions, ranges)
    return [found.get(n, {}) for n, _, _ in ranges]


def in_ranges(
    session: Session,
    src: Source,
    conditions: Sequence[Any],
    ranges: Sequence[tuple[int, int, int]],
) -> dict[int, dict[str, int]]:
    """The measures of ``src`` per bucket over ``(bucket, from, to)`` ranges, a bucket's
    ranges summed (see ``per_range``)."""
    ts = src.rows.c.timestamp
    found: dict[int, dict[str, int]] = {}
    for first in range(0, len(ranges), _PARTS_PER_STATEMENT):
        parts = [
            select(literal(n, BigInteger).label("bucket"), *src.measures).where(
                *conditions, ts >= lo, ts < hi
            )
            for n, lo, hi in ranges[first : first + _PARTS_PER_STATEMENT]
        ]
        query = parts[0] if len(parts) == 1 else union_all(*parts)
        for key, values in _split(session.execute(query).all(), 1):
            into = found.setdefault(int(key[0]), {})
            for name, value in values.items():
                into[name] = clamp_total(into.get(name, 0) + value)
    return found


def _split(rows: Sequence[Any], width: int) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    out: list[tuple[tuple[Any, ...], dict[str, int]]] = []
    for row in rows:
        mapping = row._mapping
        names = list(mapping.keys())[width:]
        out.append((tuple(row[:width]), {n: clamp_total(mapping[n]) for n in names}))
    return out


def event_span(session: Session, workspace_id: str) -> tuple[int, int] | None:
    """When the workspace's earliest and latest click, lead, sale or refund happened;
    ``None`` when it has none."""
    found = [
        session.scalar(select(agg(t.c.timestamp)).where(t.c.workspace_id == workspace_id))
        # One aggregate a statement: alone, min and max each read one end of the index.
        for t in (click_events, lead_events, sale_events, refund_events)
        for agg in (func.min, func.max)
    ]
    known = [int(v) for v in found if v is not None]
    return (min(known), max(known)) if known else None


def links_by_id(session: Session, workspace_id: str, ids: Sequence[str]) -> dict[str, Link]:
    """The workspace's links among ``ids``."""
    if not ids:
        return {}
    rows = session.scalars(select(Link).where(Link.workspace_id == workspace_id, Link.id.in_(ids)))
    return {link.id: link for link in rows}


def unknown_ids(session: Session, workspace_id: str, scope: str, ids: Sequence[str]) -> list[str]:
    """The ``ids`` that name no link, tag or customer of the workspace (``scope`` says
    which). A deleted link or customer still counts while events of this workspace name it."""
    wanted = set(ids)
    if scope == "tag":
        query: Select[Any] = select(Tag.id).where(Tag.workspace_id == workspace_id)
        known = set(session.scalars(query.where(Tag.id.in_(wanted))))
        return sorted(wanted - known)
    model: Any = Link if scope == "link" else Customer
    known = set(
        session.scalars(
            select(model.id).where(model.workspace_id == workspace_id, model.id.in_(wanted))
        )
    )
    table, column = (click_events, "link_id") if scope == "link" else (lead_events, "customer_id")
    for missing in wanted - known:
        hit = session.scalar(
            select(table.c.id)
            .where(table.c.workspace_id == workspace_id, table.c[column] == missing)
            .limit(1)
        )
        if hit is not None:
            known.add(missing)
    return sorted(wanted - known)


_TABLES = {Kind.clicks: click_events, Kind.leads: lead_events, Kind.sales: sale_events}


def raw_source(kind: Kind) -> Source:
    """The stored rows of one event type, as they were written (for the events list)."""
    return Source(kind, _TABLES[kind], ())


def page_of_events(
    session: Session,
    src: Source,
    conditions: Sequence[Any],
    *,
    newest_first: bool,
    offset: int,
    limit: int,
) -> list[dict[str, Any]]:
    """One page of stored events, by time then id."""
    c = src.rows.c
    order = (c.timestamp.desc(), c.id.desc()) if newest_first else (c.timestamp, c.id)
    query = select(src.rows).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return [dict(row._mapping) for row in session.execute(query)]


def clicks_by_id(session: Session, workspace_id: str, ids: Sequence[str]) -> dict[str, Any]:
    """The workspace's stored clicks among ``ids``, as mappings."""
    if not ids:
        return {}
    c = click_events.c
    rows = session.execute(
        select(click_events).where(c.workspace_id == workspace_id, c.id.in_(set(ids)))
    )
    return {row.id: row._mapping for row in rows}


def sales_by_id(session: Session, workspace_id: str, ids: Sequence[str]) -> dict[str, Any]:
    """The workspace's stored sales among ``ids``, as mappings (refunds name their sale)."""
    if not ids:
        return {}
    c = sale_events.c
    rows = session.execute(
        select(sale_events).where(c.workspace_id == workspace_id, c.id.in_(set(ids)))
    )
    return {row.id: row._mapping for row in rows}


def customers_by_id(session: Session, workspace_id: str, ids: Sequence[str]) -> list[Customer]:
    """The workspace's customers among ``ids``."""
    if not ids:
        return []
    query = select(Customer).where(Customer.workspace_id == workspace_id, Customer.id.in_(ids))
    return list(session.scalars(query))

"""Analytics rules (SPEC §6): what a request may see, and totals shaped as Dub answers them.

``event`` picks which events are counted (``composite``: all three); every row carries
``clicks``, ``leads``, ``sales`` and ``saleAmount``, those of uncounted events being 0.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.analytics import repository as repo
from codeqr.analytics.filters import Filter, parse
from codeqr.analytics.readers import SQL, EventsReader, add
from codeqr.analytics.repository import Kind
from codeqr.analytics.schemas import (
    AnalyticsFilters,
    AnalyticsQuery,
    EventType,
    Funnel,
    FunnelStep,
    GroupBy,
)
from codeqr.analytics.timeframe import (
    MAX_BUCKETS,
    Granularity,
    Timeframe,
    bucket_count,
    buckets,
    days_back,
    days_spanned,
    label,
    resolve,
    to_ms,
    zone,
)
from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import Forbidden, NotFound, Unprocessable
from codeqr.link.service import LinkContext
from codeqr.stripe import service as stripe_connection
from codeqr.workspace.models import Plan, Workspace
from codeqr.workspace.service import get_plan

MEASURES = ("clicks", "leads", "sales", "saleAmount")
MAX_ROWS = 1_000
"""Breakdowns answer at most this many rows, the largest first."""

KINDS: dict[EventType, tuple[Kind, ...]] = {
    EventType.clicks: (Kind.clicks,),
    EventType.leads: (Kind.leads,),
    EventType.sales: (Kind.sales,),
    EventType.composite: (Kind.clicks, Kind.leads, Kind.sales),
}
_RANKING: dict[EventType, tuple[str, ...]] = {
    EventType.clicks: ("clicks",),
    EventType.leads: ("leads",),
    EventType.sales: ("saleAmount", "sales"),
    EventType.composite: ("clicks", "leads", "saleAmount", "sales"),
}

Shape = Callable[[tuple[Any, ...]], dict[str, Any]]
_BREAKDOWNS: dict[GroupBy, tuple[tuple[str, ...], Shape]] = {
    GroupBy.continents: (("continent",), lambda k: {"continent": k[0]}),
    GroupBy.countries: (("country",), lambda k: {"country": k[0], "region": "*", "city": "*"}),
    GroupBy.regions: (
        ("country", "region"),
        lambda k: {"country": k[0], "region": k[1], "city": "*"},
    ),
    GroupBy.cities: (
        ("country", "region", "city"),
        lambda k: {"country": k[0], "region": k[1], "city": k[2]},
    ),
    GroupBy.devices: (("device",), lambda k: {"device": k[0]}),
    GroupBy.browsers: (("browser",), lambda k: {"browser": k[0]}),
    GroupBy.os: (("os",), lambda k: {"os": k[0]}),
    GroupBy.triggers: (("trigger",), lambda k: {"trigger": k[0]}),
    GroupBy.referers: (("referer",), lambda k: {"referer": k[0]}),
    GroupBy.referer_urls: (("referer_url",), lambda k: {"refererUrl": k[0]}),
    GroupBy.top_urls: (("url",), lambda k: {"url": k[0]}),
}
_UTM: dict[GroupBy, str] = {
    GroupBy.utm_sources: "utm_source",
    GroupBy.utm_mediums: "utm_medium",
    GroupBy.utm_campaigns: "utm_campaign",
    GroupBy.utm_terms: "utm_term",
    GroupBy.utm_contents: "utm_content",
}
_CHECKED_IDS = {"linkId": "link", "tagId": "tag", "customerId": "customer"}


@dataclass(frozen=True)
class Scoped:
    """A request made safe to run: its workspace, range and filters."""

    workspace_id: str
    timeframe: Timeframe
    filters: list[Filter]
    with_test: bool = False
    """Whether Stripe test-mode rows count (a sandbox workspace: test mode only)."""

    def conditions(self, src: repo.Source, *, timed: bool = True) -> list[Any]:
        """The WHERE of ``src`` for this request (without the range unless ``timed``)."""
        tf = self.timeframe
        start, end = (tf.start_ms, tf.end_ms) if timed else (None, None)
        return repo.where(
            src, self.workspace_id, start, end, self.filters, with_test=self.with_test
        )


def zeros() -> dict[str, int]:
    """A row's measures before anything is counted."""
    return dict.fromkeys(MEASURES, 0)


def scope(
    session: Session, workspace: Workspace, query: AnalyticsFilters, now: datetime | None = None
) -> Scoped:
    """Check the request against the workspace (range allowed by its plan, filters naming
    its own links, tags and customers) and resolve its range in its timezone."""
    now = now or utcnow()
    try:
        timeframe = resolve(query.interval, query.start, query.end, zone(query.timezone), now)
    except ValueError as exc:
        raise Unprocessable(f"Invalid request: query parameter {exc}") from exc
    check_range(session, workspace, timeframe, now)
    filters = parse(query)
    for f in filters:
        kind = _CHECKED_IDS.get(f.field.param)
        if kind is None:
            continue
        missing = repo.unknown_ids(session, workspace.id, kind, f.values)
        if missing:
            # Another workspace's object is as unknown here as one that never existed.
            raise NotFound(f"{f.field.param}: {kind} not found: {', '.join(missing)}")
    with_test = stripe_connection.counts_test_data(stripe_connection.get(session, workspace.id))
    return Scoped(workspace.id, timeframe, filters, with_test)


def check_range(session: Session, workspace: Workspace, tf: Timeframe, now: datetime) -> None:
    """403 naming the plan needed when the range starts further back than the plan's
    analytics range, or is longer than it (counted in local days: a 30-day plan reaches
    back to the local midnight 30 days before today, and a range of it to 30 days after)."""
    plan = get_plan(session, workspace.plan)
    back = length = None
    if tf.start_ms is not None:
        back = days_back(tf.start_ms, now, tf.zone)
        length = days_spanned(tf.start_ms, tf.end_ms, tf.zone)

    def reaches(days: int | None) -> bool:
        return days is None or (
            back is not None and back <= days and length is not None and length <= days
        )

    if reaches(plan.analytics_days):
        return
    plans = list(session.scalars(select(Plan).order_by(Plan.rank)))
    needed = next((p for p in plans if p.rank > plan.rank and reaches(p.analytics_days)), None)
    if back is None or length is None:
        what = "All-time analytics"
    elif plan.analytics_days is not None and back > plan.analytics_days:
        what = f"Analytics {back} days back"
    else:
        what = f"A range of {length} days"
    need = needed.name.capitalize() if needed else "higher"
    raise Forbidden(
        f"{what} requires a {need} plan subscription or higher; this workspace is on the "
        f"{plan.name} plan, whose analytics reach {plan.analytics_days} days back."
    )


def retrieve(
    session: Session,
    ctx: LinkContext,
    workspace: Workspace,
    query: AnalyticsQuery,
    reader: EventsReader = SQL,
) -> dict[str, int] | list[dict[str, Any]]:
    """``GET /api/analytics``: a count object, or a list of rows for every other groupBy."""
    scoped = scope(session, workspace, query)
    kinds = KINDS[query.event]
    if query.group_by is GroupBy.total:
        return totals(session, scoped, kinds, reader)
    if query.group_by is GroupBy.timeseries:
        return _timeseries(session, scoped, kinds, reader)
    merged: dict[tuple[Any, ...], dict[str, int]] = {}
    if query.group_by in _UTM or query.group_by is GroupBy.top_links:
        columns: tuple[str, ...] = ("link_id",)
    else:
        columns = _BREAKDOWNS[query.group_by][0]
    for kind in kinds:
        if query.group_by in _UTM:
            found = reader.grouped_by_link(session, scoped, kind, _UTM[query.group_by])
        else:
            found = reader.grouped(session, scoped, kind, columns)
        for key, values in found:
            add(merged.setdefault(key, zeros()), values)
    ranked = rank(merged, _RANKING[query.event])
    if query.group_by is GroupBy.top_links:
        return _top_links(session, ctx, workspace.id, ranked)
    if query.group_by in _UTM:
        name = _UTM[query.group_by]
        return [{name: key[0], **values} for key, values in ranked[:MAX_ROWS]]
    shape = _BREAKDOWNS[query.group_by][1]
    return [{**shape(key), **values} for key, values in ranked[:MAX_ROWS]]


def totals(
    session: Session, scoped: Scoped, kinds: Sequence[Kind], reader: EventsReader = SQL
) -> dict[str, int]:
    """Every measure over the whole range (0 for kinds not counted)."""
    out = zeros()
    for kind in kinds:
        add(out, reader.total(session, scoped, kind))
    return out


def rank(
    merged: dict[tuple[Any, ...], dict[str, int]], by: Sequence[str]
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """Rows largest first by the measures ``by``, then by key (a stable order)."""
    keyed = sorted(merged.items(), key=lambda item: tuple(str(k) for k in item[0]))
    return sorted(keyed, key=lambda item: tuple(-item[1][m] for m in by))


def timeseries(
    session: Session, workspace: Workspace, query: AnalyticsQuery, reader: EventsReader = SQL
) -> tuple[Granularity, list[dict[str, Any]]]:
    """``groupBy=timeseries`` and the step of its buckets (which the rows alone cannot
    tell: one monthly bucket looks like a day), for pages that label the buckets."""
    return _series(session, scope(session, workspace, query), KINDS[query.event], reader)


def _timeseries(
    session: Session, scoped: Scoped, kinds: Sequence[Kind], reader: EventsReader
) -> list[dict[str, Any]]:
    return _series(session, scoped, kinds, reader)[1]


def _series(
    session: Session, scoped: Scoped, kinds: Sequence[Kind], reader: EventsReader
) -> tuple[Granularity, list[dict[str, Any]]]:
    tf = scoped.timeframe
    span = reader.event_span(session, scoped.workspace_id)
    start = tf.start_ms
    if start is None:  # ``all``: from the workspace's first event
        start = min(span[0], tf.end_ms - 1) if span is not None else tf.end_ms - 1
    granularity = tf.granularity(start)
    count = bucket_count(start, tf.end_ms, tf.zone, granularity)
    if count > MAX_BUCKETS:
        param = "interval" if tf.interval is not None else "start/end"
        raise Unprocessable(
            f"Invalid request: query parameter {param}: this range makes a time series of "
            f"{count} {granularity}s, more than the {MAX_BUCKETS} one answer may hold; "
            "ask for a shorter range."
        )
    starts = buckets(start, tf.end_ms, tf.zone, granularity)
    # The range clips the first and last buckets.
    bounds = [max(to_ms(s), start) for s in starts] + [tf.end_ms]
    rows = [{"start": label(s), **zeros()} for s in starts]
    if span is None:
        return granularity, rows
    # Buckets before the workspace's first event or after its last hold nothing, whatever
    # the filters: only those between are read (a long range costs what its events do).
    first = max(bisect_right(bounds, span[0]) - 1, 0)
    last = min(bisect_right(bounds, span[1]) - 1, len(rows) - 1)
    if first > last:
        return granularity, rows
    read = bounds[first : last + 2]
    for kind in kinds:
        for n, values in reader.per_bucket(session, scoped, kind, read, granularity).items():
            add(rows[first + n], values)
    return granularity, rows


def _top_links(
    session: Session,
    ctx: LinkContext,
    workspace_id: str,
    ranked: list[tuple[tuple[Any, ...], dict[str, int]]],
) -> list[dict[str, Any]]:
    # Deleted links are left out: there is nothing left to show for them.
    ids = [key[0] for key, _ in ranked]
    links = repo.links_by_id(session, workspace_id, ids)
    rows: list[dict[str, Any]] = []
    for key, values in ranked:
        link = links.get(key[0])
        if link is None:
            continue
        rows.append(
            {
                "link": link.id,
                "id": link.id,
                "domain": link.domain,
                "key": link.key,
                "shortLink": ctx.short_link(link.domain, link.key),
                "url": link.url,
                "title": link.title,
                "comments": link.comments,
                "folderId": None,
                "partnerId": None,
                "createdAt": iso(link.created_at),
                **values,
            }
        )
        if len(rows) == MAX_ROWS:
            break
    return rows


def funnel(
    session: Session,
    workspace: Workspace,
    query: AnalyticsFilters,
    reader: EventsReader = SQL,
) -> Funnel:
    """``GET /api/analytics/funnel``: clicks → leads → sales over the request's range."""
    scoped = scope(session, workspace, query)
    t = totals(session, scoped, KINDS[EventType.composite], reader)
    clicks, leads, sales = t["clicks"], t["leads"], t["sales"]
    steps = [FunnelStep(step="clicks", count=clicks, **_rates(clicks, clicks, None))]
    steps.append(FunnelStep(step="leads", count=leads, **_rates(leads, clicks, clicks)))
    steps.append(
        FunnelStep(
            step="sales",
            count=sales,
            sale_amount=t["saleAmount"],
            **_rates(sales, clicks, leads),
        )
    )
    return Funnel(
        clicks=clicks,
        leads=leads,
        sales=sales,
        sale_amount=t["saleAmount"],
        currency=workspace.currency,
        steps=steps,
    )


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _rates(count: int, clicks: int, previous: int | None) -> dict[str, Any]:
    if previous is None:
        rate = drop = drop_rate = None
    else:
        rate = _ratio(count, previous)
        drop = previous - count
        drop_rate = None if rate is None else round(1 - rate, 6)
    return {
        "share_of_clicks": _ratio(count, clicks),
        "conversion_rate": rate,
        "drop_off": drop,
        "drop_off_rate": drop_rate,
    }

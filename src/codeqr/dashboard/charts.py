"""The analytics page's data in one answer: time series, funnel and breakdowns, all read
through ``analytics.service`` with the page's range, timezone and filters."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from codeqr.analytics import service as analytics
from codeqr.analytics.readers import SQL, EventsReader
from codeqr.analytics.schemas import AnalyticsFilters, AnalyticsQuery, EventType, GroupBy
from codeqr.kit.clock import from_ms, iso
from codeqr.kit.errors import Forbidden
from codeqr.link.service import LinkContext
from codeqr.money.currency import minor_units
from codeqr.workspace.models import Workspace

TOP_ROWS = 10
"""Rows per breakdown on the page."""
UNKNOWN = "Unknown"
"""The row of events whose value was not known (a click from an address no geolocation
database places): the API leaves them out, the page shows them so its rows add up."""
WITH_UNKNOWN = {
    "countries": UNKNOWN,
    "cities": UNKNOWN,
    "os": UNKNOWN,
    "utm_sources": "No UTM source",
    "utm_mediums": "No UTM medium",
    "utm_campaigns": "No UTM campaign",
}
"""Breakdowns whose value may be missing, and what their row of the rest is called (devices,
browsers, referers and triggers always have one)."""
TRIGGERS = {"qr": "QR code scan", "link": "Link click"}

# Each breakdown: the groupBy asked for, the row field shown, and the analytics filter a
# click on that row adds (any SPEC §6 filter applies the same way).
BREAKDOWNS: dict[str, tuple[GroupBy, str, str]] = {
    "countries": (GroupBy.countries, "country", "country"),
    "cities": (GroupBy.cities, "city", "city"),
    "devices": (GroupBy.devices, "device", "device"),
    "browsers": (GroupBy.browsers, "browser", "browser"),
    "os": (GroupBy.os, "os", "os"),
    "referers": (GroupBy.referers, "referer", "referer"),
    "triggers": (GroupBy.triggers, "trigger", "trigger"),
    "top_links": (GroupBy.top_links, "id", "linkId"),
    "utm_sources": (GroupBy.utm_sources, "utm_source", "utm_source"),
    "utm_mediums": (GroupBy.utm_mediums, "utm_medium", "utm_medium"),
    "utm_campaigns": (GroupBy.utm_campaigns, "utm_campaign", "utm_campaign"),
}


def _label(name: str, row: dict[str, Any], value: Any) -> Any:
    if name == "top_links":
        return row["shortLink"].split("://", 1)[-1]
    if name == "cities" and value:
        return f"{value}, {row['country']}" if row.get("country") else value
    if name == "triggers":
        return TRIGGERS.get(value, value)
    return value


def _query(filters: AnalyticsFilters, group_by: GroupBy) -> AnalyticsQuery:
    values = filters.model_dump(exclude_none=True)
    return AnalyticsQuery.model_validate(
        {**values, "event": EventType.composite, "group_by": group_by}
    )


def _rows(name: str, found: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    field = BREAKDOWNS[name][1]
    out = []
    for row in found[:limit]:
        value = row.get(field)
        label = _label(name, row, value)
        out.append(
            {
                "value": value,
                "label": label or "(unknown)",
                # a top link's key, kept whole when a narrow page shortens its domain
                **({"key": row["key"]} if name == "top_links" else {}),
                "clicks": row["clicks"],
                "leads": row["leads"],
                "sales": row["sales"],
                "saleAmount": row["saleAmount"],
            }
        )
    return out


def breakdown(
    session: Session,
    ctx: LinkContext,
    workspace: Workspace,
    filters: AnalyticsFilters,
    name: str,
    reader: EventsReader = SQL,
    limit: int = TOP_ROWS,
) -> dict[str, Any]:
    """One breakdown's top ``limit`` rows, whether there are more (the page's "View all"),
    and the filter a click on a row adds."""
    group_by, _, param = BREAKDOWNS[name]
    query = _query(filters, group_by)
    found = analytics.retrieve(session, ctx, workspace, query, reader)
    assert isinstance(found, list)
    rows = _rows(name, found, limit + 1)
    if name in WITH_UNKNOWN and len(found) < analytics.MAX_ROWS:
        scoped = analytics.scope(session, workspace, query)
        total = analytics.totals(session, scoped, analytics.KINDS[query.event], reader)
        rest = {m: total[m] - sum(row[m] for row in found) for m in analytics.MEASURES}
        if any(rest.values()):
            rows.append({"value": None, "label": WITH_UNKNOWN[name], **rest})
            rows.sort(key=lambda row: -row["clicks"])  # stable: ties keep the API's order
    return {"filter": param, "rows": rows[:limit], "more": len(rows) > limit}


def summary(
    session: Session,
    ctx: LinkContext,
    workspace: Workspace,
    filters: AnalyticsFilters,
    reader: EventsReader = SQL,
) -> dict[str, Any]:
    """Totals, the time series and the funnel."""
    query = _query(filters, GroupBy.timeseries)
    granularity, series = analytics.timeseries(session, workspace, query, reader)
    funnel = analytics.funnel(session, workspace, filters, reader)
    before = previous(session, workspace, filters, reader)
    return {
        "currency": workspace.currency,
        "minorUnits": minor_units(workspace.currency),
        "timezone": filters.timezone,
        "granularity": granularity.value,
        "totals": {
            "clicks": funnel.clicks,
            "leads": funnel.leads,
            "sales": funnel.sales,
            "saleAmount": funnel.sale_amount,
        },
        "previous": before,
        "timeseries": series,
        "funnel": funnel.model_dump(mode="json", by_alias=True),
    }


def previous(
    session: Session, workspace: Workspace, filters: AnalyticsFilters, reader: EventsReader = SQL
) -> dict[str, Any] | None:
    """The totals of the range just before the page's, as long as it (what the number cards
    compare with); ``None`` for all time, or when the plan does not reach back that far."""
    tf = analytics.scope(session, workspace, filters).timeframe
    if tf.start_ms is None:
        return None
    length = tf.end_ms - tf.start_ms
    window = {
        "interval": None,
        "start": iso(from_ms(tf.start_ms - length)),
        "end": iso(from_ms(tf.start_ms)),
    }
    try:
        scoped = analytics.scope(session, workspace, filters.model_copy(update=window))
    except Forbidden:
        return None
    kinds = analytics.KINDS[EventType.composite]
    return {**window, "totals": analytics.totals(session, scoped, kinds, reader)}


def overview(
    session: Session,
    ctx: LinkContext,
    workspace: Workspace,
    filters: AnalyticsFilters,
    part: str | None = None,
    reader: EventsReader = SQL,
    rows: int = TOP_ROWS,
) -> dict[str, Any]:
    """What the analytics page draws: everything, or one ``part`` of it (``summary`` or a
    breakdown's name) so the page can ask for the parts side by side. 403 (naming the plan)
    for a range the plan does not reach, 404 for a filter naming another workspace's link."""
    analytics.scope(session, workspace, filters)  # refuse before running any query
    if part in BREAKDOWNS:
        found = breakdown(session, ctx, workspace, filters, part, reader, rows)
        return {"breakdowns": {part: found}}
    out = summary(session, ctx, workspace, filters, reader)
    if part is None:
        out["breakdowns"] = {
            name: breakdown(session, ctx, workspace, filters, name, reader) for name in BREAKDOWNS
        }
    return out

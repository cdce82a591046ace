"""The analytics page and the JSON its charts are drawn from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from codeqr.analytics import service as analytics
from codeqr.analytics.schemas import AnalyticsFilters
from codeqr.analytics.service import MAX_ROWS
from codeqr.analytics.timeframe import Interval
from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.dashboard import charts, csv_export
from codeqr.dashboard import service as views
from codeqr.dashboard.deps import DataDep, Page, ViewDep
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError, Unprocessable

router = APIRouter(prefix="/dashboard/{slug}/analytics", include_in_schema=False)
PARTS = "^(summary|" + "|".join(charts.BREAKDOWNS) + ")$"

INTERVALS = [
    (Interval.last_24h, "Last 24 hours"),
    (Interval.last_7d, "Last 7 days"),
    (Interval.last_30d, "Last 30 days"),
    (Interval.last_90d, "Last 90 days"),
    (Interval.last_1y, "Last 12 months"),
    (Interval.mtd, "Month to date"),
    (Interval.qtd, "Quarter to date"),
    (Interval.ytd, "Year to date"),
    (Interval.all, "All time"),
]
BREAKDOWN_TITLES = [
    ("top_links", "Top links", [("top_links", "Top links")]),
    ("locations", "Locations", [("countries", "Countries"), ("cities", "Cities")]),
    ("referers", "Referers", [("referers", "Referers")]),
    ("devices", "Devices", [("devices", "Devices"), ("browsers", "Browsers"), ("os", "OS"),
                            ("triggers", "QR or link")]),
    ("utm", "UTM", [("utm_sources", "Source"), ("utm_mediums", "Medium"),
                    ("utm_campaigns", "Campaign")]),
]  # fmt: skip
"""The page's breakdown cards in order, each with its breakdowns (every one of
``charts.BREAKDOWNS``): a card of several shows one at a time, loading the others when
first chosen (the page's first draw reads five, as before cities, OS and UTM were added)."""
# Filters shown as removable chips (every SPEC §6 filter the analytics service knows).
FILTER_NAMES = [
    "linkId", "domain", "key", "country", "region", "city", "continent", "device", "browser",
    "os", "trigger", "referer", "refererUrl", "url", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "tagId", "customerId", "externalId",
    "tenantId", "qr",
]  # fmt: skip


FILTER_LABELS = {
    "linkId": "Link", "domain": "Domain", "key": "Short key", "country": "Country",
    "region": "Region", "city": "City", "continent": "Continent", "device": "Device",
    "browser": "Browser", "os": "OS", "trigger": "Trigger", "referer": "Referer",
    "refererUrl": "Referer URL", "url": "Destination", "utm_source": "UTM source",
    "utm_medium": "UTM medium", "utm_campaign": "UTM campaign", "utm_term": "UTM term",
    "utm_content": "UTM content", "tagId": "Tag", "customerId": "Customer",
    "externalId": "External ID", "tenantId": "Tenant", "qr": "QR scans",
}  # fmt: skip
"""What a filter chip calls each parameter."""


@router.get("", response_class=HTMLResponse)
def analytics_page(
    request: Request, page: ViewDep, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """Time series, funnel and breakdowns; the charts load from ``…/analytics/data``."""
    params = request.query_params
    start, end = params.get("start", "")[:64], params.get("end", "")[:64]
    interval = "" if start or end else params.get("interval") or Interval.last_30d.value
    range_error = _range_error(session, page, params, start, end)
    active = [(name, params[name]) for name in FILTER_NAMES if params.get(name)]
    links = views.link_choices(session, page.workspace)
    chosen = params.get("linkId")
    if chosen and chosen not in dict(links):
        # A link past the menu's most clicked (a breakdown row, a shared URL): named too.
        links += views.links_named(session, page.workspace, [chosen])
    link_names = dict(links)
    chips = [
        (
            FILTER_LABELS.get(name, name),
            link_names.get(value, value) if name == "linkId" else value,
            name,
        )
        for name, value in active
    ]
    return render(
        "analytics.html",
        **page.context(
            "analytics",
            intervals=INTERVALS,
            breakdowns=BREAKDOWN_TITLES,
            interval=interval,
            start=_printable(start),
            end=_printable(end),
            range_error=range_error,
            timezone=params.get("timezone", ""),
            links=links,
            chips=chips,
            filters=dict(active),
            analytics_days=page.member.plan.analytics_days,
            metric=params.get("metric", "clicks")[:20],
        ),
    )


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


def _range_error(
    session: SessionDep, page: Page, params: Mapping[str, str], start: str, end: str
) -> str | None:
    """Why a custom range (``start``/``end``, as Dub's API takes them) cannot be shown, in
    words: a bad date, an end not after the start, or one the plan does not reach. The page
    says so instead of loading charts that would only fail (never a server error)."""
    if not start and not end:
        return None
    try:
        query = AnalyticsFilters.model_validate(
            {
                "start": start or None,
                "end": end or None,
                "timezone": params.get("timezone") or "UTC",
            }
        )
        analytics.scope(session, page.workspace, query)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    except CodeQRError as exc:
        return exc.message.removeprefix("Invalid request: query parameter ")
    return None


@router.get("/data", response_model=None)
def analytics_data(
    query: Annotated[AnalyticsFilters, Query()],
    member: DataDep,
    session: SessionDep,
    services: ServicesDep,
    part: Annotated[str | None, Query(pattern=PARTS)] = None,
    as_format: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
    rows: Annotated[int, Query(ge=1, le=MAX_ROWS)] = charts.TOP_ROWS,
) -> Response:
    """What the charts draw for the page's range, timezone and filters: everything, or one
    part (``summary``, or a breakdown) when the page asks for them side by side; with
    ``format=csv``, every row of one breakdown (at most the API's 1,000) as a download;
    ``rows`` is how many rows a breakdown shows (10, up to 1,000 for "View all")."""
    if query.interval is None and not query.start:
        query = query.model_copy(update={"interval": Interval.last_30d})
    ctx = services.links.ctx
    if as_format == "csv":
        if part not in charts.BREAKDOWNS:
            names = ", ".join(charts.BREAKDOWNS)
            raise Unprocessable(f"Invalid request: query parameter part: CSV is for one of {names}")
        analytics.scope(session, member.workspace, query)  # refuse before running any query
        found = charts.breakdown(
            session, ctx, member.workspace, query, part, services.reader, limit=MAX_ROWS
        )
        name = f"codeqr-{member.workspace.slug}-{part}-{query.interval or 'range'}.csv"
        return csv_export.download(
            csv_export.breakdown_csv(part, found["rows"], member.workspace.currency), name
        )
    data: dict[str, Any] = charts.overview(
        session, ctx, member.workspace, query, part, services.reader, rows
    )
    return JSONResponse(data, headers={"Cache-Control": "no-store"})

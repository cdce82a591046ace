"""What a link's own page shows besides its charts: its latest events, and the QR code drawn
in the colours, size and logo chosen on the page."""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass
from datetime import timedelta

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from codeqr.analytics import service as analytics
from codeqr.analytics.readers import EventsReader
from codeqr.analytics.repository import Kind
from codeqr.analytics.schemas import AnalyticsFilters
from codeqr.analytics.timeframe import Interval
from codeqr.kit.clock import from_ms, utcnow
from codeqr.workspace.models import Plan, Workspace

RECENT = 20
"""Events the page lists, newest first."""
_KIND_NAMES = {Kind.clicks: "click", Kind.leads: "lead", Kind.sales: "sale"}


@dataclass(frozen=True)
class RecentEvent:
    """One row of the page's latest events (a conversion shows where its click came from)."""

    kind: str
    at: str
    """ISO 8601 in UTC (the page's script shows it in the reader's time)."""
    name: str
    amount: int | None
    currency: str | None
    country: str | None
    device: str | None
    browser: str | None
    referer: str | None
    trigger: str | None


def recent_events(
    session: Session,
    reader: EventsReader,
    workspace: Workspace,
    plan: Plan,
    link_id: str,
    limit: int = RECENT,
) -> list[RecentEvent]:
    """The link's ``limit`` newest clicks, leads and sales together, as far back as the
    workspace's plan shows analytics."""
    if plan.analytics_days is None:
        window = AnalyticsFilters(interval=Interval.all, linkId=link_id)
    else:
        start = (utcnow() - timedelta(days=plan.analytics_days)).date().isoformat()
        window = AnalyticsFilters(start=start, linkId=link_id)
    scoped = analytics.scope(session, workspace, window)
    rows = [
        (kind, row)
        for kind in _KIND_NAMES
        for row in reader.page(session, scoped, kind, newest_first=True, offset=0, limit=limit)
    ]
    rows.sort(key=lambda item: (item[1]["timestamp"], item[1]["id"]), reverse=True)
    rows = rows[:limit]
    clicks = reader.clicks_by_id(
        session,
        workspace.id,
        [row["click_id"] for kind, row in rows if kind is not Kind.clicks and row.get("click_id")],
    )
    out = []
    for kind, row in rows:
        click = row if kind is Kind.clicks else clicks.get(row.get("click_id") or "", {})
        amount = row.get("reporting_amount") if kind is Kind.sales else None
        out.append(
            RecentEvent(
                kind=_KIND_NAMES[kind],
                at=from_ms(int(row["timestamp"])).isoformat(timespec="seconds"),
                name=row.get("event_name") or _KIND_NAMES[kind].capitalize(),
                amount=amount,
                currency=row.get("reporting_currency") if amount is not None else None,
                country=click.get("country"),
                device=click.get("device"),
                browser=click.get("browser"),
                referer=click.get("referer"),
                trigger=click.get("trigger"),
            )
        )
    return out


@functools.cache
def logo_data_url() -> str:
    """The mark a QR code carries when the page's "Logo" is on: a rounded square with a
    ring, drawn once (the instance has no per-workspace logo to put there)."""
    side = 96
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, side - 1, side - 1), radius=22, fill=(79, 70, 229, 255))
    draw.ellipse((22, 22, 74, 74), outline=(255, 255, 255, 255), width=10)
    draw.line((58, 58, 76, 76), fill=(255, 255, 255, 255), width=11)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

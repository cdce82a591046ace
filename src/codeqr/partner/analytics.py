"""``GET /partners/analytics``: a partner's clicks, leads, sales and earnings (Dub's
``partners.analytics``), read through the same analytics service as ``/api/analytics``."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codeqr.analytics import service as analytics
from codeqr.analytics.readers import EventsReader
from codeqr.analytics.schemas import AnalyticsQuery, EventType, GroupBy
from codeqr.analytics.timeframe import Interval
from codeqr.commission.models import Commission
from codeqr.kit.clock import from_ms
from codeqr.link.service import LinkContext
from codeqr.partner import repository
from codeqr.partner import service as partners
from codeqr.partner.schemas import Selector
from codeqr.program import service as programs
from codeqr.workspace.models import Workspace


class PartnerGroupBy(StrEnum):
    total = "count"  # not ``count``: that is a method of ``str``
    timeseries = "timeseries"
    top_links = "top_links"


class PartnerAnalyticsQuery(Selector):
    """Query parameters of ``GET /partners/analytics``."""

    interval: Interval | None = None
    start: str | None = Field(default=None, max_length=64)
    end: str | None = Field(default=None, max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    group_by: PartnerGroupBy = Field(default=PartnerGroupBy.total, alias="groupBy")

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)


_GROUP = {
    PartnerGroupBy.total: GroupBy.total,
    PartnerGroupBy.timeseries: GroupBy.timeseries,
    PartnerGroupBy.top_links: GroupBy.top_links,
}


def retrieve(
    session: Session,
    ctx: LinkContext,
    workspace: Workspace,
    query: PartnerAnalyticsQuery,
    reader: EventsReader,
) -> dict[str, int] | list[dict[str, Any]]:
    """The partner's figures over the range: a count, a time series, or its top links,
    each with the ``earnings`` of its commissions (owed or paid) in that range."""
    programs.gate(session, workspace)
    enrollment, _ = partners.find(session, workspace, query)
    links = repository.links_of(session, workspace.id, [enrollment.partner_id], partners.MAX_LINKS)
    base = AnalyticsQuery.model_validate(
        {
            "interval": query.interval,
            "start": query.start,
            "end": query.end,
            "timezone": query.timezone,
            "event": EventType.composite,
            "groupBy": _GROUP[query.group_by],
        }
    )
    # Set after validation: 100 link ids are longer than a filter typed by a caller may be.
    base.link_id = ",".join(link.id for link in links) or None
    found = analytics.retrieve(session, ctx, workspace, base, reader)
    scoped = analytics.scope(session, workspace, base)
    start_ms, end_ms = scoped.timeframe.start_ms, scoped.timeframe.end_ms
    earned = _earned(enrollment.partner_id, start_ms, end_ms)
    if isinstance(found, dict):
        if not links:
            found = analytics.zeros()
        total = session.scalar(
            select(func.coalesce(func.sum(Commission.earnings), 0)).where(*earned)
        )
        return {**found, "earnings": int(total or 0)}
    if query.group_by is PartnerGroupBy.top_links:
        by_link = dict(
            session.execute(
                select(Commission.link_id, func.sum(Commission.earnings))
                .where(*earned)
                .group_by(Commission.link_id)
            ).all()
        )
        return [
            {
                **row,
                "partnerId": enrollment.partner_id,
                "earnings": int(by_link.get(row["id"]) or 0),
            }
            for row in found
        ]
    return _with_earnings(session, found, earned, end_ms, zeroed=not links)


def _earned(partner_id: str, start_ms: int | None, end_ms: int) -> list[Any]:
    where = [
        Commission.partner_id == partner_id,
        Commission.status.in_(repository.EARNED),
        Commission.created_at < from_ms(end_ms),
    ]
    if start_ms is not None:
        where.append(Commission.created_at >= from_ms(start_ms))
    return where


def _with_earnings(
    session: Session, rows: list[dict[str, Any]], earned: list[Any], end_ms: int, *, zeroed: bool
) -> list[dict[str, Any]]:
    """Time-series rows with each bucket's earnings (a bucket runs to the next's start)."""
    starts = [datetime.fromisoformat(row["start"]).astimezone(UTC) for row in rows]
    earnings = [0] * len(rows)
    for at, amount in session.execute(
        select(Commission.created_at, Commission.earnings).where(*earned)
    ):
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        n = bisect_right(starts, moment) - 1
        if 0 <= n < len(rows):
            earnings[n] += amount
    out = []
    for row, total in zip(rows, earnings, strict=True):
        values = analytics.zeros() if zeroed else {}
        out.append({**row, **values, "earnings": total})
    return out

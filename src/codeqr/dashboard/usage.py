"""The Usage tab: what the workspace used this calendar month (UTC) against its plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from codeqr.events.models import click_events, lead_events, sale_events
from codeqr.kit.clock import utcnow
from codeqr.link.models import Domain, Link
from codeqr.workspace.models import Plan, Workspace, WorkspaceUsage


@dataclass(frozen=True)
class Meter:
    """One limit of the plan and how much of it is used."""

    label: str
    used: int
    limit: int
    help: str

    @property
    def percent(self) -> int:
        """Used, as a whole percentage of the limit (at most 100)."""
        if self.limit <= 0:
            return 100
        return min(100, self.used * 100 // self.limit)

    @property
    def full(self) -> bool:
        """Whether the limit is reached."""
        return self.used >= self.limit


@dataclass(frozen=True)
class Usage:
    """The month's meters and the figures beside them."""

    month: str
    resets: str
    meters: list[Meter]
    clicks: int
    leads: int
    sales: int
    links_total: int


def _count(session: Session, table: Table, workspace: Workspace, since_ms: int) -> int:
    stmt = select(func.count()).where(
        table.c.workspace_id == workspace.id, table.c.timestamp >= since_ms
    )
    return int(session.scalar(stmt) or 0)


def of(session: Session, workspace: Workspace, plan: Plan, now: datetime | None = None) -> Usage:
    """This month's clicks, leads and sales (the tracked events), links created, custom
    domains, against the plan's limits."""
    now = now or utcnow()
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    resets = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    since = int(start.timestamp() * 1000)
    clicks = _count(session, click_events, workspace, since)
    leads = _count(session, lead_events, workspace, since)
    sales = _count(session, sale_events, workspace, since)
    created = session.scalar(
        select(WorkspaceUsage.links).where(
            WorkspaceUsage.workspace_id == workspace.id,
            WorkspaceUsage.period == now.strftime("%Y-%m"),
        )
    )
    links_total = session.scalar(
        select(func.count()).select_from(Link).where(Link.workspace_id == workspace.id)
    )
    domains = session.scalar(
        select(func.count()).select_from(Domain).where(Domain.workspace_id == workspace.id)
    )
    meters = [
        Meter(
            "Tracked events",
            clicks + leads + sales,
            plan.events_per_month,
            "Clicks, leads and sales recorded this month.",
        ),
        Meter(
            "New links",
            int(created or 0),
            plan.links_per_month,
            "Links created this month; deleting one does not give it back.",
        ),
        Meter(
            "Custom domains",
            int(domains or 0),
            plan.domains,
            "Domains the workspace holds now.",
        ),
    ]
    return Usage(
        month=start.strftime("%B %Y"),
        resets=resets.date().isoformat(),
        meters=meters,
        clicks=clicks,
        leads=leads,
        sales=sales,
        links_total=int(links_total or 0),
    )

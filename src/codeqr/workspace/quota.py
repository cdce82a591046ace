"""Monthly quotas of a workspace's plan (SPEC §2, §9): links created per calendar month.

A quota is claimed in the request's transaction with one conditional upsert, so concurrent
creations can never claim past the limit (no count-then-insert race), and a creation that
fails later gives its claim back with the rollback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from codeqr.kit.errors import RateLimited
from codeqr.kit.ratelimit import Decision
from codeqr.workspace.models import Workspace, WorkspaceUsage
from codeqr.workspace.service import get_plan

_usage = cast(Table, WorkspaceUsage.__table__)


def _next_month(now: datetime) -> datetime:
    if now.month == 12:
        return datetime(now.year + 1, 1, 1, tzinfo=UTC)
    return datetime(now.year, now.month + 1, 1, tzinfo=UTC)


def claim_links(session: Session, workspace: Workspace, now: datetime, count: int = 1) -> None:
    """Count ``count`` new links against the month's ``links_per_month``; 429 past it."""
    limit = get_plan(session, workspace.plan).links_per_month
    period = now.strftime("%Y-%m")
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_usage).values(workspace_id=workspace.id, period=period, links=count)
    statement = statement.on_conflict_do_update(
        index_elements=[_usage.c.workspace_id, _usage.c.period],
        set_={"links": _usage.c.links + count},
        where=_usage.c.links + count <= limit,
    ).returning(_usage.c.links)
    used = session.execute(statement).scalar() if count <= limit else None
    reset = _next_month(now)
    if used is None:
        decision = Decision(
            False, limit, 0, int(reset.timestamp() * 1000), int((reset - now).total_seconds()) + 1
        )
        raise RateLimited(
            f"Monthly link limit reached: the {workspace.plan} plan allows {limit} new links "
            f"a month; more can be created from {reset.date().isoformat()}.",
            headers=decision.headers(),
        )

"""Helpers of the partner program tests: a program with rewards, visits, and the rows."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from codeqr.commission.models import Commission
from codeqr.program import service as programs
from codeqr.program.models import RewardEvent, RewardType
from codeqr.program.schemas import RewardSpec
from codeqr.workspace import service as ws
from tests.conftest import LiveServer

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def set_reward(
    server: LiveServer,
    slug: str,
    event: RewardEvent,
    kind: RewardType,
    amount: float,
    *,
    months: int | None = None,
    lifetime: bool = False,
) -> None:
    """Set a reward of the workspace's program, as the CLI does."""
    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, slug)
        spec = RewardSpec(event=event, type=kind, amount=amount, months=months, lifetime=lifetime)
        programs.set_reward(session, workspace, spec)


def set_default_url(server: LiveServer, slug: str, url: str) -> None:
    """Give the workspace's program a default destination for partner links."""
    with server.services.db.transaction() as session:
        program = programs.default_program(session, ws.get_workspace(session, slug))
        program.default_url = url


def visit(short_link: str) -> str:
    """Follow a short link as a browser would; the click id it hands over."""
    response = httpx.get(short_link, headers={"User-Agent": BROWSER}, follow_redirects=False)
    assert response.status_code == 302, response.text
    click_id = str(httpx.URL(response.headers["location"]).params.get("cq_id", ""))
    assert len(click_id) == 16
    return click_id


def commissions(server: LiveServer, workspace_id: str) -> list[dict[str, Any]]:
    """Every commission row of a workspace, oldest first."""
    with server.services.db.transaction() as session:
        rows = session.scalars(
            select(Commission)
            .where(Commission.workspace_id == workspace_id)
            .order_by(Commission.created_at, Commission.id)
        ).all()
        return [
            {
                "type": c.type,
                "partner_id": c.partner_id,
                "customer_id": c.customer_id,
                "event_id": c.event_id,
                "amount": c.amount,
                "earnings": c.earnings,
                "currency": c.currency,
                "status": c.status,
            }
            for c in rows
        ]

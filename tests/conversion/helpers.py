"""Helpers for the conversion tests: a real tracked click, and what the database holds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from codeqr.customer.models import Customer
from codeqr.events.models import lead_events, sale_events
from codeqr.link.models import Link
from tests.conftest import LiveServer
from tests.factories import Tenant

_VISITORS = itertools.count(1)


def visitor_agent() -> str:
    """A browser user agent of a new visitor. Only digits vary: a random id in a user agent
    can spell "bot" or "spider" now and then, and the redirect rightly counts no click."""
    return f"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 visitor/{next(_VISITORS)}"


@dataclass(frozen=True)
class TrackedClick:
    link_id: str
    click_id: str
    short_link: str


def tracked_click(
    server: LiveServer, tenant: Tenant, *, url: str = "https://shop.example/pricing"
) -> TrackedClick:
    """A link with conversion tracking, followed once like a visitor does; ``cq_id`` from the
    ``Location`` the redirect answers with."""
    api = server.client(tenant.token)
    created = api.post("/api/links", json={"url": url, "trackConversion": True})
    assert created.status_code == 200, created.text
    link = created.json()
    visit = server.client().get("/" + link["key"], headers={"user-agent": visitor_agent()})
    assert visit.status_code == 302, visit.text
    click_id = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    return TrackedClick(link["id"], click_id, link["shortLink"])


def another_click(server: LiveServer, tracked: TrackedClick, visitor: str) -> str:
    """A second visit of the same link by another visitor; its click id."""
    path = urlsplit(tracked.short_link).path
    visit = server.client().get(path, headers={"user-agent": f"Mozilla/5.0 {visitor}"})
    assert visit.status_code == 302
    return parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]


def leads(server: LiveServer, workspace_id: str) -> list[dict[str, Any]]:
    """Stored lead events of a workspace, oldest first."""
    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            select(lead_events)
            .where(lead_events.c.workspace_id == workspace_id)
            .order_by(lead_events.c.timestamp, lead_events.c.id)
        )
        return [dict(r._mapping) for r in rows]


def sales(server: LiveServer, workspace_id: str) -> list[dict[str, Any]]:
    """Stored sale events of a workspace, oldest first."""
    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            select(sale_events)
            .where(sale_events.c.workspace_id == workspace_id)
            .order_by(sale_events.c.timestamp, sale_events.c.id)
        )
        return [dict(r._mapping) for r in rows]


def link_counters(server: LiveServer, link_id: str) -> dict[str, int]:
    with server.services.db.transaction() as session:
        link = session.get(Link, link_id)
        assert link is not None
        return {
            "clicks": link.clicks,
            "leads": link.leads,
            "sales": link.sales,
            "saleAmount": link.sale_amount,
        }


def customers(server: LiveServer, workspace_id: str) -> list[Customer]:
    with server.services.db.transaction() as session:
        return list(session.scalars(select(Customer).where(Customer.workspace_id == workspace_id)))

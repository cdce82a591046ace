"""What the dashboard pages show, read through the domain services (never the HTTP API)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.customer import service as customers
from codeqr.customer.schemas import CustomerFilters, CustomerOut
from codeqr.link.models import Domain, Link
from codeqr.link.service import LinkService
from codeqr.stripe import service as stripe_connection
from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import ApiKey, KeyKind, Plan, Workspace

PAGE_SIZE = 25
LINK_CHOICES = 200
"""How many links the analytics link filter offers (the most clicked)."""


@dataclass(frozen=True)
class Paged:
    """One page of rows and where it sits."""

    rows: Sequence[Any]
    page: int
    has_next: bool
    query: str
    total: int | None = None

    @property
    def has_previous(self) -> bool:
        """Whether there is a page before this one."""
        return self.page > 1


def domains_of(session: Session, links: LinkService, workspace: Workspace) -> list[str]:
    """The domains a link of this workspace can use: the instance's, then its own."""
    own = session.scalars(
        select(Domain.slug).where(Domain.workspace_id == workspace.id).order_by(Domain.slug)
    )
    return [links.ctx.default_domain, *own]


def link_choices(session: Session, workspace: Workspace) -> list[tuple[str, str]]:
    """``(id, domain/key)`` of the most clicked links, for the analytics filter."""
    rows = session.execute(
        select(Link.id, Link.domain, Link.key)
        .where(Link.workspace_id == workspace.id)
        .order_by(Link.clicks.desc(), Link.created_at.desc())
        .limit(LINK_CHOICES)
    ).all()
    return [(link_id, f"{domain}/{key}") for link_id, domain, key in rows]


def links_named(session: Session, workspace: Workspace, ids: list[str]) -> list[tuple[str, str]]:
    """``(id, domain/key)`` of the workspace's links among ``ids`` (others left out)."""
    rows = session.execute(
        select(Link.id, Link.domain, Link.key).where(
            Link.workspace_id == workspace.id, Link.id.in_(ids[:LINK_CHOICES])
        )
    ).all()
    return [(link_id, f"{domain}/{key}") for link_id, domain, key in rows]


def customers_page(
    session: Session, links: LinkService, workspace: Workspace, search: str, page: int
) -> Paged:
    """A page of the workspace's customers, newest first, with the link that brought them."""
    filters = CustomerFilters(search=search or None, page=page, page_size=PAGE_SIZE)
    found = customers.list_customers(session, workspace.id, filters)
    rows: list[CustomerOut] = customers.out_many(session, found, links.ctx, workspace.currency)
    # A full page may be the last one: the next then says so instead of counting every row.
    return Paged(rows, page, len(found) == PAGE_SIZE, search)


@dataclass(frozen=True)
class SettingsView:
    """What the settings page shows."""

    secret_keys: Sequence[ApiKey]
    publishable_keys: Sequence[ApiKey]
    plans: Sequence[Plan]
    stripe: StripeIntegration | None
    webhook_url: str


def settings_view(session: Session, public_url: str, workspace: Workspace) -> SettingsView:
    """Live keys by kind, the plan table, and the Stripe connection with its webhook URL."""
    keys = session.scalars(
        select(ApiKey)
        .where(ApiKey.workspace_id == workspace.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    ).all()
    return SettingsView(
        secret_keys=[k for k in keys if k.kind == KeyKind.secret],
        publishable_keys=[k for k in keys if k.kind == KeyKind.publishable],
        plans=session.scalars(select(Plan).order_by(Plan.rank)).all(),
        stripe=stripe_connection.get(session, workspace.id),
        webhook_url=stripe_connection.webhook_url(public_url, workspace.id),
    )

"""SQL of conversions: lead and sale events claimed by their unique keys, and the counters
they move, all inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from codeqr.customer.models import Customer
from codeqr.events.models import lead_events, sale_events
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms
from codeqr.kit.db import insert_unless_exists
from codeqr.kit.ids import click_id as event_id
from codeqr.link.models import Link

_SNAPSHOT = (
    "domain",
    "key",
    "url",
    "trigger",
    "country",
    "region",
    "city",
    "continent",
    "device",
    "browser",
    "os",
    "referer",
    "referer_url",
)


def snapshot(click: Click | None) -> dict[str, str]:
    """The where-from columns an event copies from its click (empty without one)."""
    if click is None:
        return dict.fromkeys(_SNAPSHOT, "")
    return {name: getattr(click, name) for name in _SNAPSHOT}


def record_lead(
    session: Session,
    *,
    customer: Customer,
    click: Click,
    event_name: str,
    quantity: int,
    metadata: dict[str, Any] | None,
    at_ms: int,
) -> bool:
    """Store the lead unless this customer already has one of this name; whether it was new.

    A new lead adds ``quantity`` to its link's ``leads`` in the same transaction.
    """
    inserted = insert_unless_exists(
        session,
        lead_events,
        {
            "id": event_id(at_ms),
            "timestamp": at_ms,
            "workspace_id": customer.workspace_id,
            "link_id": click.link_id,
            "click_id": click.id,
            "customer_id": customer.id,
            "event_name": event_name,
            "event_quantity": quantity,
            "metadata": metadata,
            **snapshot(click),
        },
        ["customer_id", "event_name"],
    )
    if inserted:
        session.execute(
            update(Link).where(Link.id == click.link_id).values(leads=Link.leads + quantity)
        )
    return inserted


@dataclass(frozen=True)
class SaleRow:
    """A sale as stored, enough to answer the API or a retry of the same invoice."""

    id: str
    customer_id: str | None
    event_name: str
    amount: int
    currency: str
    payment_processor: str
    invoice_id: str | None
    metadata: dict[str, Any] | None


def record_sale(session: Session, row: dict[str, Any]) -> bool:
    """Insert a sale row unless its invoice id is already claimed in the workspace."""
    return insert_unless_exists(session, sale_events, row, ["workspace_id", "invoice_id"])


def count_sale(
    session: Session,
    *,
    link_id: str | None,
    customer_id: str | None,
    reporting_amount: int | None,
    at_ms: int,
) -> None:
    """Add one sale (and its converted amount, when known) to its link and customer."""
    amount = reporting_amount or 0
    if link_id is not None:
        session.execute(
            update(Link)
            .where(Link.id == link_id)
            .values(sales=Link.sales + 1, sale_amount=Link.sale_amount + amount)
        )
    if customer_id is not None:
        at: datetime = from_ms(at_ms)
        session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(
                sales=Customer.sales + 1,
                sale_amount=Customer.sale_amount + amount,
                first_sale_at=func.coalesce(Customer.first_sale_at, at),
            )
            .execution_options(synchronize_session=False)
        )


def sale_by_invoice(session: Session, workspace_id: str, invoice_id: str) -> SaleRow | None:
    """The sale that claimed this invoice id in the workspace, if any."""
    c = sale_events.c
    row = session.execute(
        select(
            c.id,
            c.customer_id,
            c.event_name,
            c.amount,
            c.currency,
            c.payment_processor,
            c.invoice_id,
            c.metadata,
        ).where(c.workspace_id == workspace_id, c.invoice_id == invoice_id)
    ).first()
    return SaleRow(*row) if row else None


def sales_to_convert(session: Session, workspace_id: str) -> list[tuple[str, int, int, str]]:
    """``(id, timestamp, amount, currency)`` of every sale of a workspace."""
    c = sale_events.c
    rows = session.execute(
        select(c.id, c.timestamp, c.amount, c.currency).where(c.workspace_id == workspace_id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def set_reporting(session: Session, sale_id: str, values: dict[str, Any]) -> None:
    """Replace a sale's converted amount and the rate it came from."""
    session.execute(update(sale_events).where(sale_events.c.id == sale_id).values(values))


def recount_sale_amounts(session: Session, workspace_id: str) -> None:
    """Set every link's and customer's ``saleAmount`` of the workspace to the sum of its
    sales' converted amounts (the rule the counters follow on every write)."""
    c = sale_events.c
    for model, column in ((Link, c.link_id), (Customer, c.customer_id)):
        total = (
            select(func.coalesce(func.sum(c.reporting_amount), 0))
            .where(column == model.id)
            .scalar_subquery()
        )
        session.execute(
            update(model)
            .where(model.workspace_id == workspace_id)
            .values(sale_amount=total)
            .execution_options(synchronize_session=False)
        )

"""SQL of conversions: lead and sale events claimed by their unique keys, and the counters
they move, all inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from codeqr.customer.models import Customer
from codeqr.events import outbox
from codeqr.events.models import WHERE_FROM, click_events, lead_events, refund_events, sale_events
from codeqr.events.outbox import Changed
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms
from codeqr.kit.db import insert_unless_exists as kit_insert_unless_exists
from codeqr.kit.hooks import notes
from codeqr.kit.ids import click_id as event_id
from codeqr.kit.prepared import insert_unless_exists, prepared
from codeqr.link.models import Link
from codeqr.money.bounds import clamped_sql, money_sum, saturating_add, saturating_bounds


def snapshot(click: Click | None) -> dict[str, str]:
    """The where-from columns an event copies from its click (empty without one)."""
    if click is None:
        return dict.fromkeys(WHERE_FROM, "")
    return {name: getattr(click, name) for name in WHERE_FROM}


def record_lead(
    session: Session,
    *,
    customer: Customer | CustomerRef,
    click: Click,
    event_name: str,
    quantity: int,
    metadata: dict[str, Any] | None,
    at_ms: int,
    test: bool = False,
    counted: bool = True,
) -> bool:
    """Store the lead unless this customer already has one of this name; whether it was new.

    A new lead adds ``quantity`` to its link's ``leads`` in the same transaction (unless it
    is test data left out of the figures: ``counted=False``).
    """
    lead_id = event_id()  # ids follow insertion (the live stream reads by id)
    lead = {
        "id": lead_id,
        "timestamp": at_ms,
        "workspace_id": customer.workspace_id,
        "link_id": click.link_id,
        "click_id": click.id,
        "customer_id": customer.id,
        "event_name": event_name,
        "event_quantity": quantity,
        "metadata": metadata,
        "test": test,
        **snapshot(click),
    }
    inserted = insert_unless_exists(session, lead_events, lead, ("customer_id", "event_name"))
    if inserted:
        outbox.note(session, Changed.leads, (lead_id,))
    if inserted and counted:
        prepared(_COUNT_LEADS, session).run(
            session, {"link_id": click.link_id, "quantity": quantity}
        )
    if inserted and (hooks := notes(session)) is not None:
        hooks.lead_created(session, lead, click)  # after counting: the link as it is now
    return inserted


# Counter updates, built once and run as plain (not ORM-enabled) statements: the busiest
# writes of conversion tracking run them on every call.
_links = cast(Table, Link.__table__)
_customers = cast(Table, Customer.__table__)
_COUNT_LEADS = (
    update(_links)
    .where(_links.c.id == bindparam("link_id"))
    .values(leads=_links.c.leads + bindparam("quantity"))
)
# ``saleAmount`` saturates at ``TOTAL_MAX`` (see ``money.bounds`` for why it does not refuse).
_HI: Any = bindparam("hi")
_LO: Any = bindparam("lo")
_AMOUNT: Any = bindparam("amount")
_COUNT_LINK_SALE = (
    update(_links)
    .where(_links.c.id == bindparam("row_id"))
    .values(
        sales=_links.c.sales + 1,
        sale_amount=saturating_add(_links.c.sale_amount, _HI, _LO, _AMOUNT),
    )
)
_COUNT_CUSTOMER_SALE = (
    update(_customers)
    .where(_customers.c.id == bindparam("row_id"))
    .values(
        sales=_customers.c.sales + 1,
        sale_amount=saturating_add(_customers.c.sale_amount, _HI, _LO, _AMOUNT),
        first_sale_at=func.coalesce(_customers.c.first_sale_at, bindparam("at")),
    )
)


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
    inserted = insert_unless_exists(session, sale_events, row, ("workspace_id", "invoice_id"))
    if inserted:
        outbox.note(session, Changed.sales, (row["id"],))
    return inserted


def sale_counted(session: Session, row: dict[str, Any]) -> None:
    """Tell outbound webhooks of a recorded sale (after ``count_sale``: the link and the
    customer they show include it)."""
    if (hooks := notes(session)) is not None:
        hooks.sale_created(session, row)


def count_sale(
    session: Session,
    *,
    link_id: str | None,
    customer_id: str | None,
    reporting_amount: int | None,
    at_ms: int,
) -> None:
    """Add one sale (and its converted amount, when known) to its link and customer; their
    ``saleAmount`` stops at ``TOTAL_MAX``."""
    amount = reporting_amount or 0
    params = {"amount": amount, **saturating_bounds(amount)}
    if link_id is not None:
        prepared(_COUNT_LINK_SALE, session).run(session, {"row_id": link_id, **params})
    if customer_id is not None:
        at: datetime = from_ms(at_ms)
        prepared(_COUNT_CUSTOMER_SALE, session).run(
            session, {"row_id": customer_id, "at": at, **params}
        )


def sale_by_invoice(session: Session, workspace_id: str, invoice_id: str) -> SaleRow | None:
    """The sale that claimed this invoice id in the workspace, if any."""
    row = prepared(_SALE_BY_INVOICE, session).first(
        session, {"workspace_id": workspace_id, "invoice_id": invoice_id}
    )
    return SaleRow(*row) if row else None


_SALE_BY_INVOICE = select(
    sale_events.c.id,
    sale_events.c.customer_id,
    sale_events.c.event_name,
    sale_events.c.amount,
    sale_events.c.currency,
    sale_events.c.payment_processor,
    sale_events.c.invoice_id,
    sale_events.c.metadata,
).where(
    sale_events.c.workspace_id == bindparam("workspace_id"),
    sale_events.c.invoice_id == bindparam("invoice_id"),
)


class LinkRef(NamedTuple):
    """What a lead's answer says of the click's link."""

    id: str
    domain: str
    key: str
    url: str
    tenant_id: str | None
    external_id: str | None
    program_id: str | None
    partner_id: str | None


class CustomerRef(NamedTuple):
    """What leads and sales need of a customer (the ``Customer`` attributes of the same
    names), without building a mapped object."""

    id: str
    workspace_id: str
    external_id: str
    name: str | None
    email: str | None
    avatar: str | None
    click_id: str | None
    link_id: str | None


def click(session: Session, click_id: str) -> Click | None:
    """A click by id, read in the caller's transaction."""
    row = prepared(_CLICK, session).first(session, {"click_id": click_id})
    return Click(*row) if row else None


def click_and_link(session: Session, click_id: str) -> tuple[Click, LinkRef | None] | None:
    """A click by id and its link as it is now (``None`` once deleted), in one read."""
    row = prepared(_CLICK_AND_LINK, session).first(session, {"click_id": click_id})
    if row is None:
        return None
    width = len(click_events.c)
    link = LinkRef(*row[width:]) if row[width] is not None else None
    return Click(*row[:width]), link


def customer_by_external_id(
    session: Session, workspace_id: str, external_id: str
) -> CustomerRef | None:
    """The workspace's customer with this external id, if any."""
    row = prepared(_CUSTOMER, session).first(
        session, {"workspace_id": workspace_id, "external_id": external_id}
    )
    return CustomerRef(*row) if row else None


def insert_customer(session: Session, row: dict[str, Any]) -> CustomerRef | None:
    """Insert a new customer unless the external id is taken in the workspace (the claim);
    the new customer, or ``None`` when the external id was taken."""
    if not insert_unless_exists(session, _customers, row, ("workspace_id", "external_id")):
        return None
    name, email, avatar = row["name"], row["email"], row["avatar"]
    click_id, link_id = row.get("click_id"), row.get("link_id")
    return CustomerRef(
        row["id"], row["workspace_id"], row["external_id"], name, email, avatar, click_id, link_id
    )


_CLICK = select(click_events).where(click_events.c.id == bindparam("click_id"))
_CLICK_AND_LINK = (
    select(
        click_events,
        _links.c.id,
        _links.c.domain,
        _links.c.key,
        _links.c.url,
        _links.c.tenant_id,
        _links.c.external_id,
        _links.c.program_id,
        _links.c.partner_id,
    )
    .select_from(click_events.outerjoin(_links, _links.c.id == click_events.c.link_id))
    .where(click_events.c.id == bindparam("click_id"))
)
_CUSTOMER = select(
    _customers.c.id,
    _customers.c.workspace_id,
    _customers.c.external_id,
    _customers.c.name,
    _customers.c.email,
    _customers.c.avatar,
    _customers.c.click_id,
    _customers.c.link_id,
).where(
    _customers.c.workspace_id == bindparam("workspace_id"),
    _customers.c.external_id == bindparam("external_id"),
)


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
    outbox.note(session, Changed.sales, (sale_id,))


def recount_sale_amounts(session: Session, workspace_id: str, *, with_test: bool) -> None:
    """Set every link's and customer's ``saleAmount`` of the workspace to its sales'
    converted amounts net of refunds (the rule the counters follow on every write); Stripe
    test-mode rows count only ``with_test`` (a sandbox workspace)."""
    c, r = sale_events.c, refund_events.c
    pairs = ((Link, c.link_id, r.link_id), (Customer, c.customer_id, r.customer_id))
    for model, sold_by, refunded_by in pairs:
        sold = select(func.coalesce(money_sum(c.reporting_amount), 0)).where(
            sold_by == model.id, *([] if with_test else [c.test.is_(False)])
        )
        refunded = select(func.coalesce(money_sum(r.reporting_amount), 0)).where(
            refunded_by == model.id, *([] if with_test else [r.test.is_(False)])
        )
        net = clamped_sql(sold.scalar_subquery() - refunded.scalar_subquery())
        session.execute(
            update(model)
            .where(model.workspace_id == workspace_id)
            .values(sale_amount=net)
            .execution_options(synchronize_session=False)
        )


def reconvert_refunds(session: Session, workspace_id: str) -> None:
    """Give every refund of the workspace its sale's new rate (a refund is converted at the
    rate of the sale it lowers, so a full refund nets to exactly zero)."""
    c, r = sale_events.c, refund_events.c
    rows = session.execute(
        select(r.id, r.amount, c.amount, c.reporting_amount, c.reporting_currency)
        .join(sale_events, c.id == r.sale_id)
        .where(r.workspace_id == workspace_id)
    ).all()
    for refund_id, refunded, sold, sold_reporting, currency in rows:
        reporting = (
            None if sold_reporting is None or not sold else round(sold_reporting * refunded / sold)
        )
        session.execute(
            update(refund_events)
            .where(r.id == refund_id)
            .values(reporting_amount=reporting, reporting_currency=currency)
        )
    outbox.note(session, Changed.refunds, workspace_id=workspace_id)


@dataclass(frozen=True)
class PaidSale:
    """What a refund needs of the sale it lowers."""

    id: str
    link_id: str | None
    click_id: str | None
    customer_id: str | None
    amount: int
    currency: str
    reporting_amount: int | None
    reporting_currency: str
    test: bool
    where_from: dict[str, str]


def _paid_sale(where: Any) -> Any:
    c = sale_events.c
    return select(
        c.id,
        c.link_id,
        c.click_id,
        c.customer_id,
        c.amount,
        c.currency,
        c.reporting_amount,
        c.reporting_currency,
        c.test,
        *(c[name] for name in WHERE_FROM),
    ).where(where)


def _as_paid_sale(row: Any) -> PaidSale:
    return PaidSale(
        id=row[0],
        link_id=row[1],
        click_id=row[2],
        customer_id=row[3],
        amount=row[4],
        currency=row[5],
        reporting_amount=row[6],
        reporting_currency=row[7],
        test=bool(row[8]),
        where_from=dict(zip(WHERE_FROM, row[9:], strict=True)),
    )


def sale_paid_by(
    session: Session, workspace_id: str, *, payment_intent: str | None, invoice_id: str | None
) -> PaidSale | None:
    """The workspace's sale paid by this payment intent, or recorded for this invoice."""
    c = sale_events.c
    for column, value in ((c.payment_intent_id, payment_intent), (c.invoice_id, invoice_id)):
        if value:
            row = session.execute(
                _paid_sale((c.workspace_id == workspace_id) & (column == value)).limit(1)
            ).first()
            if row is not None:
                return _as_paid_sale(row)
    return None


def lock_sale(session: Session, sale_id: str) -> None:
    """Serialize writers of one sale's refunds (a row lock on PostgreSQL, the write lock on
    SQLite): whatever is read after this is what the next writer will see too."""
    session.execute(
        update(sale_events).where(sale_events.c.id == sale_id).values(test=sale_events.c.test)
    )


def refunded_of_sale(session: Session, sale_id: str) -> tuple[int, int]:
    """How much of the sale is already refunded: in its own currency, and in the
    reporting currency (its converted amount's share)."""
    r = refund_events.c
    row = session.execute(
        select(
            func.coalesce(money_sum(r.amount), 0), func.coalesce(money_sum(r.reporting_amount), 0)
        ).where(r.sale_id == sale_id)
    ).one()
    return int(row[0]), int(row[1])


def refunded_total(session: Session, workspace_id: str, charge_id: str) -> int:
    """How much of the charge is already recorded as refunded (its cumulative high mark)."""
    c = refund_events.c
    found = session.scalar(
        select(func.max(c.refunded_total)).where(
            c.workspace_id == workspace_id, c.charge_id == charge_id
        )
    )
    return int(found or 0)


def record_refund(session: Session, row: dict[str, Any]) -> bool:
    """Insert a refund step unless the same cumulative step is already stored."""
    inserted = kit_insert_unless_exists(
        session, refund_events, row, ["workspace_id", "charge_id", "refunded_total"]
    )
    if inserted:
        outbox.note(session, Changed.refunds, (row["id"],))
    return inserted


def uncount_refund(
    session: Session, *, link_id: str | None, customer_id: str | None, reporting_amount: int
) -> None:
    """Lower the link's and the customer's net revenue by a refunded amount (held within
    ``±TOTAL_MAX``, as the sales that raised it)."""
    bounds = saturating_bounds(-reporting_amount)
    for model, key in ((Link, link_id), (Customer, customer_id)):
        if key is not None:
            net = saturating_add(model.sale_amount, bounds["hi"], bounds["lo"], -reporting_amount)
            session.execute(
                update(model)
                .where(model.id == key)
                .values(sale_amount=net)
                .execution_options(synchronize_session=False)
            )


@dataclass(frozen=True)
class AdoptedSale:
    """An unattributed sale now attributed to a customer, with what it adds to counters."""

    id: str
    timestamp: int
    net_reporting_amount: int | None
    test: bool


def adopt_sales(
    session: Session,
    workspace_id: str,
    customer: Customer,
    click: Click | None,
    *,
    stripe_customer_id: str | None = None,
    invoice_id: str | None = None,
) -> list[AdoptedSale]:
    """Attribute the workspace's unattributed sales of this Stripe customer (or invoice) to
    ``customer``, with their refunds: a sale recorded before its buyer was known ends where
    it would have if the events had come in order. The caller counts what is returned."""
    c = sale_events.c
    keys = []
    if stripe_customer_id:
        keys.append(c.stripe_customer_id == stripe_customer_id)
    if invoice_id:
        keys.append(c.invoice_id == invoice_id)
    if not keys:
        return []
    candidates = session.execute(
        select(c.id, c.timestamp, c.reporting_amount, c.test).where(
            c.workspace_id == workspace_id,
            c.customer_id.is_(None),
            keys[0] if len(keys) == 1 else (keys[0] | keys[1]),
        )
    ).all()
    attribution = {
        "customer_id": customer.id,
        "link_id": customer.link_id,
        "click_id": customer.click_id,
        **snapshot(click),
    }
    adopted = []
    for sale_id, at_ms, reporting_amount, test in candidates:
        claimed = session.execute(
            update(sale_events).where(c.id == sale_id, c.customer_id.is_(None)).values(attribution)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue  # a concurrent writer attributed it first
        refunds = refund_events.c
        session.execute(update(refund_events).where(refunds.sale_id == sale_id).values(attribution))
        refunded = session.scalar(
            select(func.coalesce(money_sum(refunds.reporting_amount), 0)).where(
                refunds.sale_id == sale_id
            )
        )
        net = None if reporting_amount is None else reporting_amount - int(refunded or 0)
        adopted.append(AdoptedSale(sale_id, at_ms, net, bool(test)))
    adopted_ids = [sale.id for sale in adopted]
    outbox.note(session, Changed.sales, adopted_ids)
    outbox.note(session, Changed.refunds_of, adopted_ids)
    return adopted

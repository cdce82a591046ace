"""Rules for customers: lookups by id or ``ext_<externalId>``, edits, and the claim a lead makes.

Services never commit; the request (or the flow) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.orm import Session, make_transient_to_detached

from codeqr.customer.models import Customer
from codeqr.customer.schemas import (
    CustomerCreate,
    CustomerFilters,
    CustomerLinkOut,
    CustomerOut,
    CustomerSortBy,
    CustomerUpdate,
)
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms, iso, utcnow
from codeqr.kit.db import insert_unless_exists
from codeqr.kit.errors import Conflict, NotFound
from codeqr.kit.ids import new_id
from codeqr.link.models import Link
from codeqr.link.service import LinkContext

EXTERNAL_PREFIX = "ext_"


@dataclass(frozen=True)
class Profile:
    """Customer details a tracking call may bring; ``None`` leaves a stored value alone."""

    name: str | None = None
    email: str | None = None
    avatar: str | None = None


def get_customer(session: Session, workspace_id: str, id_or_external: str) -> Customer:
    """The workspace's customer by CodeQR id or ``ext_<externalId>``; 404 otherwise."""
    if id_or_external.startswith(EXTERNAL_PREFIX):
        where = Customer.external_id == id_or_external.removeprefix(EXTERNAL_PREFIX)
    else:
        where = Customer.id == id_or_external
    customer = session.scalar(select(Customer).where(Customer.workspace_id == workspace_id, where))
    if customer is None:
        raise NotFound(f"Customer not found: {id_or_external}")
    return customer


def find_by_external_id(session: Session, workspace_id: str, external_id: str) -> Customer | None:
    """The workspace's customer with this external id, if any."""
    return session.scalar(
        _BY_EXTERNAL_ID, {"workspace_id": workspace_id, "external_id": external_id}
    )


# Built once (the tracking hot paths look customers up on every call).
_BY_EXTERNAL_ID = select(Customer).where(
    Customer.workspace_id == bindparam("workspace_id"),
    Customer.external_id == bindparam("external_id"),
)


def list_customers(
    session: Session, workspace_id: str, filters: CustomerFilters
) -> Sequence[Customer]:
    """One page of the workspace's customers, filtered and sorted as asked."""
    conditions: list[ColumnElement[bool]] = [Customer.workspace_id == workspace_id]
    if filters.email:
        conditions.append(Customer.email == filters.email)
    if filters.external_id:
        conditions.append(Customer.external_id == filters.external_id)
    if filters.country:
        conditions.append(Customer.country == filters.country.upper())
    if filters.link_id:
        conditions.append(Customer.link_id == filters.link_id)
    if filters.search:
        pattern = "%" + filters.search.replace("%", r"\%").replace("_", r"\_") + "%"
        conditions.append(
            or_(
                Customer.email.ilike(pattern, escape="\\"),
                Customer.name.ilike(pattern, escape="\\"),
                Customer.external_id.ilike(pattern, escape="\\"),
            )
        )
    column = {
        CustomerSortBy.created_at: Customer.created_at,
        CustomerSortBy.sale_amount: Customer.sale_amount,
        CustomerSortBy.first_sale_at: Customer.first_sale_at,
        CustomerSortBy.subscription_canceled_at: Customer.subscription_canceled_at,
    }[filters.sort_by]
    order = column.asc() if filters.sort_order == "asc" else column.desc()
    return session.scalars(
        select(Customer)
        .where(*conditions)
        .order_by(order, Customer.id)
        .offset((filters.page - 1) * filters.page_size)
        .limit(filters.page_size)
    ).all()


def create_customer(session: Session, workspace_id: str, body: CustomerCreate) -> Customer:
    """A new customer; 409 when the external id is taken in this workspace."""
    values = body.model_dump(exclude={"external_id"})
    inserted = insert_unless_exists(
        session,
        Customer.__table__,  # type: ignore[arg-type]
        _new_row(workspace_id, body.external_id, **values),
        ["workspace_id", "external_id"],
    )
    if not inserted:
        raise Conflict(f"A customer with externalId {body.external_id} already exists.")
    customer = find_by_external_id(session, workspace_id, body.external_id)
    assert customer is not None
    return customer


def update_customer(session: Session, customer: Customer, body: CustomerUpdate) -> Customer:
    """Apply the fields the body names (``null`` clears); 409 on a taken external id."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("external_id") is None:
        changes.pop("external_id", None)
    for name in ("external_id", "stripe_customer_id"):
        value = changes.get(name)
        if value is None or value == getattr(customer, name):
            continue
        taken = session.scalar(
            select(Customer.id).where(
                Customer.workspace_id == customer.workspace_id,
                getattr(Customer, name) == value,
            )
        )
        if taken:
            field = "externalId" if name == "external_id" else "stripeCustomerId"
            raise Conflict(f"{field}: {value} belongs to another customer.")
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.updated_at = utcnow()
    # A concurrent claim of the same value fails the flush: the API answers that with a 409.
    session.flush()
    return customer


def delete_customer(session: Session, customer: Customer) -> None:
    """Delete the customer; its events stay, counted where they were."""
    session.delete(customer)
    session.flush()


def claim_customer(
    session: Session, workspace_id: str, external_id: str, profile: Profile, click: Click | None
) -> Customer:
    """The customer with this external id, created if new, tied to ``click`` if it has none.

    Concurrent calls for one new customer create exactly one row (the unique external id is
    the claim); later calls fill in profile fields they bring.
    """
    return claim(session, workspace_id, external_id, profile, click)[0]


def claim(
    session: Session, workspace_id: str, external_id: str, profile: Profile, click: Click | None
) -> tuple[Customer, bool]:
    """``claim_customer``, also saying whether this call created the customer."""
    row = new_customer_row(workspace_id, external_id, profile, click)
    inserted = insert_unless_exists(
        session,
        Customer.__table__,  # type: ignore[arg-type]
        row,
        ["workspace_id", "external_id"],
    )
    if inserted:
        # The row just written is the whole customer: no need to read it back.
        customer = Customer(**{**_DEFAULTS, **row})
        make_transient_to_detached(customer)
        session.add(customer)
        return customer, True
    found = find_by_external_id(session, workspace_id, external_id)
    assert found is not None
    customer = found
    changed = False
    for name in ("name", "email", "avatar"):
        value = getattr(profile, name)
        if value is not None and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed = True
    if click is not None and customer.click_id is None:
        for name, value in _click_fields(click).items():
            setattr(customer, name, value)
        changed = True
    if changed:
        customer.updated_at = utcnow()
        session.flush()
    return customer, False


def new_customer_row(
    workspace_id: str, external_id: str, profile: Profile, click: Click | None
) -> dict[str, Any]:
    """The row a claim inserts for a new customer (tied to ``click`` when given)."""
    row = _new_row(
        workspace_id,
        external_id,
        name=profile.name,
        email=profile.email,
        avatar=profile.avatar,
    )
    if click is not None:
        row.update(_click_fields(click))
    return row


_DEFAULTS: dict[str, Any] = {
    "name": None,
    "email": None,
    "avatar": None,
    "country": None,
    "stripe_customer_id": None,
    "click_id": None,
    "link_id": None,
    "clicked_at": None,
    "first_sale_at": None,
    "subscription_canceled_at": None,
}


def out(
    session: Session,
    customer: Customer,
    ctx: LinkContext,
    currency: str,
    *,
    expanded: bool = True,
) -> CustomerOut:
    """The API shape of one customer."""
    return out_many(session, [customer], ctx, currency, expanded=expanded)[0]


def out_many(
    session: Session,
    customers: Sequence[Customer],
    ctx: LinkContext,
    currency: str,
    *,
    expanded: bool = True,
) -> list[CustomerOut]:
    """API shapes of customers, with their links fetched in one query when expanded."""
    links: dict[str, CustomerLinkOut] = {}
    link_ids = {c.link_id for c in customers if c.link_id}
    if expanded and link_ids:
        for link in session.scalars(select(Link).where(Link.id.in_(link_ids))):
            links[link.id] = CustomerLinkOut(
                id=link.id,
                domain=link.domain,
                key=link.key,
                short_link=ctx.short_link(link.domain, link.key),
                url=link.url,
            )
    return [
        CustomerOut(
            id=c.id,
            external_id=c.external_id,
            name=c.name,
            email=c.email,
            avatar=c.avatar,
            country=c.country,
            stripe_customer_id=c.stripe_customer_id,
            click_id=c.click_id,
            link_id=c.link_id,
            clicked_at=iso(c.clicked_at),
            sales=c.sales,
            sale_amount=c.sale_amount,
            currency=currency,
            first_sale_at=iso(c.first_sale_at),
            subscription_canceled_at=iso(c.subscription_canceled_at),
            created_at=iso(c.created_at) or "",
            link=links.get(c.link_id) if c.link_id else None,
        )
        for c in customers
    ]


def _new_row(workspace_id: str, external_id: str, **values: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id("cus"),
        "workspace_id": workspace_id,
        "external_id": external_id,
        "sales": 0,
        "sale_amount": 0,
        "created_at": now,
        "updated_at": now,
        **values,
    }


def _click_fields(click: Click) -> dict[str, Any]:
    return {
        "click_id": click.id,
        "link_id": click.link_id,
        "clicked_at": from_ms(click.timestamp),
        "country": click.country or None,
    }

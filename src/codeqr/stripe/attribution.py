"""Who bought (SPEC §5.2): the click a Checkout Session names, the customer its metadata or
its Stripe customer's metadata names, or a customer with the same Stripe id or email; and
tying a Stripe customer to ours, which gives them the sales Stripe reported before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from codeqr.commission import earning
from codeqr.conversion import repository
from codeqr.conversion.flows import DEFAULT_LEAD_EVENT
from codeqr.customer import service as customers
from codeqr.customer.models import Customer
from codeqr.customer.schemas import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX
from codeqr.events.store import Click
from codeqr.kit.clock import utcnow
from codeqr.kit.ids import is_base62
from codeqr.stripe import service as connection
from codeqr.stripe.context import Context

CLICK_REFERENCE_PREFIX = "codeqr_id_"
NEW_CUSTOMER_LEAD_EVENT = "New customer"


def profile(name: str | None, email: str | None) -> customers.Profile:
    """The buyer's name and email as a customer keeps them (``shape`` checked they are
    strings): a name cut to what is stored, an email too long to be one left out."""
    return customers.Profile(
        name[:NAME_MAX] if name else None,
        email if email and len(email) <= EMAIL_MAX else None,
        None,
    )


def codeqr_customer_id(metadata: dict[str, Any]) -> str | None:
    """``codeqrCustomerId`` when it can name a customer: a string no longer than an
    external id (Stripe metadata is the merchant's free text, and so is a fetched customer's)."""
    value = metadata.get("codeqrCustomerId")
    return value if isinstance(value, str) and 0 < len(value) <= EXTERNAL_ID_MAX else None


def codeqr_click_id(reference: Any) -> str | None:
    """The click id in ``client_reference_id=codeqr_id_<clickId>``, if well formed."""
    if not isinstance(reference, str) or not reference.startswith(CLICK_REFERENCE_PREFIX):
        return None
    candidate = reference[len(CLICK_REFERENCE_PREFIX) :]
    return candidate if candidate and len(candidate) <= 32 and is_base62(candidate) else None


def find_click(session: Session, ctx: Context, click_id: Any) -> Click | None:
    if not isinstance(click_id, str) or not is_base62(click_id) or len(click_id) > 32:
        return None
    click = ctx.click(session, click_id)
    return click if click is not None and click.workspace_id == ctx.workspace.id else None


def from_click_reference(
    session: Session,
    ctx: Context,
    obj: dict[str, Any],
    stripe_customer: str | None,
    email: str | None,
    profile: customers.Profile,
) -> Customer | None:
    """Rule 1: ``client_reference_id=codeqr_id_<clickId>`` names the click; the customer is
    found or created from it and a new one gets the lead "Sign up"."""
    click = find_click(session, ctx, codeqr_click_id(obj.get("client_reference_id")))
    if click is None:
        return None
    known = by_stripe_id(session, ctx.workspace.id, stripe_customer) if stripe_customer else None
    usable_email = email if email and len(email) <= EXTERNAL_ID_MAX else None
    external_id = known.external_id if known else (stripe_customer or usable_email or obj["id"])
    return claim_with_lead(session, ctx, external_id, profile, click, DEFAULT_LEAD_EVENT)


def from_metadata(
    session: Session,
    ctx: Context,
    metadata: dict[str, Any],
    stripe_customer: str,
    profile: customers.Profile,
) -> Customer | None:
    """Rule 3: a Stripe customer's ``codeqrCustomerId`` names ours; failing that, its
    ``codeqrClickId`` makes a new one (lead "New customer")."""
    codeqr_id = codeqr_customer_id(metadata)
    if codeqr_id:
        found = by_codeqr_id(session, ctx.workspace.id, codeqr_id)
        if found is not None:
            return found
    click = find_click(session, ctx, metadata.get("codeqrClickId"))
    if click is None:
        return None
    external_id = codeqr_id or stripe_customer
    return claim_with_lead(session, ctx, external_id, profile, click, NEW_CUSTOMER_LEAD_EVENT)


def claim_with_lead(
    session: Session,
    ctx: Context,
    external_id: str,
    profile: customers.Profile,
    click: Click,
    lead_event: str,
) -> Customer:
    customer, new = customers.claim(session, ctx.workspace.id, external_id, profile, click)
    if new:
        recorded = repository.record_lead(
            session,
            customer=customer,
            click=click,
            event_name=lead_event,
            quantity=1,
            metadata=None,
            at_ms=ctx.at_ms,
            test=ctx.test,
            counted=ctx.counted,
        )
        if recorded and ctx.counted:
            earning.on_lead(
                session,
                workspace_id=ctx.workspace.id,
                currency=ctx.workspace.currency,
                link_id=click.link_id,
                customer_id=customer.id,
                event_name=lead_event,
                quantity=1,
                at_ms=ctx.at_ms,
            )
    return customer


def by_codeqr_id(session: Session, workspace_id: str, value: str) -> Customer | None:
    """``codeqrCustomerId`` is the merchant's external id (or our own customer id)."""
    return customers.find_by_external_id(session, workspace_id, value) or session.scalar(
        select(Customer).where(Customer.workspace_id == workspace_id, Customer.id == value)
    )


def by_stripe_id(
    session: Session, workspace_id: str, stripe_customer: str | None
) -> Customer | None:
    if not stripe_customer:
        return None
    return session.scalar(
        select(Customer).where(
            Customer.workspace_id == workspace_id, Customer.stripe_customer_id == stripe_customer
        )
    )


def by_stripe_id_or_email(
    session: Session, workspace_id: str, stripe_customer: str | None, email: str | None
) -> Customer | None:
    """Rule 4: a customer of this workspace with the same Stripe id, else the same email."""
    matches = []
    if stripe_customer:
        matches.append(Customer.stripe_customer_id == stripe_customer)
    if email:
        matches.append(Customer.email == email)
    if not matches:
        return None
    found = session.scalars(
        select(Customer)
        .where(Customer.workspace_id == workspace_id, or_(*matches))
        .order_by(Customer.created_at)
    ).all()
    by_id = [c for c in found if stripe_customer and c.stripe_customer_id == stripe_customer]
    ranked = by_id or list(found)
    return ranked[0] if ranked else None


def bind_stripe_customer(
    session: Session,
    ctx: Context,
    customer: Customer,
    stripe_customer: str,
    profile: customers.Profile,
) -> None:
    """Keep the Stripe customer id (and a missing name or email) on our customer, then give
    them the sales Stripe reported for that id before we knew who it was."""
    changed = False
    if customer.stripe_customer_id is None:
        holder = by_stripe_id(session, ctx.workspace.id, stripe_customer)
        if holder is None:
            customer.stripe_customer_id = stripe_customer
            changed = True
    for name in ("name", "email"):
        value = getattr(profile, name)
        if value and not getattr(customer, name):
            setattr(customer, name, value)
            changed = True
    if changed:
        customer.updated_at = utcnow()
        session.flush()
    if customer.stripe_customer_id == stripe_customer:
        adopt(session, ctx, customer, stripe_customer_id=stripe_customer)


def adopt(
    session: Session,
    ctx: Context,
    customer: Customer,
    *,
    stripe_customer_id: str | None = None,
    invoice_id: str | None = None,
) -> None:
    """Give ``customer`` the unattributed sales of this Stripe customer (or invoice), and
    count them as if they had been theirs from the start."""
    click = ctx.click(session, customer.click_id) if customer.click_id else None
    adopted = repository.adopt_sales(
        session,
        ctx.workspace.id,
        customer,
        click,
        stripe_customer_id=stripe_customer_id,
        invoice_id=invoice_id,
    )
    for sale in adopted:
        if not sale.test or connection.counts_test_data(ctx.integration):
            repository.count_sale(
                session,
                link_id=customer.link_id,
                customer_id=customer.id,
                reporting_amount=sale.net_reporting_amount,
                at_ms=sale.timestamp,
            )
            # A sale recorded before its buyer was known earns when it is attributed.
            earning.on_sale(
                session,
                workspace_id=ctx.workspace.id,
                sale_id=sale.id,
                link_id=customer.link_id,
                customer_id=customer.id,
                reporting_amount=sale.net_reporting_amount,
                currency=ctx.workspace.currency,
                invoice_id=None,
                at_ms=sale.timestamp,
            )

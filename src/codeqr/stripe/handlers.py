"""What each handled Stripe event does (SPEC §5.2), inside the transaction that stamps it
handled. Every write is claimed by a unique key (lead per customer and name, sale per
invoice, refund per cumulative step), so a handler run twice changes nothing the second time.

Reads Stripe's API only in ``prefetch``, before the transaction takes any lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from codeqr.commission import earning
from codeqr.conversion import repository
from codeqr.conversion.flows import DEFAULT_SALE_EVENT, convert_sale, reporting_columns
from codeqr.customer import service as customers
from codeqr.customer.models import Customer
from codeqr.kit.errors import Unprocessable
from codeqr.kit.ids import click_id as event_id
from codeqr.money.bounds import AMOUNT_MAX
from codeqr.money.currency import normalize_currency
from codeqr.stripe import attribution, inbox
from codeqr.stripe import service as connection
from codeqr.stripe.context import WAITING_DAYS, Context, Waiting, ref_id

SUBSCRIPTION_SALE_EVENT = "Subscription creation"
RENEWAL_SALE_EVENT = "Invoice paid"
PAID_STATUSES = ("paid", "no_payment_required")


# --- reading Stripe before the transaction locks anything ---------------------------------


def prefetch(session: Session, ctx: Context) -> dict[str, Any]:
    """The objects the handler will need that the event only names (may raise
    ``StripeUnavailable``). Only asked for when the event and the database cannot answer."""
    kind, obj = ctx.event["type"], ctx.obj
    found: dict[str, Any] = {}
    if not ctx.api.available:
        return found
    if kind.startswith("checkout.session."):
        metadata = obj.get("metadata") or {}
        stripe_customer = ref_id(obj.get("customer"))
        if (
            stripe_customer
            and not attribution.codeqr_click_id(obj.get("client_reference_id"))
            and not metadata.get("codeqrCustomerId")
            and not isinstance(obj.get("customer"), dict)
        ):
            found["customer"] = ctx.api.customer(stripe_customer)
    elif kind == "invoice.paid":
        stripe_customer = ref_id(obj.get("customer"))
        if (
            stripe_customer
            and attribution.by_stripe_id(session, ctx.workspace.id, stripe_customer) is None
            and not _subscription_metadata(obj).get("codeqrCustomerId")
        ):
            found["customer"] = ctx.api.customer(stripe_customer)
    elif kind == "charge.refunded":
        payment_intent = ref_id(obj.get("payment_intent"))
        if payment_intent and not repository.sale_paid_by(
            session, ctx.workspace.id, payment_intent=payment_intent, invoice_id=None
        ):
            found["invoice"] = ctx.api.invoice_paid_by(payment_intent)
    return found


# --- the handlers -------------------------------------------------------------------------


def handle(session: Session, ctx: Context) -> str:
    """Apply the event's effects; a short sentence saying what happened."""
    return HANDLERS[ctx.event["type"]](session, ctx)


def on_customer(session: Session, ctx: Context) -> str:
    """``customer.created`` / ``customer.updated``: tie the Stripe customer to ours."""
    obj = ctx.obj
    metadata = obj.get("metadata") or {}
    if not metadata.get("codeqrCustomerId") and not metadata.get("codeqrClickId"):
        return "No codeqrCustomerId or codeqrClickId in the customer's metadata: nothing to do."
    profile = attribution.profile(obj.get("name"), obj.get("email"))
    customer = attribution.from_metadata(session, ctx, metadata, obj["id"], profile)
    if customer is None:
        return (
            f"No customer {metadata.get('codeqrCustomerId')!r} in this workspace and no known "
            "codeqrClickId: nothing recorded."
        )
    attribution.bind_stripe_customer(session, ctx, customer, obj["id"], profile)
    return f"Stripe customer {obj['id']} tied to customer {customer.id}."


def on_checkout(session: Session, ctx: Context) -> str:
    """``checkout.session.completed`` / ``…async_payment_succeeded``: a paid session is a
    sale of whoever the session, its metadata or its Stripe customer names."""
    obj = ctx.obj
    if obj.get("mode") == "setup":
        return "Setup-mode session: no payment to record."
    status = obj.get("payment_status")
    if status not in PAID_STATUSES:
        return (
            f"Session not paid yet (payment_status={status!r}): its sale is recorded on "
            "checkout.session.async_payment_succeeded."
        )
    amount, currency = _session_amount(obj)
    if amount <= 0:
        return "Zero amount: nothing to record."
    stripe_customer = ref_id(obj.get("customer"))
    details = obj.get("customer_details") or {}
    email = details.get("email") or obj.get("customer_email")
    profile = attribution.profile(details.get("name"), email)

    customer = attribution.from_click_reference(session, ctx, obj, stripe_customer, email, profile)
    if customer is None:
        codeqr_id = (obj.get("metadata") or {}).get("codeqrCustomerId")
        if codeqr_id:
            customer = attribution.by_codeqr_id(session, ctx.workspace.id, str(codeqr_id))
    if customer is None:
        customer = _named_by_stripe_customer(session, ctx, profile)
    if customer is None:
        customer = attribution.by_stripe_id_or_email(
            session, ctx.workspace.id, stripe_customer, email
        )
    if customer is not None and stripe_customer:
        attribution.bind_stripe_customer(session, ctx, customer, stripe_customer, profile)

    subscription = obj.get("mode") == "subscription"
    return _record_sale(
        session,
        ctx,
        customer=customer,
        amount=amount,
        currency=currency,
        event_name=SUBSCRIPTION_SALE_EVENT if subscription else DEFAULT_SALE_EVENT,
        # The first invoice of a subscription is the same money as its session: both
        # claim the invoice id, so whichever arrives second records nothing.
        invoice_id=ref_id(obj.get("invoice")) or obj["id"],
        payment_intent=ref_id(obj.get("payment_intent")),
        stripe_customer=stripe_customer,
        metadata={"stripeCheckoutSessionId": obj["id"]},
    )


def on_invoice_paid(session: Session, ctx: Context) -> str:
    """``invoice.paid``: a subscription's payments, the first one or a renewal."""
    obj = ctx.obj
    total = int(obj.get("total") or 0)
    tax = total - int(obj.get("total_excluding_tax") or total)
    amount = int(obj.get("amount_paid") or 0) - max(tax, 0)
    if amount <= 0:
        return "Zero amount: nothing to record."
    stripe_customer = ref_id(obj.get("customer"))
    profile = attribution.profile(obj.get("customer_name"), obj.get("customer_email"))
    customer = (
        attribution.by_stripe_id(session, ctx.workspace.id, stripe_customer)
        if stripe_customer
        else None
    )
    if customer is None:
        codeqr_id = _subscription_metadata(obj).get("codeqrCustomerId")
        if codeqr_id:
            customer = attribution.by_codeqr_id(session, ctx.workspace.id, str(codeqr_id))
    if customer is None:
        customer = _named_by_stripe_customer(session, ctx, profile)
    if customer is not None and stripe_customer:
        attribution.bind_stripe_customer(session, ctx, customer, stripe_customer, profile)
    first = obj.get("billing_reason") == "subscription_create"
    return _record_sale(
        session,
        ctx,
        customer=customer,
        amount=amount,
        currency=obj["currency"],
        event_name=SUBSCRIPTION_SALE_EVENT if first else RENEWAL_SALE_EVENT,
        invoice_id=obj["id"],
        payment_intent=None,
        stripe_customer=stripe_customer,
        metadata={"stripeInvoiceId": obj["id"]},
    )


def on_charge_refunded(session: Session, ctx: Context) -> str:
    """``charge.refunded``: record the newly refunded part of the charge against its sale
    (``amount_refunded`` is cumulative, and refunds may arrive in any order)."""
    obj = ctx.obj
    sale = repository.sale_paid_by(
        session,
        ctx.workspace.id,
        payment_intent=ref_id(obj.get("payment_intent")),
        invoice_id=ctx.prefetched.get("invoice"),
    )
    if sale is None:
        # Stripe may deliver the refund before the payment: it waits (unhandled) and is
        # applied when the sale of its payment intent is recorded (see _settle_refunds).
        raise Waiting(
            f"No sale of this workspace was paid by charge {obj['id']} yet: the refund is "
            "kept and applied when that sale is recorded."
        )
    repository.lock_sale(session, sale.id)
    charged = int(obj.get("amount") or 0)
    # Stripe never refunds more than the charge; an event that says so is capped there (and
    # at the largest amount an event may carry), so no total it feeds can overflow.
    total = min(int(obj.get("amount_refunded") or 0), charged or AMOUNT_MAX, AMOUNT_MAX)
    already = repository.refunded_total(session, ctx.workspace.id, obj["id"])
    if total <= already:
        return f"Refunds of charge {obj['id']} up to {already} are already recorded."
    step = total - already
    charge_currency = normalize_currency(obj["currency"])
    if charge_currency == sale.currency or not charged:
        amount = step
    else:  # Adaptive Pricing: the charge is in the buyer's currency, the sale in ours
        amount = round(sale.amount * step / charged)
    # Never more than what is left of the sale, whatever the event says.
    refunded, refunded_reporting = repository.refunded_of_sale(session, sale.id)
    left = sale.amount - refunded
    if left <= 0:
        return f"Sale {sale.id} is already refunded in full: charge {obj['id']} adds nothing."
    amount = min(amount, left)
    # At the sale's own rate, so a full refund takes back exactly what the sale added.
    reporting = None
    if sale.reporting_amount is not None and sale.amount:
        if amount == left:  # the last of it: exactly what is left, whatever the rounding
            reporting = sale.reporting_amount - refunded_reporting
        else:
            reporting = round(sale.reporting_amount * amount / sale.amount)
    refund_id = event_id()
    repository.record_refund(
        session,
        {
            "id": refund_id,
            "timestamp": ctx.at_ms,
            "workspace_id": ctx.workspace.id,
            "sale_id": sale.id,
            "link_id": sale.link_id,
            "click_id": sale.click_id,
            "customer_id": sale.customer_id,
            "charge_id": obj["id"],
            "amount": amount,
            "currency": sale.currency,
            "reporting_amount": reporting,
            "reporting_currency": sale.reporting_currency,
            "refunded_total": total,
            "test": sale.test,
            **sale.where_from,
        },
    )
    if reporting and (not sale.test or connection.counts_test_data(ctx.integration)):
        repository.uncount_refund(
            session, link_id=sale.link_id, customer_id=sale.customer_id, reporting_amount=reporting
        )
        assert sale.reporting_amount is not None  # a reporting amount came from it
        net = sale.reporting_amount - refunded_reporting - reporting
        earning.on_refund(
            session,
            workspace_id=ctx.workspace.id,
            sale_id=sale.id,
            refund_id=refund_id,
            net_amount=net,
        )
    return f"Refund of {amount} {sale.currency} recorded against sale {sale.id}."


def on_deauthorized(session: Session, ctx: Context) -> str:
    """``account.application.deauthorized``: the account left the app; unbind it."""
    if connection.disconnect(session, ctx.workspace):
        return "Stripe account unbound from the workspace."
    return "The workspace had no Stripe account bound."


def _named_by_stripe_customer(
    session: Session, ctx: Context, profile: customers.Profile
) -> Customer | None:
    """Rule 3: the customer the Stripe customer's own metadata names (read in prefetch)."""
    fetched = ctx.prefetched.get("customer")
    if not fetched:
        return None
    metadata = fetched.get("metadata") or {}
    return attribution.from_metadata(session, ctx, metadata, fetched["id"], profile)


def _settle_refunds(session: Session, ctx: Context, payment_intent: str) -> None:
    """Apply the refunds that arrived before this payment's sale, oldest first."""
    since = ctx.at_ms // 1000 - WAITING_DAYS * 86_400
    for inbox_id, event in inbox.waiting(session, ctx.workspace.id, "charge.refunded", since):
        if ref_id(event["data"]["object"].get("payment_intent")) != payment_intent:
            continue
        waited = Context(ctx.services, ctx.workspace, ctx.integration, ctx.api, event)
        inbox.settle(session, inbox_id, on_charge_refunded(session, waited))


HANDLERS: dict[str, Callable[[Session, Context], str]] = {
    "customer.created": on_customer,
    "customer.updated": on_customer,
    "checkout.session.completed": on_checkout,
    "checkout.session.async_payment_succeeded": on_checkout,
    "invoice.paid": on_invoice_paid,
    "charge.refunded": on_charge_refunded,
    "account.application.deauthorized": on_deauthorized,
}


# --- amounts ------------------------------------------------------------------------------


def _session_amount(obj: dict[str, Any]) -> tuple[int, str]:
    """The session's amount without tax, in the merchant's currency.

    A session from before Adaptive Pricing's current shape carries ``currency_conversion``:
    its own totals are the buyer's, the conversion's are the merchant's (tax removed in the
    same proportion). Newer sessions' ``amount_total``/``currency`` are already the merchant's.
    """
    total = int(obj.get("amount_total") or 0)
    tax = int((obj.get("total_details") or {}).get("amount_tax") or 0)
    conversion = obj.get("currency_conversion")
    if isinstance(conversion, dict) and conversion.get("source_currency"):
        source_total = int(conversion.get("amount_total") or 0)
        source_tax = round(source_total * tax / total) if total else 0
        return source_total - source_tax, str(conversion["source_currency"])
    return total - tax, str(obj["currency"])


def _subscription_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    metadata: dict[str, Any] = details.get("metadata") or {}
    return metadata


def _record_sale(
    session: Session,
    ctx: Context,
    *,
    customer: Customer | None,
    amount: int,
    currency: str,
    event_name: str,
    invoice_id: str,
    payment_intent: str | None,
    stripe_customer: str | None,
    metadata: dict[str, Any],
) -> str:
    """Store the sale once per invoice id (unattributed when nobody is known) and count it."""
    workspace = ctx.workspace
    currency = normalize_currency(currency)
    at_ms = ctx.at_ms
    if amount > AMOUNT_MAX:
        return f"Amount {amount} {currency} is more than one sale may count: not recorded."
    try:
        conversion = convert_sale(ctx.services.rates, workspace.currency, amount, currency, at_ms)
    except Unprocessable as exc:
        return f"Not recorded: {exc.message}."
    click = ctx.click(session, customer.click_id) if customer and customer.click_id else None
    row = {
        "id": event_id(),  # insertion order; the timestamp is when Stripe says it happened
        "timestamp": at_ms,
        "workspace_id": workspace.id,
        "link_id": customer.link_id if customer else None,
        "click_id": customer.click_id if customer else None,
        "customer_id": customer.id if customer else None,
        "event_name": event_name,
        "amount": amount,
        "currency": currency,
        **reporting_columns(conversion, workspace.currency),
        "payment_processor": "stripe",
        "invoice_id": invoice_id,
        "metadata": metadata,
        "stripe_customer_id": stripe_customer,
        "payment_intent_id": payment_intent,
        "test": ctx.test,
        **repository.snapshot(click),
    }
    if not repository.record_sale(session, row):
        if customer is not None:
            attribution.adopt(session, ctx, customer, invoice_id=invoice_id)
        return f"Invoice {invoice_id} is already recorded: not counted again."
    if customer is not None and ctx.counted:
        repository.count_sale(
            session,
            link_id=customer.link_id,
            customer_id=customer.id,
            reporting_amount=conversion.amount if conversion else None,
            at_ms=at_ms,
        )
        repository.sale_counted(session, row)
        earning.on_sale(
            session,
            workspace_id=workspace.id,
            sale_id=row["id"],
            link_id=customer.link_id,
            customer_id=customer.id,
            reporting_amount=conversion.amount if conversion else None,
            currency=workspace.currency,
            invoice_id=invoice_id,
            at_ms=at_ms,
        )
    if payment_intent:
        _settle_refunds(session, ctx, payment_intent)
    who = f"customer {customer.id}" if customer else "nobody known (unattributed revenue)"
    return f"Sale {event_name!r} of {amount} {currency} recorded for {who}."

"""Manual lead and sale commissions (``POST /commissions`` with ``type: lead`` or ``sale``).

As in Dub, a manual commission is an event recorded on the partner's link for a customer,
and the commission that event earns: the same rewards, durations and claims as a lead or
sale tracked through the API (``commission.earning``), in the request's one transaction.

- **lead**: a click on the partner's link is recorded for the occasion (a lead needs one;
  it counts in the link's clicks, as Dub's does), the customer is made or found and tied
  to it when it has no click yet, and the lead is recorded. A customer who already has a
  lead of that name gets 409: one lead per customer and event name, as ``track.lead``.
- **sale**: the sale is recorded on the partner's link for the customer (whose first
  click and lead are recorded the same way when it has none), once per ``invoiceId``: a
  repeated invoice id gets 409.

Only an active partner earns (400 otherwise), and a program without the reward answers 400
before anything is written. ``stripeInvoicesToImport`` and ``discountCode`` are refused
(422): CodeQR has neither Stripe invoice imports nor discount codes.
"""

from __future__ import annotations

from datetime import UTC
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from codeqr.commission import earning
from codeqr.commission.models import Commission, CommissionType
from codeqr.commission.schemas import CustomCommissionCreate
from codeqr.conversion import flows, repository
from codeqr.conversion.schemas import PaymentProcessor
from codeqr.customer import service as customers
from codeqr.customer.models import Customer
from codeqr.events import outbox
from codeqr.events.models import click_events
from codeqr.events.outbox import Changed
from codeqr.events.store import Click
from codeqr.kit.clock import to_ms
from codeqr.kit.errors import BadRequest, Conflict, NotFound, Unprocessable
from codeqr.kit.ids import click_id as new_click_id
from codeqr.link.models import Link
from codeqr.money.currency import normalize_currency
from codeqr.partner import service as partners
from codeqr.partner.models import Enrollment, EnrollmentStatus
from codeqr.partner.schemas import Selector
from codeqr.program import service as programs
from codeqr.program.models import RewardEvent
from codeqr.services import Services
from codeqr.workspace.models import Workspace

_links = cast(Table, Link.__table__)


def create(
    session: Session, services: Services, workspace: Workspace, body: CustomCommissionCreate
) -> Commission | None:
    """Record the lead or sale and earn its commission; the commission, or ``None`` when
    the event was recorded and earned nothing (a one-time or recurring sale reward already
    spent for this customer, a sale without an exchange rate)."""
    if body.stripe_invoices_to_import or body.import_stripe_invoices:
        raise Unprocessable(
            "stripeInvoicesToImport: importing Stripe invoices is not supported; send the "
            "sale (sale.amount, sale.invoiceId) instead"
        )
    if body.discount_code:
        raise Unprocessable("discountCode: discount codes are not supported; send linkId")
    kind = RewardEvent(body.type)
    program = programs.default_program(session, workspace)
    enrollment, _ = partners.find(session, workspace, Selector(partnerId=body.partner_id))
    if enrollment.status != EnrollmentStatus.active:
        raise BadRequest(
            f"Partner {enrollment.partner_id} is {enrollment.status}: it earns nothing."
        )
    if programs.reward_for(session, enrollment.group_id, kind) is None:
        raise BadRequest(f"The program has no {kind.value} reward for this partner's group.")
    link = _partner_link(session, workspace, enrollment, body.link_id)
    # Every check before the first write.
    if kind is RewardEvent.lead:
        name = (body.lead.event_name if body.lead else None) or body.lead_event_name
        at_ms = _date_ms(body.date or body.lead_event_date)
        customer = _customer(session, workspace, body)
        click = _click_of(session, services, customer, link, at_ms, reuse_any=False)
        lead_name = name or flows.DEFAULT_LEAD_EVENT
        if not repository.record_lead(
            session,
            customer=customer,
            click=click,
            event_name=lead_name,
            quantity=1,
            metadata=body.lead.metadata if body.lead else None,
            at_ms=at_ms,
        ):
            raise Conflict(
                f"Customer {customer.external_id} already has a lead named {lead_name!r}."
            )
        earning.on_lead(
            session,
            workspace_id=workspace.id,
            currency=workspace.currency,
            link_id=link.id,
            customer_id=customer.id,
            event_name=lead_name,
            quantity=1,
            at_ms=at_ms,
        )
        return _made(
            session, program.id, CommissionType.lead, _lead_id(session, customer.id, lead_name)
        )
    return _sale(session, services, workspace, body, link, program.id)


def _sale(
    session: Session,
    services: Services,
    workspace: Workspace,
    body: CustomCommissionCreate,
    link: Link,
    program_id: str,
) -> Commission | None:
    sale = body.sale
    amount = _whole(sale.amount if sale and sale.amount is not None else body.sale_amount)
    if amount is None or amount <= 0:
        raise Unprocessable("sale.amount: required, a positive number of minor units")
    currency = normalize_currency((sale.currency if sale else None) or "usd")
    invoice_id = (sale.invoice_id if sale else None) or body.invoice_id
    at_ms = _date_ms(body.date or body.sale_event_date)
    conversion = flows.convert_sale(services.rates, workspace.currency, amount, currency, at_ms)
    if invoice_id and repository.sale_by_invoice(session, workspace.id, invoice_id):
        raise Conflict(f"invoiceId: a sale with invoice {invoice_id[:100]} is already recorded.")
    customer = _customer(session, workspace, body)
    first = customer.click_id is None
    click = _click_of(session, services, customer, link, at_ms, reuse_any=True)
    if first:  # as track.sale's direct sale tracking: its sign-up, recorded (not earned)
        repository.record_lead(
            session,
            customer=customer,
            click=click,
            event_name=flows.DEFAULT_LEAD_EVENT,
            quantity=1,
            metadata=None,
            at_ms=at_ms,
        )
    reporting_amount = conversion.amount if conversion else None
    processor = (sale.payment_processor if sale else None) or PaymentProcessor.custom
    row = {
        "id": new_click_id(at_ms),
        "timestamp": at_ms,
        "workspace_id": workspace.id,
        "link_id": link.id,
        "click_id": click.id,
        "customer_id": customer.id,
        "event_name": (sale.event_name if sale else None) or flows.DEFAULT_SALE_EVENT,
        "amount": amount,
        "currency": currency,
        **flows.reporting_columns(conversion, workspace.currency),
        "payment_processor": processor.value,
        "invoice_id": invoice_id,
        "metadata": sale.metadata if sale else None,
        **repository.snapshot(click),
    }
    if not repository.record_sale(session, row):
        raise Conflict(
            f"invoiceId: a sale with invoice {str(invoice_id)[:100]} is already recorded."
        )
    repository.count_sale(
        session,
        link_id=link.id,
        customer_id=customer.id,
        reporting_amount=reporting_amount,
        at_ms=at_ms,
    )
    repository.sale_counted(session, row)
    earning.on_sale(
        session,
        workspace_id=workspace.id,
        sale_id=row["id"],
        link_id=link.id,
        customer_id=customer.id,
        reporting_amount=reporting_amount,
        currency=workspace.currency,
        invoice_id=invoice_id,
        at_ms=at_ms,
    )
    return _made(session, program_id, CommissionType.sale, row["id"])


def _partner_link(
    session: Session, workspace: Workspace, enrollment: Enrollment, link_id: str | None
) -> Link:
    """The partner's link named, else its link with the most revenue (then the oldest)."""
    stmt = select(Link).where(
        Link.workspace_id == workspace.id, Link.partner_id == enrollment.partner_id
    )
    if link_id:
        link = session.scalar(stmt.where(Link.id == link_id))
        if link is None:
            raise NotFound(
                f"Link {link_id[:100]} is not a link of partner {enrollment.partner_id}."
            )
        return link
    link = session.scalar(stmt.order_by(Link.sale_amount.desc(), Link.created_at, Link.id).limit(1))
    if link is None:
        raise BadRequest(f"Partner {enrollment.partner_id} has no link to record the event on.")
    return link


def _customer(session: Session, workspace: Workspace, body: CustomCommissionCreate) -> Customer:
    """The customer named by ``customerId``, or made or found from ``customer``."""
    if body.customer_id:
        found = session.scalar(
            select(Customer).where(
                Customer.workspace_id == workspace.id, Customer.id == body.customer_id
            )
        )
        if found is None:
            raise NotFound(f"Customer {body.customer_id[:100]} not found.")
        return found
    if body.customer is None:
        raise Unprocessable("customerId: provide customerId or customer.")
    given = body.customer
    profile = customers.Profile(given.name, given.email, given.avatar)
    return customers.claim_customer(session, workspace.id, given.external_id, profile, None)


def _click_of(
    session: Session,
    services: Services,
    customer: Customer,
    link: Link,
    at_ms: int,
    *,
    reuse_any: bool,
) -> Click:
    """The customer's click (on this link, or on any with ``reuse_any``), else a click on
    this link recorded now, which the customer is tied to when it has none."""
    if customer.click_id is not None and (reuse_any or customer.link_id == link.id):
        known = services.events.get_click(customer.click_id, session)
        if known is not None:
            return known
    values: list[object] = [""] * len(Click._fields)
    values[:8] = [
        new_click_id(at_ms),
        at_ms,
        customer.workspace_id,
        link.id,
        link.domain,
        link.key,
        link.url,
        "link",
    ]
    values[-1] = None  # ip
    click = Click._make(values)
    session.execute(insert(click_events).values(dict(click._asdict())))
    session.execute(update(_links).where(_links.c.id == link.id).values(clicks=_links.c.clicks + 1))
    outbox.note(session, Changed.clicks, (click.id,), first_ms=at_ms)
    if customer.click_id is None:
        customers.claim_customer(
            session, customer.workspace_id, customer.external_id, customers.Profile(), click
        )
    return click


def _lead_id(session: Session, customer_id: str, event_name: str) -> str:
    from codeqr.events.models import lead_events

    found = session.scalar(
        select(lead_events.c.id).where(
            lead_events.c.customer_id == customer_id, lead_events.c.event_name == event_name
        )
    )
    assert found is not None
    return str(found)


def _made(session: Session, program_id: str, kind: CommissionType, event: str) -> Commission | None:
    return session.scalar(
        select(Commission).where(
            Commission.program_id == program_id,
            Commission.type == kind.value,
            Commission.event_id == event,
        )
    )


def _whole(value: float | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and (not value.is_integer() or abs(value) > 2**53):
        raise Unprocessable("sale.amount: a whole number of minor units")
    return int(value)


def _date_ms(value: str | None) -> int:
    """The event's time: ``date`` (ISO 8601), else now."""
    from codeqr.commission.service import _date

    at = _date(value)
    return to_ms(at if at.tzinfo else at.replace(tzinfo=UTC))

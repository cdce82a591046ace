"""Use cases that cross domains: a click becomes a lead (customers, links, events), a lead
becomes a sale (customers, links, events, money). The caller owns the transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from codeqr.commission import earning
from codeqr.conversion import repository
from codeqr.conversion.schemas import (
    ClickRef,
    LeadCustomerOut,
    LeadLinkOut,
    LeadMode,
    PaymentProcessor,
    SaleCustomerOut,
    SaleOut,
    TrackLeadIn,
    TrackLeadOut,
    TrackSaleIn,
    TrackSaleOut,
)
from codeqr.customer import service as customers
from codeqr.customer.models import Customer
from codeqr.events.sql import SqlEventsStore
from codeqr.events.store import Click
from codeqr.kit.clock import now_ms
from codeqr.kit.errors import BadRequest, Forbidden, NotFound, Unprocessable
from codeqr.kit.ids import click_id as event_id
from codeqr.kit.ids import is_base62
from codeqr.link.models import Link
from codeqr.money.bounds import REPORTING_AMOUNT_MAX
from codeqr.money.currency import minor_units, normalize_currency
from codeqr.money.rates import Conversion, Rates
from codeqr.services import Services
from codeqr.stripe import service as stripe_connection
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan, set_reporting_currency

DEFAULT_LEAD_EVENT = "Sign up"
DEFAULT_SALE_EVENT = "Purchase"
CONVERSIONS = "Conversion tracking"


def find_click(session: Session, services: Services, workspace_id: str, click_id: str) -> Click:
    """The workspace's click with this id; 404 naming the id otherwise (never another's)."""
    click = None
    if is_base62(click_id) and len(click_id) <= 32:
        click = services.events.get_click(click_id, session)
    if click is None or click.workspace_id != workspace_id:
        raise NotFound(f"Click not found: clickId {click_id!r} is not a click of this workspace.")
    return click


def _all_clicks_in_sql(services: Services) -> bool:
    """Whether every click is in the relational database (not so with ClickHouse, which
    keeps the clicks older than the dedupe window): then one SQL read finds any click."""
    events = services.events
    return isinstance(events, SqlEventsStore) and events.archive is None


def click_and_link(
    session: Session, services: Services, workspace_id: str, click_id: str
) -> tuple[Click, repository.LinkRef | None]:
    """``find_click`` and the click's link as it is now, in one read when both are here."""
    if not _all_clicks_in_sql(services):
        click = find_click(session, services, workspace_id, click_id)
        link = session.get(Link, click.link_id)
        if link is None:
            return click, None
        ref = repository.LinkRef(
            link.id,
            link.domain,
            link.key,
            link.url,
            link.tenant_id,
            link.external_id,
            link.program_id,
            link.partner_id,
        )
        return click, ref
    found = None
    if is_base62(click_id) and len(click_id) <= 32:
        found = repository.click_and_link(session, click_id)
    if found is None or found[0].workspace_id != workspace_id:
        raise NotFound(f"Click not found: clickId {click_id!r} is not a click of this workspace.")
    return found


def track_lead(
    session: Session,
    services: Services,
    workspace: Workspace,
    body: TrackLeadIn,
    *,
    plan_checked: bool = False,
    publishable: bool = False,
) -> TrackLeadOut:
    """Tie the customer to the click and record the lead once per (customer, event name).

    ``plan_checked``: the caller already knows the plan includes conversion tracking.
    ``publishable``: the call came with a publishable key, which only records (SPEC §9): a
    known customer's profile is left as it is and the answer carries no stored details.
    """
    if not plan_checked:
        require_plan(session, workspace, CONVERSIONS)
    external_id = body.customer_external_id
    click_id = (body.click_id or "").strip()
    if not click_id:
        known = customers.find_by_external_id(session, workspace.id, external_id)
        if known is None or known.click_id is None:
            raise BadRequest(
                f"clickId: required, because customer {external_id!r} has no click yet "
                "(send the cq_id of their visit)."
            )
        click_id = known.click_id
    click, link = click_and_link(session, services, workspace.id, click_id)  # reads first
    profile = customers.Profile(body.customer_name, body.customer_email, body.customer_avatar)
    # Writes hold the write lock from here.
    customer = _claim(session, workspace.id, external_id, profile, click, publishable)
    if body.mode is not LeadMode.deferred:
        at_ms = now_ms()
        quantity = body.event_quantity or 1
        if repository.record_lead(
            session,
            customer=customer,
            click=click,
            event_name=body.event_name,
            quantity=quantity,
            metadata=body.metadata,
            at_ms=at_ms,
        ):
            _earn_lead(session, workspace, click, customer, body.event_name, quantity, at_ms)
    shown = _ids_only(customer) if publishable else customer
    return TrackLeadOut(
        click=ClickRef(id=click.id),
        link=_lead_link(services, link),
        customer=LeadCustomerOut(
            name=shown.name,
            email=shown.email,
            avatar=shown.avatar,
            external_id=shown.external_id,
        ),
    )


def track_sale(
    session: Session,
    services: Services,
    workspace: Workspace,
    body: TrackSaleIn,
    *,
    plan_checked: bool = False,
    publishable: bool = False,
) -> TrackSaleOut:
    """Record a sale for the customer's link, once per (workspace, invoice id).

    ``publishable``: the call came with a publishable key (SPEC §9): refused unless the
    workspace allows client sales, up to its maximum; a known customer's profile is left
    as it is, and the answer carries ids and what the caller sent, never stored details.
    """
    if publishable and not workspace.client_sales_enabled:
        raise Forbidden(
            "Client sales are turned off for this workspace: record sales from your server "
            "with a secret key, or turn on client sales (clientSalesEnabled) in the "
            "workspace settings."
        )
    if not plan_checked:
        require_plan(session, workspace, CONVERSIONS)
    currency = normalize_currency(body.currency)
    event_name = body.event_name or DEFAULT_SALE_EVENT
    processor = body.payment_processor or PaymentProcessor.custom
    at_ms = now_ms()
    # Before anything is written: an amount too large to count is refused whole.
    conversion = convert_sale(services.rates, workspace.currency, body.amount, currency, at_ms)
    if publishable:
        _check_client_sale(workspace, conversion)

    if body.invoice_id is not None:
        earlier = repository.sale_by_invoice(session, workspace.id, body.invoice_id)
        if earlier is not None:
            if publishable:  # whose sale it was is not the page's to learn
                return TrackSaleOut(event_name=earlier.event_name, customer=None, sale=None)
            return _answer_earlier(session, earlier)

    profile = customers.Profile(body.customer_name, body.customer_email, body.customer_avatar)
    customer: Customer | repository.CustomerRef | None
    customer = repository.customer_by_external_id(session, workspace.id, body.customer_external_id)
    click: Click | None = None
    if customer is None:
        if not body.click_id:
            # Dub's answer for a customer it never saw: acknowledged, nothing recorded.
            return TrackSaleOut(event_name=event_name, customer=None, sale=None)
        # Direct sale tracking: the click is known, the sign-up was never tracked.
        click = find_click(session, services, workspace.id, body.click_id.strip())
        customer = _claim(
            session, workspace.id, body.customer_external_id, profile, click, publishable
        )
        lead_name = body.lead_event_name or DEFAULT_LEAD_EVENT
        if repository.record_lead(
            session,
            customer=customer,
            click=click,
            event_name=lead_name,
            quantity=1,
            metadata=None,
            at_ms=at_ms,
        ):
            _earn_lead(session, workspace, click, customer, lead_name, 1, at_ms)
    else:
        if not publishable and any((profile.name, profile.email, profile.avatar)):
            customer = customers.claim_customer(
                session, workspace.id, body.customer_external_id, profile, None
            )
        if customer.click_id is not None:
            if _all_clicks_in_sql(services):
                click = repository.click(session, customer.click_id)
            else:
                click = services.events.get_click(customer.click_id, session)

    reporting_amount = conversion.amount if conversion else None
    row = {
        "id": event_id(at_ms),
        "timestamp": at_ms,
        "workspace_id": workspace.id,
        "link_id": customer.link_id,
        "click_id": customer.click_id,
        "customer_id": customer.id,
        "event_name": event_name,
        "amount": body.amount,
        "currency": currency,
        **reporting_columns(conversion, workspace.currency),
        "payment_processor": processor.value,
        "invoice_id": body.invoice_id,
        "metadata": body.metadata,
        **repository.snapshot(click),
    }
    if not repository.record_sale(session, row):
        # A concurrent request claimed the invoice between our look and our insert.
        assert body.invoice_id is not None
        earlier = repository.sale_by_invoice(session, workspace.id, body.invoice_id)
        assert earlier is not None
        if publishable:
            return TrackSaleOut(event_name=earlier.event_name, customer=None, sale=None)
        return _answer_earlier(session, earlier)
    repository.count_sale(
        session,
        link_id=customer.link_id,
        customer_id=customer.id,
        reporting_amount=reporting_amount,
        at_ms=at_ms,
    )
    repository.sale_counted(session, row)
    earning.on_sale(
        session,
        workspace_id=workspace.id,
        sale_id=row["id"],
        link_id=customer.link_id,
        customer_id=customer.id,
        reporting_amount=reporting_amount,
        currency=workspace.currency,
        invoice_id=body.invoice_id,
        at_ms=at_ms,
    )
    return TrackSaleOut(
        event_name=event_name,
        customer=_sale_customer(_ids_only(customer) if publishable else customer),
        sale=SaleOut(
            amount=body.amount,
            currency=currency.lower(),
            payment_processor=processor.value,
            invoice_id=body.invoice_id,
            metadata=body.metadata,
        ),
    )


def convert_sale(
    rates: Rates, reporting_currency: str, amount: int, currency: str, at_ms: int
) -> Conversion | None:
    """A sale's amount in the reporting currency at the rate of its day (``None``: no rate);
    422 naming ``amount`` when the converted amount is past ``REPORTING_AMOUNT_MAX``."""
    day = datetime.fromtimestamp(at_ms / 1000, tz=UTC).date()
    conversion = rates.convert(amount, currency, reporting_currency, day)
    if conversion is not None and conversion.amount > REPORTING_AMOUNT_MAX:
        raise Unprocessable(
            f"amount: {amount} {currency} is {conversion.amount} in minor units of "
            f"{reporting_currency}, more than the {REPORTING_AMOUNT_MAX} one sale may count"
        )
    return conversion


def _check_client_sale(workspace: Workspace, conversion: Conversion | None) -> None:
    """422 naming ``amount`` for a client sale past the workspace's maximum (in its
    reporting currency), or one that cannot be compared with it (no exchange rate)."""
    most = workspace.client_sale_max or 0
    where = f"{most} minor units of {workspace.currency}"
    if conversion is None:
        raise Unprocessable(
            f"amount: no exchange rate into {workspace.currency} to check the sale against "
            f"the largest client sale this workspace allows ({where}); record it from your "
            "server instead"
        )
    if conversion.amount > most:
        raise Unprocessable(
            f"amount: more than the largest client sale this workspace allows ({where}); "
            "record larger sales from your server, or raise clientSaleMax"
        )


def change_reporting_currency(
    session: Session, rates: Rates, workspace: Workspace, code: str
) -> Workspace:
    """Report the workspace's sales in ``code`` from now on, and re-convert those already
    recorded (each at the ECB rate of its own day) so no total mixes two currencies."""
    previous = workspace.currency
    workspace = set_reporting_currency(session, workspace, code)
    currency_changed(session, rates, workspace, previous)
    return workspace


def currency_changed(
    session: Session, rates: Rates, workspace: Workspace, previous: str, *, max_given: bool = False
) -> None:
    """What follows a change of the reporting currency from ``previous`` (nothing when it
    did not change): recorded sales re-converted, and the largest client sale converted
    unless one was given with the change (``max_given``: it is in the new currency)."""
    if workspace.currency == previous:
        return
    reconvert_sales(session, rates, workspace)
    if not max_given:
        _reconvert_client_sale_max(rates, workspace, previous)


def _reconvert_client_sale_max(rates: Rates, workspace: Workspace, previous: str) -> None:
    """Keep the largest client sale the same money after the reporting currency changed from
    ``previous`` (at today's ECB rate, rounded down): 1,000.00 USD must not become 1,000 JPY,
    nor 1,000.00 JPY 1,000.00 USD. Without a rate, client sales are turned off (the owner
    sets a new maximum to turn them on again)."""
    if workspace.client_sale_max is None:
        return
    conversion = rates.convert(
        workspace.client_sale_max, previous, workspace.currency, datetime.now(UTC).date()
    )
    if conversion is None:
        workspace.client_sales_enabled, workspace.client_sale_max = False, None
        return
    shift = Decimal(10) ** (minor_units(workspace.currency) - minor_units(previous))
    rounded_down = int(workspace.client_sale_max * conversion.rate * shift)
    workspace.client_sale_max = max(1, min(rounded_down, REPORTING_AMOUNT_MAX))


def reconvert_sales(session: Session, rates: Rates, workspace: Workspace) -> int:
    """Convert every sale (and refund) of the workspace into its reporting currency again
    and recount the links' and customers' net ``saleAmount``; how many sales were converted."""
    target = workspace.currency
    sales = repository.sales_to_convert(session, workspace.id)
    for sale_id, at_ms, amount, currency in sales:
        day = datetime.fromtimestamp(at_ms / 1000, tz=UTC).date()
        conversion = rates.convert(amount, currency, target, day)
        if conversion is not None and conversion.amount > REPORTING_AMOUNT_MAX:
            # Too large to count in this currency (say, recorded before the bounds): kept
            # and flagged like a sale without a rate, and left out of the totals.
            conversion = None
        repository.set_reporting(session, sale_id, reporting_columns(conversion, target))
    repository.reconvert_refunds(session, workspace.id)
    with_test = stripe_connection.counts_test_data(stripe_connection.get(session, workspace.id))
    repository.recount_sale_amounts(session, workspace.id, with_test=with_test)
    return len(sales)


def reporting_columns(conversion: Conversion | None, currency: str) -> dict[str, Any]:
    """A sale's columns for its amount in the reporting currency, and the rate behind it."""
    return {
        "reporting_amount": conversion.amount if conversion else None,
        "reporting_currency": currency,
        "fx_rate": str(conversion.rate) if conversion else None,
        "fx_date": conversion.rate_date.isoformat() if conversion else None,
        "fx_missing": conversion is None,
    }


def _claim(
    session: Session,
    workspace_id: str,
    external_id: str,
    profile: customers.Profile,
    click: Click | None,
    publishable: bool,
) -> Customer | repository.CustomerRef:
    """The customer with this external id: a new one (the usual case) is one insert with
    ``profile``; a known one goes through the whole claim, and takes ``profile``'s fields
    only from a secret key (a publishable key is public: it never edits a customer)."""
    row = customers.new_customer_row(workspace_id, external_id, profile, click)
    customer = repository.insert_customer(session, row)
    if customer is not None:
        return customer
    known = customers.Profile() if publishable else profile
    return customers.claim_customer(session, workspace_id, external_id, known, click)


def _earn_lead(
    session: Session,
    workspace: Workspace,
    click: Click,
    customer: Customer | repository.CustomerRef,
    event_name: str,
    quantity: int,
    at_ms: int,
) -> None:
    """The partner's lead commission for a lead just recorded (SPEC §10)."""
    earning.on_lead(
        session,
        workspace_id=workspace.id,
        currency=workspace.currency,
        link_id=click.link_id,
        customer_id=customer.id,
        event_name=event_name,
        quantity=quantity,
        at_ms=at_ms,
    )


def _ids_only(customer: Customer | repository.CustomerRef) -> repository.CustomerRef:
    """The customer as a publishable key's answer shows it: ids, no stored details."""
    return repository.CustomerRef(
        customer.id,
        customer.workspace_id,
        customer.external_id,
        None,
        None,
        None,
        customer.click_id,
        customer.link_id,
    )


def _answer_earlier(session: Session, earlier: repository.SaleRow) -> TrackSaleOut:
    """The answer a retry of an already recorded invoice gets: the sale as first stored."""
    customer = session.get(Customer, earlier.customer_id) if earlier.customer_id else None
    return TrackSaleOut(
        event_name=earlier.event_name,
        customer=_sale_customer(customer) if customer else None,
        sale=SaleOut(
            amount=earlier.amount,
            currency=earlier.currency.lower(),
            payment_processor=earlier.payment_processor,
            invoice_id=earlier.invoice_id,
            metadata=earlier.metadata,
        ),
    )


def _sale_customer(customer: Customer | repository.CustomerRef) -> SaleCustomerOut:
    return SaleCustomerOut(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        avatar=customer.avatar,
        external_id=customer.external_id,
    )


def _lead_link(services: Services, link: repository.LinkRef | None) -> LeadLinkOut | None:
    if link is None:
        return None
    return LeadLinkOut(
        id=link.id,
        domain=link.domain,
        key=link.key,
        short_link=services.links.ctx.short_link(link.domain, link.key),
        url=link.url,
        tenant_id=link.tenant_id,
        external_id=link.external_id,
        program_id=link.program_id,
        partner_id=link.partner_id,
    )

"""Rules of commissions through the API: list, manual commissions and clawbacks, status
and sale-amount changes. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from codeqr.commission.earning import percent_of
from codeqr.commission.models import Commission, CommissionStatus, CommissionType
from codeqr.commission.schemas import (
    EARNINGS_MAX,
    SALE_AMOUNT_MAX,
    BulkStatusUpdate,
    CommissionCustomerOut,
    CommissionFilters,
    CommissionOut,
    CommissionPartnerOut,
    CommissionUpdate,
    CustomCommissionCreate,
    SortBy,
)
from codeqr.customer.models import Customer
from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import BadRequest, NotFound, Unprocessable
from codeqr.kit.hooks import notes
from codeqr.kit.ids import sorted_id
from codeqr.partner import service as partners
from codeqr.partner.models import Enrollment, EnrollmentStatus, Partner
from codeqr.partner.schemas import Selector
from codeqr.program import service as programs
from codeqr.workspace.models import Workspace

# Commissions already in a payout or paid: their amounts are no longer the API's to change.
_SETTLED = frozenset({CommissionStatus.processed.value, CommissionStatus.paid.value})


def get(session: Session, workspace: Workspace, commission_id: str) -> Commission:
    """A commission of this workspace; 404 for any other."""
    found = session.scalar(
        select(Commission).where(
            Commission.workspace_id == workspace.id, Commission.id == commission_id
        )
    )
    if found is None:
        raise NotFound(f"Commission {commission_id[:100]} not found.")
    return found


def list_commissions(
    session: Session, workspace: Workspace, filters: CommissionFilters
) -> list[Commission]:
    """A page of the workspace's commissions, newest first unless asked otherwise; after
    or before a commission (``startingAfter`` / ``endingBefore``) or by page."""
    program = programs.gate(session, workspace)
    if program is None:
        return []
    c = Commission
    stmt = select(c).where(c.workspace_id == workspace.id, c.program_id == program.id)
    if filters.type is not None:
        stmt = stmt.where(c.type == filters.type.value)
    for column, value in (
        (c.customer_id, filters.customer_id),
        (c.payout_id, filters.payout_id),
        (c.partner_id, filters.partner_id),
        (c.invoice_id, filters.invoice_id),
        (c.status, filters.status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.tenant_id is not None or filters.group_id is not None:
        enrolled = select(Enrollment.partner_id).where(Enrollment.program_id == program.id)
        if filters.tenant_id is not None:
            enrolled = enrolled.where(Enrollment.tenant_id == filters.tenant_id)
        if filters.group_id is not None:
            enrolled = enrolled.where(Enrollment.group_id == filters.group_id)
        stmt = stmt.where(c.partner_id.in_(enrolled))
    key = c.amount if filters.sort_by is SortBy.amount else c.created_at
    descending = filters.sort_order == "desc"
    if filters.starting_after and filters.ending_before:
        raise Unprocessable("startingAfter: use startingAfter or endingBefore, not both.")
    cursor_id = filters.starting_after or filters.ending_before
    backwards = filters.ending_before is not None
    if cursor_id:
        anchor = get(session, workspace, cursor_id)
        anchor_key = anchor.amount if filters.sort_by is SortBy.amount else anchor.created_at
        # Past the anchor in the list's order (or before it, for endingBefore).
        later = descending != backwards
        if later:
            stmt = stmt.where(or_(key < anchor_key, and_(key == anchor_key, c.id < anchor.id)))
        else:
            stmt = stmt.where(or_(key > anchor_key, and_(key == anchor_key, c.id > anchor.id)))
    ascending = not descending if not backwards else descending
    order = (key.asc(), c.id.asc()) if ascending else (key.desc(), c.id.desc())
    stmt = stmt.order_by(*order)
    stmt = stmt.offset((filters.page - 1) * filters.page_size).limit(filters.page_size)
    rows = list(session.scalars(stmt))
    return rows[::-1] if backwards else rows


def create_custom(
    session: Session, workspace: Workspace, body: CustomCommissionCreate
) -> Commission:
    """A manual commission for a partner, or a clawback (a negative amount, which needs a
    description of why)."""
    if body.type != CommissionType.custom:
        raise Unprocessable(
            f"type: {body.type} commissions are not supported yet; record the lead or sale "
            "with track.lead / track.sale on the partner's link, or use type custom"
        )
    program = programs.default_program(session, workspace)
    enrollment, _ = partners.find(session, workspace, Selector(partnerId=body.partner_id))
    amount = _whole(body.amount, "amount")
    if amount is None or amount == 0:
        raise Unprocessable("amount: required, a non-zero number of minor units")
    if abs(amount) > EARNINGS_MAX:
        raise Unprocessable(f"amount: at most {EARNINGS_MAX} minor units either way")
    if amount < 0 and not body.description:
        raise Unprocessable("description: required for a clawback (a negative amount)")
    if amount > 0 and enrollment.status == EnrollmentStatus.banned:
        raise BadRequest(f"Partner {enrollment.partner_id} is banned.")
    at = _date(body.date)
    commission = Commission(
        id=sorted_id("cm"),
        workspace_id=workspace.id,
        program_id=program.id,
        partner_id=enrollment.partner_id,
        type=CommissionType.custom.value,
        amount=0,
        earnings=amount,
        currency=program.currency,
        quantity=1,
        status=CommissionStatus.pending.value,
        description=body.description or None,
        created_at=at,
        updated_at=utcnow(),
    )
    session.add(commission)
    session.flush()
    if (hooks := notes(session)) is not None:
        hooks.commission_created(session, workspace.id, commission.id, None)
    return commission


def update(
    session: Session, workspace: Workspace, commission: Commission, body: CommissionUpdate
) -> Commission:
    """Change a commission not yet in a payout: its status, its sale amount (the earnings
    follow the partner's sale reward), or its earnings."""
    if commission.status in _SETTLED:
        raise BadRequest(
            f"Cannot update commission: Commission {commission.id} is already {commission.status}."
        )
    if body.status is not None and body.status.value == commission.status:
        raise BadRequest(f"This commission is already in the {body.status.value} status.")
    sale_amount = _whole(
        body.sale_amount if body.sale_amount is not None else body.amount, "saleAmount"
    )
    modify = _whole(
        body.modify_sale_amount if body.modify_sale_amount is not None else body.modify_amount,
        "modifySaleAmount",
    )
    earnings = _whole(body.earnings, "earnings")
    new_amount, new_earnings = commission.amount, commission.earnings
    amount_changed = sale_amount is not None or modify is not None
    if amount_changed:
        if commission.type != CommissionType.sale:
            raise BadRequest(
                f"Cannot update sale amount: Commission {commission.id} is not a sale commission."
            )
        if body.currency and body.currency.upper() != commission.currency:
            raise Unprocessable(
                f"currency: sale amounts of this commission are in {commission.currency}"
            )
        total = commission.amount + modify if modify is not None else sale_amount
        assert total is not None
        new_amount = min(max(total, 0), SALE_AMOUNT_MAX)
        # At the rate it was earned at (a flat commission keeps its amount).
        if commission.rate is not None:
            new_earnings = percent_of(new_amount, commission.rate)
    if earnings is not None:
        if abs(earnings) > EARNINGS_MAX:
            raise Unprocessable(f"earnings: at most {EARNINGS_MAX} minor units either way")
        new_earnings = earnings
    status = body.status.value if body.status is not None else None
    if status is None and amount_changed and new_amount == 0:
        # Dub's rule: a sale amount brought to zero is a refund.
        status = CommissionStatus.refunded.value
    if status != CommissionStatus.refunded:
        commission.amount, commission.earnings = new_amount, new_earnings
    if status is not None:
        commission.status = status
    commission.updated_at = utcnow()
    session.flush()
    return commission


def update_many(session: Session, workspace: Workspace, body: BulkStatusUpdate) -> list[Commission]:
    """One status for up to 100 commissions of the workspace: all of them, or none (404
    naming the first that is not this workspace's, 400 for one already settled)."""
    programs.gate(session, workspace)
    ids = list(dict.fromkeys(body.commission_ids))
    found = {
        c.id: c
        for c in session.scalars(
            select(Commission).where(
                Commission.workspace_id == workspace.id, Commission.id.in_(ids)
            )
        )
    }
    for commission_id in ids:
        commission = found.get(commission_id)
        if commission is None:
            raise NotFound(f"Commission {commission_id[:100]} not found.")
        if commission.status in _SETTLED:
            raise BadRequest(
                f"Cannot update commission: Commission {commission_id} is already "
                f"{commission.status}."
            )
    now = utcnow()
    for commission_id in ids:
        found[commission_id].status, found[commission_id].updated_at = body.status.value, now
    session.flush()
    return [found[i] for i in ids]


def out_many(session: Session, rows: Sequence[Commission]) -> list[CommissionOut]:
    """API shapes of commissions, with their partners and customers in two queries."""
    partner_ids = {c.partner_id for c in rows}
    customer_ids = {c.customer_id for c in rows if c.customer_id}
    found_partners = {
        p.id: p for p in session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))
    }
    groups = dict(
        session.execute(
            select(Enrollment.partner_id, Enrollment.group_id).where(
                Enrollment.partner_id.in_(partner_ids)
            )
        ).all()
    )
    found_customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    }
    out = []
    for c in rows:
        partner = found_partners[c.partner_id]
        customer = found_customers.get(c.customer_id) if c.customer_id else None
        out.append(
            CommissionOut(
                id=c.id,
                type=CommissionType(c.type),
                amount=c.amount,
                earnings=c.earnings,
                currency=c.currency,
                status=CommissionStatus(c.status),
                invoice_id=c.invoice_id,
                description=c.description,
                quantity=c.quantity,
                created_at=iso(c.created_at) or "",
                updated_at=iso(c.updated_at) or "",
                paid_at=None,
                partner=CommissionPartnerOut(
                    id=partner.id,
                    name=partner.name,
                    email=partner.email,
                    image=partner.image,
                    country=partner.country,
                    group_id=groups.get(partner.id),
                ),
                customer=(
                    CommissionCustomerOut(
                        id=customer.id,
                        external_id=customer.external_id,
                        name=customer.name,
                        email=customer.email,
                        avatar=customer.avatar,
                        country=customer.country,
                        created_at=iso(customer.created_at) or "",
                    )
                    if customer
                    else None
                ),
                link_id=c.link_id,
                payout_id=c.payout_id,
            )
        )
    return out


def _whole(value: float | int | None, field: str) -> int | None:
    """A money value sent as a JSON number: whole minor units only."""
    if value is None:
        return None
    if isinstance(value, float) and (not value.is_integer() or abs(value) > 2**53):
        raise Unprocessable(f"{field}: a whole number of minor units")
    return int(value)


def _date(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable("date: an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if not 1970 <= parsed.year <= 9999:
        raise Unprocessable("date: between 1970 and 9999")
    return parsed

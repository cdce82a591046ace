"""Rules of payouts through the API (the list; payout runs come later). Services never
commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.kit.clock import iso
from codeqr.partner.models import Enrollment, Partner
from codeqr.payout.models import Payout
from codeqr.payout.schemas import PayoutFilters, PayoutOut, PayoutPartnerOut, SortBy, WireStatus
from codeqr.program import service as programs
from codeqr.workspace.models import Workspace


def list_payouts(
    session: Session, workspace: Workspace, filters: PayoutFilters
) -> list[tuple[Payout, Partner, Enrollment]]:
    """A page of the workspace's payouts with their partners."""
    program = programs.gate(session, workspace)
    if program is None:
        return []
    stmt = (
        select(Payout, Partner, Enrollment)
        .join(Partner, Partner.id == Payout.partner_id)
        .join(
            Enrollment,
            (Enrollment.partner_id == Payout.partner_id)
            & (Enrollment.program_id == Payout.program_id),
        )
        .where(Payout.workspace_id == workspace.id, Payout.program_id == program.id)
    )
    if filters.status is not None:
        stmt = stmt.where(Payout.status == filters.status.value)
    if filters.partner_id is not None:
        stmt = stmt.where(Payout.partner_id == filters.partner_id)
    if filters.tenant_id is not None:
        stmt = stmt.where(Enrollment.tenant_id == filters.tenant_id)
    if filters.invoice_id is not None:
        stmt = stmt.where(Payout.invoice_id == filters.invoice_id)
    if filters.group_id is not None:
        stmt = stmt.where(Enrollment.group_id == filters.group_id)
    key = {
        SortBy.amount: Payout.amount,
        SortBy.initiated_at: Payout.initiated_at,
        SortBy.paid_at: Payout.paid_at,
    }[filters.sort_by]
    if filters.sort_order == "asc":
        stmt = stmt.order_by(key.asc(), Payout.id.asc())
    else:
        stmt = stmt.order_by(key.desc(), Payout.id.desc())
    stmt = stmt.offset((filters.page - 1) * filters.page_size).limit(filters.page_size)
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def out(payout: Payout, partner: Partner, enrollment: Enrollment) -> PayoutOut:
    """The API shape of a payout."""
    return PayoutOut(
        id=payout.id,
        invoice_id=payout.invoice_id,
        amount=payout.amount,
        currency=payout.currency,
        status=WireStatus(payout.status),
        description=payout.description,
        period_start=iso(payout.period_start),
        period_end=iso(payout.period_end),
        created_at=iso(payout.created_at) or "",
        updated_at=iso(payout.updated_at) or "",
        initiated_at=iso(payout.initiated_at),
        paid_at=iso(payout.paid_at),
        partner=PayoutPartnerOut(
            id=partner.id,
            name=partner.name,
            email=partner.email,
            image=partner.image,
            country=partner.country,
            tenant_id=enrollment.tenant_id,
            group_id=enrollment.group_id,
        ),
    )

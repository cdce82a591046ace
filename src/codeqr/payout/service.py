"""Rules of payouts: the list, payout runs, and payouts marked paid. Services never
commit."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from codeqr.commission.models import Commission, CommissionStatus, CommissionType
from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import BadRequest, NotFound
from codeqr.kit.ids import new_id
from codeqr.partner.models import Enrollment, EnrollmentStatus, Partner
from codeqr.payout.models import Payout, PayoutStatus
from codeqr.payout.schemas import PayoutFilters, PayoutOut, PayoutPartnerOut, SortBy, WireStatus
from codeqr.program import service as programs
from codeqr.program.models import Program
from codeqr.workspace.models import Workspace


def _with_partners(workspace: Workspace, program: Program) -> Select[Payout, Partner, Enrollment]:
    """The program's payouts with each one's partner and enrollment."""
    return (
        select(Payout, Partner, Enrollment)
        .join(Partner, Partner.id == Payout.partner_id)
        .join(
            Enrollment,
            (Enrollment.partner_id == Payout.partner_id)
            & (Enrollment.program_id == Payout.program_id),
        )
        .where(Payout.workspace_id == workspace.id, Payout.program_id == program.id)
    )


def list_payouts(
    session: Session, workspace: Workspace, filters: PayoutFilters
) -> list[tuple[Payout, Partner, Enrollment]]:
    """A page of the workspace's payouts with their partners."""
    program = programs.gate(session, workspace)
    if program is None:
        return []
    stmt = _with_partners(workspace, program)
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


@dataclass(frozen=True)
class RunResult:
    """What a payout run did: the payouts it made, and partners left under the minimum."""

    payouts: list[Payout]
    below_minimum: int


_RUN_CHUNK = 500
"""Partners whose payouts one statement makes (bounds the statements' id lists)."""


def run(session: Session, workspace: Workspace, now: datetime | None = None) -> RunResult:
    """Gather each partner's due commissions (pending, past the holding period, in no
    payout) into one payout when their total reaches the program's minimum.

    Commissions are claimed by an UPDATE that only takes those still in no payout, and the
    payout's amount is what was claimed: two runs at once never pay a commission twice.
    """
    program = programs.gate(session, workspace)
    if program is None:
        return RunResult([], 0)
    now = now or utcnow()
    due_before = now - timedelta(days=program.holding_period_days)
    # A click commission of today still grows with today's clicks (``commission.clicks``):
    # due once its UTC day is over.
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    due = (
        Commission.program_id == program.id,
        Commission.status == CommissionStatus.pending.value,
        Commission.payout_id.is_(None),
        Commission.created_at <= due_before,
        or_(Commission.type != CommissionType.click.value, Commission.created_at < today),
    )
    totals = session.execute(
        select(
            Commission.partner_id,
            func.sum(Commission.earnings),
            func.min(Commission.created_at),
            func.max(Commission.created_at),
        )
        .join(
            Enrollment,
            (Enrollment.partner_id == Commission.partner_id)
            & (Enrollment.program_id == Commission.program_id),
        )
        .where(*due, Enrollment.status != EnrollmentStatus.banned.value)
        .group_by(Commission.partner_id)
        .order_by(Commission.partner_id)
    ).all()
    below = 0
    fresh: list[Payout] = []
    for partner_id, total, first, last in totals:
        if int(total or 0) < max(program.min_payout_amount, 1):
            below += 1
            continue
        fresh.append(
            Payout(
                id=new_id("po"),
                workspace_id=workspace.id,
                program_id=program.id,
                partner_id=partner_id,
                amount=0,
                currency=program.currency,
                status=PayoutStatus.pending.value,
                period_start=first,
                period_end=last,
                created_at=now,
                updated_at=now,
            )
        )
    made: list[Payout] = []
    # Set-based, a chunk of partners at a time: one insert of their payouts, one update
    # that hands each due commission its partner's payout, one sum per payout.
    for start in range(0, len(fresh), _RUN_CHUNK):
        chunk = fresh[start : start + _RUN_CHUNK]
        session.add_all(chunk)
        session.flush()
        ids = [p.id for p in chunk]
        session.execute(
            update(Commission)
            .where(*due, Commission.partner_id.in_([p.partner_id for p in chunk]))
            .values(
                payout_id=select(Payout.id)
                .where(Payout.id.in_(ids), Payout.partner_id == Commission.partner_id)
                .scalar_subquery(),
                status=CommissionStatus.processed.value,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        claimed = dict(
            session.execute(
                select(Commission.payout_id, func.sum(Commission.earnings))
                .where(Commission.payout_id.in_(ids))
                .group_by(Commission.payout_id)
            ).all()
        )
        for payout in chunk:
            if payout.id not in claimed:
                # A concurrent run (another process, the CLI) claimed them first: no payout.
                session.delete(payout)
                continue
            payout.amount = int(claimed[payout.id] or 0)
            made.append(payout)
        session.flush()
    return RunResult(made, below)


def mark_paid(
    session: Session, workspace: Workspace, payout_id: str, reference: str | None
) -> Payout:
    """The operator paid this payout outside CodeQR: it is ``completed`` with the
    reference given, and its commissions ``paid``."""
    programs.gate(session, workspace)
    payout = session.scalar(
        select(Payout).where(Payout.workspace_id == workspace.id, Payout.id == payout_id)
    )
    if payout is None:
        raise NotFound(f"Payout {payout_id[:100]} not found.")
    if payout.status not in (PayoutStatus.pending, PayoutStatus.processing):
        raise BadRequest(f"Payout {payout.id} is already {payout.status}.")
    now = utcnow()
    payout.status, payout.reference = PayoutStatus.completed.value, reference
    payout.paid_at, payout.updated_at = now, now
    payout.initiated_at = payout.initiated_at or now
    session.execute(
        update(Commission)
        .where(Commission.payout_id == payout.id)
        .values(status=CommissionStatus.paid.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return payout


EXPORT_COLUMNS = (
    "id",
    "partnerId",
    "partnerName",
    "partnerEmail",
    "tenantId",
    "amount",
    "currency",
    "status",
    "periodStart",
    "periodEnd",
    "createdAt",
    "paidAt",
    "reference",
)


def export_rows(
    session: Session, workspace: Workspace, status: str | None = None
) -> list[tuple[str | int | None, ...]]:
    """Every payout of the workspace (of one status, if given), oldest first, as the CSV
    export's rows; ``amount`` in minor units of ``currency``."""
    program = programs.gate(session, workspace)
    if program is None:
        return []
    stmt = _with_partners(workspace, program).order_by(Payout.created_at, Payout.id)
    if status is not None:
        stmt = stmt.where(Payout.status == status)
    return [
        (
            payout.id,
            partner.id,
            partner.name,
            partner.email,
            enrollment.tenant_id,
            payout.amount,
            payout.currency,
            payout.status,
            iso(payout.period_start),
            iso(payout.period_end),
            iso(payout.created_at),
            iso(payout.paid_at),
            payout.reference,
        )
        for payout, partner, enrollment in session.execute(stmt)
    ]


def _cell(value: object) -> object:
    # A name or email typed by someone else must not run as a spreadsheet formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(rows: Sequence[tuple[str | int | None, ...]]) -> str:
    """The export's rows as CSV with its header; text cells cannot start a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()

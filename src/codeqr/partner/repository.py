"""SQL of partners: the page of enrolled partners with their totals, and their links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from codeqr.commission.models import Commission, CommissionStatus
from codeqr.link.models import Link
from codeqr.money.bounds import clamp_total
from codeqr.partner.models import Enrollment, EnrollmentStatus, Partner
from codeqr.partner.schemas import ListSortBy, PartnerFilters, PartnerStatus

EARNED = (
    CommissionStatus.pending.value,
    CommissionStatus.processed.value,
    CommissionStatus.paid.value,
)
"""Statuses of commissions that count as earned (owed or paid)."""


@dataclass(frozen=True)
class Totals:
    clicks: int = 0
    leads: int = 0
    sales: int = 0
    sale_amount: int = 0
    commissions: int = 0


def _link_totals(workspace_id: str) -> Any:
    return (
        select(
            Link.partner_id.label("partner_id"),
            func.sum(Link.clicks).label("clicks"),
            func.sum(Link.leads).label("leads"),
            func.sum(Link.sales).label("sales"),
            func.sum(Link.sale_amount).label("sale_amount"),
        )
        .where(Link.workspace_id == workspace_id, Link.partner_id.is_not(None))
        .group_by(Link.partner_id)
        .subquery()
    )


def _commission_totals(workspace_id: str) -> Any:
    return (
        select(
            Commission.partner_id.label("partner_id"),
            func.sum(Commission.earnings).label("earnings"),
        )
        .where(Commission.workspace_id == workspace_id, Commission.status.in_(EARNED))
        .group_by(Commission.partner_id)
        .subquery()
    )


def page(
    session: Session, workspace_id: str, filters: PartnerFilters
) -> list[tuple[Enrollment, Partner, Totals]]:
    """A page of the workspace's enrolled partners, with their totals, in the order asked."""
    links, earned = _link_totals(workspace_id), _commission_totals(workspace_id)
    columns = {
        ListSortBy.total_clicks: func.coalesce(links.c.clicks, 0),
        ListSortBy.total_leads: func.coalesce(links.c.leads, 0),
        ListSortBy.total_conversions: func.coalesce(links.c.leads, 0),
        ListSortBy.total_sale_amount: func.coalesce(links.c.sale_amount, 0),
        ListSortBy.total_commissions: func.coalesce(earned.c.earnings, 0),
    }
    stmt = (
        select(
            Enrollment,
            Partner,
            func.coalesce(links.c.clicks, 0),
            func.coalesce(links.c.leads, 0),
            func.coalesce(links.c.sales, 0),
            func.coalesce(links.c.sale_amount, 0),
            func.coalesce(earned.c.earnings, 0),
        )
        .join(Partner, Partner.id == Enrollment.partner_id)
        .outerjoin(links, links.c.partner_id == Enrollment.partner_id)
        .outerjoin(earned, earned.c.partner_id == Enrollment.partner_id)
        .where(Enrollment.workspace_id == workspace_id)
    )
    if filters.status is not None:
        status = (
            EnrollmentStatus.active.value
            if filters.status is PartnerStatus.approved
            else filters.status.value
        )
        stmt = stmt.where(Enrollment.status == status)
    if filters.group_id:
        stmt = stmt.where(Enrollment.group_id == filters.group_id)
    if filters.country:
        stmt = stmt.where(Partner.country == filters.country.upper())
    if filters.email:
        stmt = stmt.where(Partner.email == filters.email.strip().lower())
    if filters.tenant_id:
        stmt = stmt.where(Enrollment.tenant_id == filters.tenant_id)
    if filters.search:
        like = "%" + filters.search.lower().replace("\\", "").replace("%", "").replace("_", "")
        like += "%"
        stmt = stmt.where(
            or_(func.lower(Partner.name).like(like), func.lower(Partner.email).like(like))
        )
    key = columns.get(filters.sort_by, Enrollment.created_at)
    if filters.sort_order == "asc":
        stmt = stmt.order_by(key.asc(), Enrollment.id.asc())
    else:
        stmt = stmt.order_by(key.desc(), Enrollment.id.desc())
    stmt = stmt.offset((filters.page - 1) * filters.page_size).limit(filters.page_size)
    out = []
    for enrollment, partner, clicks, leads, sales, sale_amount, earnings in session.execute(stmt):
        totals = Totals(
            int(clicks),
            int(leads),
            int(sales),
            clamp_total(sale_amount),
            clamp_total(earnings),
        )
        out.append((enrollment, partner, totals))
    return out


def totals(session: Session, workspace_id: str, partner_id: str) -> Totals:
    """One partner's totals."""
    row = session.execute(
        select(
            func.coalesce(func.sum(Link.clicks), 0),
            func.coalesce(func.sum(Link.leads), 0),
            func.coalesce(func.sum(Link.sales), 0),
            func.coalesce(func.sum(Link.sale_amount), 0),
        ).where(Link.workspace_id == workspace_id, Link.partner_id == partner_id)
    ).one()
    earned = session.scalar(
        select(func.coalesce(func.sum(Commission.earnings), 0)).where(
            Commission.workspace_id == workspace_id,
            Commission.partner_id == partner_id,
            Commission.status.in_(EARNED),
        )
    )
    return Totals(int(row[0]), int(row[1]), int(row[2]), clamp_total(row[3]), clamp_total(earned))


def links_of(
    session: Session, workspace_id: str, partner_ids: Sequence[str], limit: int
) -> list[Link]:
    """The links of these partners, oldest first (at most ``limit``)."""
    if not partner_ids:
        return []
    return list(
        session.scalars(
            select(Link)
            .where(Link.workspace_id == workspace_id, Link.partner_id.in_(partner_ids))
            .order_by(Link.created_at, Link.id)
            .limit(limit)
        )
    )


def count_links(session: Session, workspace_id: str, partner_id: str) -> int:
    """How many links the partner has."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Link)
            .where(Link.workspace_id == workspace_id, Link.partner_id == partner_id)
        )
        or 0
    )

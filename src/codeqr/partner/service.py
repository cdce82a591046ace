"""Rules of partners: enrollment in the default program, their links, ban and deactivation.
Services never commit."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from codeqr.api.errors import describe_validation
from codeqr.commission.models import Commission, CommissionStatus
from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import BadRequest, Conflict, NotFound, Unprocessable
from codeqr.kit.hooks import notes
from codeqr.kit.ids import new_id
from codeqr.link.models import Link
from codeqr.link.schemas import LinkCreate, LinkUpdate
from codeqr.link.service import LinkService
from codeqr.link.urls import normalize_url
from codeqr.partner import repository
from codeqr.partner.models import Enrollment, EnrollmentStatus, Partner
from codeqr.partner.schemas import SORTABLE as _SORTABLE
from codeqr.partner.schemas import (
    BanReason,
    PartnerCreate,
    PartnerFilters,
    PartnerLinkCreate,
    PartnerLinkOut,
    PartnerOut,
    Selector,
    wire_status,
)
from codeqr.program import service as programs
from codeqr.program.models import PartnerGroup, Program
from codeqr.workspace.models import Workspace

MAX_LINKS = 100
"""Links one partner may have (and what ``GET /partners/links`` can answer)."""
MAX_PAGE_LINKS = 1_000
"""Links shown across one page of ``GET /partners`` (the rest: ``/partners/links``)."""
# Fields of ``linkProps`` that the partner routes set themselves.
_OWN_FIELDS = frozenset({"url", "key", "domain", "trackConversion", "programId", "partnerId"})


def create(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    body: PartnerCreate,
    user_id: str | None,
) -> tuple[Enrollment, Partner, list[Link]]:
    """Enroll a new partner in the workspace's program (made on first use), with a first
    link to the program's default destination when it has one; 409 when the email or the
    tenant id is already enrolled."""
    program = programs.default_program(session, workspace)
    group = _group(session, program, body.group_id)
    known = session.scalar(
        select(Partner.id).where(Partner.workspace_id == workspace.id, Partner.email == body.email)
    )
    if known is not None:
        raise Conflict(f"email: a partner with email {body.email} is already enrolled.")
    if body.username and session.scalar(
        select(Partner.id).where(
            Partner.workspace_id == workspace.id, Partner.username == body.username
        )
    ):
        raise Conflict(f"username: {body.username} is taken.")
    _tenant_free(session, program, body.tenant_id)
    link_data = _link_data(body.link_props, url=program.default_url, key=None, comments=None)
    now = utcnow()
    partner = Partner(
        id=new_id("pn"),
        workspace_id=workspace.id,
        email=body.email,
        name=body.name or body.email.split("@", 1)[0],
        username=body.username or None,
        image=body.image or None,
        country=body.country,
        description=body.description or None,
        created_at=now,
        updated_at=now,
    )
    enrollment = Enrollment(
        id=new_id("pge"),
        workspace_id=workspace.id,
        program_id=program.id,
        partner_id=partner.id,
        group_id=group.id,
        tenant_id=body.tenant_id or None,
        status=EnrollmentStatus.active.value,
        created_at=now,
        updated_at=now,
    )
    # No ORM relationships between these tables: flushed in the order the keys need.
    session.add(partner)
    session.flush()
    session.add(enrollment)
    session.flush()
    made = []
    if link_data is not None:
        made.append(_new_link(session, links, workspace, program, enrollment, link_data, user_id))
    if (hooks := notes(session)) is not None:
        hooks.partner_enrolled(session, workspace.id, partner.id)  # with its first link
    return enrollment, partner, made


def find(session: Session, workspace: Workspace, who: Selector) -> tuple[Enrollment, Partner]:
    """The enrollment named by ``partnerId`` or ``tenantId``; 404 for anything not this
    workspace's (422 when neither is given)."""
    if who.partner_id:
        where = Enrollment.partner_id == who.partner_id
        named = f"Partner {who.partner_id}"
    elif who.tenant_id:
        where = Enrollment.tenant_id == who.tenant_id
        named = f"Partner with tenantId {who.tenant_id[:100]}"
    else:
        raise Unprocessable("partnerId: provide partnerId or tenantId.")
    row = session.execute(
        select(Enrollment, Partner)
        .join(Partner, Partner.id == Enrollment.partner_id)
        .where(Enrollment.workspace_id == workspace.id, where)
    ).first()
    if row is None:
        raise NotFound(f"{named} not found.")
    return row[0], row[1]


def list_partners(
    session: Session, workspace: Workspace, filters: PartnerFilters
) -> list[tuple[Enrollment, Partner, repository.Totals]]:
    """A page of the workspace's partners."""
    if filters.sort_by not in _SORTABLE:
        names = ", ".join(sorted(s.value for s in _SORTABLE))
        raise Unprocessable(
            f"sortBy: {filters.sort_by.value} is not supported yet (one of {names})"
        )
    programs.gate(session, workspace)
    return repository.page(session, workspace.id, filters)


def partner_links(session: Session, workspace: Workspace, who: Selector) -> list[Link]:
    """The partner's links, oldest first."""
    programs.gate(session, workspace)
    enrollment, _ = find(session, workspace, who)
    return repository.links_of(session, workspace.id, [enrollment.partner_id], MAX_LINKS)


def create_link(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    body: PartnerLinkCreate,
    user_id: str | None,
) -> Link:
    """A new link for the partner, to ``url`` or the program's default destination."""
    program = programs.default_program(session, workspace)
    enrollment, _ = find(session, workspace, body)
    data = _link_data(
        body.link_props, url=body.url or program.default_url, key=body.key, comments=body.comments
    )
    if data is None:
        raise Unprocessable("url: required (the program has no default destination).")
    return _new_link(session, links, workspace, program, enrollment, data, user_id)


def upsert_link(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    body: PartnerLinkCreate,
    user_id: str | None,
) -> Link:
    """Update the partner's link to the same destination, or create one."""
    program = programs.default_program(session, workspace)
    enrollment, _ = find(session, workspace, body)
    if not body.url:
        raise Unprocessable("url: required.")
    url = normalize_url(body.url)
    existing = session.scalar(
        select(Link)
        .where(
            Link.workspace_id == workspace.id,
            Link.partner_id == enrollment.partner_id,
            Link.url == url,
        )
        .order_by(Link.created_at, Link.id)
        .limit(1)
    )
    data = _link_data(body.link_props, url=body.url, key=body.key, comments=body.comments)
    assert data is not None
    if existing is None:
        return _new_link(session, links, workspace, program, enrollment, data, user_id)
    change = data.model_dump(exclude_unset=True, exclude={"url"})
    change.pop("track_conversion", None)
    return links.update(session, workspace, existing, LinkUpdate.model_validate(change))


def ban(
    session: Session, links: LinkService, workspace: Workspace, who: Selector, reason: BanReason
) -> Enrollment:
    """Ban the partner: its links stop earning and answer as links that do not exist (the
    redirect caches forget them once this commits), and its pending commissions are
    canceled."""
    programs.gate(session, workspace)
    enrollment, _ = find(session, workspace, who)
    if enrollment.status == EnrollmentStatus.banned:
        raise BadRequest(f"Partner {enrollment.partner_id} is already banned.")
    now = utcnow()
    enrollment.status, enrollment.banned_at = EnrollmentStatus.banned.value, now
    enrollment.banned_reason, enrollment.updated_at = reason.value, now
    session.execute(
        update(Commission)
        .where(
            Commission.program_id == enrollment.program_id,
            Commission.partner_id == enrollment.partner_id,
            Commission.status == CommissionStatus.pending.value,
            Commission.payout_id.is_(None),
        )
        .values(status=CommissionStatus.canceled.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for domain, key_lower in session.execute(
        select(Link.domain, Link.key_lower).where(
            Link.workspace_id == workspace.id, Link.partner_id == enrollment.partner_id
        )
    ):
        links.forget(session, domain, key_lower)
    session.flush()
    return enrollment


def deactivate(session: Session, workspace: Workspace, who: Selector) -> Enrollment:
    """Deactivate the partner: its links stop earning; what it earned stays owed."""
    programs.gate(session, workspace)
    enrollment, _ = find(session, workspace, who)
    if enrollment.status != EnrollmentStatus.active:
        raise BadRequest(f"Partner {enrollment.partner_id} is already {enrollment.status}.")
    enrollment.status, enrollment.updated_at = EnrollmentStatus.deactivated.value, utcnow()
    session.flush()
    return enrollment


# -- output ---------------------------------------------------------------------------------


def link_out(links: LinkService, link: Link) -> PartnerLinkOut:
    """A partner's link as the partner routes show it."""
    return PartnerLinkOut(
        id=link.id,
        domain=link.domain,
        key=link.key,
        short_link=links.ctx.short_link(link.domain, link.key),
        url=link.url,
        clicks=link.clicks,
        leads=link.leads,
        conversions=link.leads,
        sales=link.sales,
        sale_amount=link.sale_amount,
    )


def out_many(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    rows: list[tuple[Enrollment, Partner, repository.Totals]],
) -> list[PartnerOut]:
    """API shapes of enrolled partners, with their links in one query."""
    program = programs.find_program(session, workspace.id)
    currency = program.currency if program else workspace.currency
    by_partner: dict[str, list[PartnerLinkOut]] = {}
    ids = [partner.id for _, partner, _ in rows]
    for link in repository.links_of(session, workspace.id, ids, MAX_PAGE_LINKS):
        by_partner.setdefault(link.partner_id or "", []).append(link_out(links, link))
    return [
        _out(enrollment, partner, totals, by_partner.get(partner.id, []), currency)
        for enrollment, partner, totals in rows
    ]


def out_one(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    enrollment: Enrollment,
    partner: Partner,
) -> PartnerOut:
    """The API shape of one enrolled partner."""
    totals = repository.totals(session, workspace.id, partner.id)
    return out_many(session, links, workspace, [(enrollment, partner, totals)])[0]


def _out(
    enrollment: Enrollment,
    partner: Partner,
    totals: repository.Totals,
    links: list[PartnerLinkOut],
    currency: str,
) -> PartnerOut:
    return PartnerOut(
        id=partner.id,
        name=partner.name,
        username=partner.username,
        email=partner.email,
        image=partner.image,
        country=partner.country,
        description=partner.description,
        program_id=enrollment.program_id,
        partner_id=partner.id,
        group_id=enrollment.group_id,
        tenant_id=enrollment.tenant_id,
        status=wire_status(enrollment.status),
        banned_at=iso(enrollment.banned_at),
        banned_reason=enrollment.banned_reason,
        created_at=iso(enrollment.created_at) or "",
        links=links,
        total_clicks=totals.clicks,
        total_leads=totals.leads,
        total_conversions=totals.leads,
        total_sales=totals.sales,
        total_sale_amount=totals.sale_amount,
        total_commissions=totals.commissions,
        currency=currency,
    )


# -- helpers ----------------------------------------------------------------------------------


def _group(session: Session, program: Program, group_id: str | None) -> PartnerGroup:
    if not group_id:
        return programs.default_group(session, program)
    group = session.scalar(
        select(PartnerGroup).where(
            PartnerGroup.program_id == program.id, PartnerGroup.id == group_id
        )
    )
    if group is None:
        raise Unprocessable(f"groupId: {group_id} is not a group of this program.")
    return group


def _tenant_free(session: Session, program: Program, tenant_id: str | None) -> None:
    if tenant_id and session.scalar(
        select(Enrollment.id).where(
            Enrollment.program_id == program.id, Enrollment.tenant_id == tenant_id
        )
    ):
        raise Conflict(f"tenantId: a partner with tenantId {tenant_id[:100]} is already enrolled.")


def _link_data(
    props: dict[str, Any] | None, *, url: str | None, key: str | None, comments: str | None
) -> LinkCreate | None:
    """The link a partner route will create, checked before anything is written; ``None``
    without a destination (``linkProps`` are checked all the same)."""
    fields = {k: v for k, v in (props or {}).items() if k not in _OWN_FIELDS}
    fields |= {"url": url or "https://example.com", "trackConversion": True}
    if key:
        fields["key"] = key
    if comments:
        fields["comments"] = comments
    try:
        data = LinkCreate.model_validate(fields)
    except ValidationError as exc:
        _, message = describe_validation(list(exc.errors()), source="body")
        raise Unprocessable(f"linkProps: {message}") from None
    return data if url is not None else None


def _new_link(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    program: Program,
    enrollment: Enrollment,
    data: LinkCreate,
    user_id: str | None,
) -> Link:
    if repository.count_links(session, workspace.id, enrollment.partner_id) >= MAX_LINKS:
        raise Unprocessable(f"A partner can have at most {MAX_LINKS} links.")
    if program.default_domain and not data.domain:
        data = data.model_copy(update={"domain": program.default_domain})
    link = links.create(session, workspace, data, user_id)
    link.program_id, link.partner_id = program.id, enrollment.partner_id
    session.flush()
    return link

"""The Program section: partners and what they earned, rewards, commissions, payouts.

Reads go through the same services as the API (``/api/partners``, ``/api/commissions``,
``/api/payouts``), so a page shows what the API answers. Every change is a CSRF-checked
form post by an owner or member, redirected to a page that says what happened.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.commission import service as commissions
from codeqr.commission.models import Commission, CommissionStatus, CommissionType
from codeqr.commission.schemas import BulkStatusUpdate, CommissionFilters
from codeqr.dashboard.deps import Page, PageError, ViewDep, WriteDep, not_found
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError, Forbidden, NotFound, Unprocessable
from codeqr.money.currency import parse_major
from codeqr.partner import repository as partner_rows
from codeqr.partner import service as partners
from codeqr.partner.models import Enrollment, Partner
from codeqr.partner.schemas import PartnerCreate, PartnerFilters, PartnerLinkCreate, Selector
from codeqr.payout import service as payouts
from codeqr.payout.schemas import PayoutFilters
from codeqr.portal import service as portal
from codeqr.portal.endpoints import PREFIX as PORTAL_PREFIX
from codeqr.program import service as programs
from codeqr.program.models import Program, RewardEvent, RewardType
from codeqr.program.schemas import RewardSpec

router = APIRouter(prefix="/dashboard/{slug}/program", include_in_schema=False)
PartnerId = Annotated[str, Path(max_length=40)]
PayoutId = Annotated[str, Path(max_length=40)]
Short = Annotated[str, Form(max_length=200)]
PAGE_SIZE = 50
_DONE = {
    "partner": "Partner enrolled. Send them their portal invitation from their page.",
    "reward": "Reward saved. It applies to events from now on.",
    "settings": "Program settings saved.",
    "status": "Commissions updated.",
    "paid": "Payout marked paid; its commissions are paid.",
    "run": "Payout run done.",
}
_SETTABLE = ("pending", "duplicate", "fraud", "canceled")


def _program(session: Session, page: Page) -> Program | None:
    """The program, or ``None`` below the Business plan (the page shows the plan gate)."""
    try:
        return programs.default_program(session, page.workspace)
    except Forbidden:
        return None


def _overview(
    session: Session,
    page: Page,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    program = _program(session, page)
    context: dict[str, Any] = {"program": program, "errors": errors or {}, "values": values or {}}
    if program is not None:
        listed = partner_rows.page(session, page.workspace.id, PartnerFilters(pageSize=100))
        context.update(rewards=programs.rewards_of(session, program), partners=listed)
    return render(
        "program.html", status=status, **page.context("program", notice=notice, **context)
    )


def _done(page: Page, where: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/dashboard/{page.slug}/program{where}?done={what}", status_code=303)


@router.get("", response_class=HTMLResponse)
def overview(
    page: ViewDep, session: SessionDep, done: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    """Partners with their totals, the rewards and the program's settings."""
    return _overview(session, page, notice=_DONE.get(done))


@router.post("/partners", response_model=None)
def create_partner(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    email: Short = "",
    name: Short = "",
    url: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """Enroll a partner, with a first link to ``url`` (or the program's default)."""
    values = {"email": email, "name": name, "url": url}
    try:
        body = PartnerCreate.model_validate({"email": email, "name": name or None})
        _, partner, made = partners.create(
            session, services.links, page.workspace, body, page.member.user.id
        )
        if url.strip() and not made:
            wanted = PartnerLinkCreate.model_validate({"partnerId": partner.id, "url": url})
            partners.create_link(
                session, services.links, page.workspace, wanted, page.member.user.id
            )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "email"
        message = exc.errors()[0]["msg"] if exc.errors() else "is not valid"
        session.rollback()
        return _overview(
            session, page, status=422, errors={f"partner_{field}": message}, values=values
        )
    except CodeQRError as exc:
        session.rollback()
        field = exc.message.split(":", 1)[0] if ":" in exc.message else "email"
        key = "partner_url" if field in ("url", "linkProps") else "partner_email"
        return _overview(
            session, page, status=exc.status_code, errors={key: exc.message}, values=values
        )
    return RedirectResponse(
        f"/dashboard/{page.slug}/program/partners/{partner.id}?done=partner", status_code=303
    )


@router.post("/rewards", response_model=None)
def set_reward(
    page: WriteDep,
    session: SessionDep,
    event: Short = "",
    type: Short = "",
    amount: Short = "",
    duration: Short = "one_time",
    months: Short = "",
) -> Response:
    """Set the reward of one event: flat (in the program's currency) or a percentage."""
    values = {"event": event, "type": type, "amount": amount, "months": months}
    program = _program(session, page)
    if program is None:
        raise not_found("This program")
    try:
        kind = RewardType(type)
        what = RewardEvent(event)
    except ValueError:
        return _overview(
            session, page, status=422, errors={"reward": "Pick an event and a type."}, values=values
        )
    try:
        if kind is RewardType.flat:
            value: float = parse_major(amount, program.currency, "amount")
        else:
            value = float(amount.strip().rstrip("%") or "nan")
        spec = RewardSpec(
            what,
            kind,
            value,
            months=int(months) if duration == "recurring" and months.strip().isdigit() else None,
            lifetime=duration == "lifetime",
        )
        if duration == "recurring" and spec.months is None:
            raise Unprocessable("months: a recurring reward needs its number of months")
        programs.set_reward(session, page.workspace, spec)
    except (CodeQRError, ValueError) as exc:
        session.rollback()
        message = (
            exc.message if isinstance(exc, CodeQRError) else f"amount: {amount!r} is not a number"
        )
        return _overview(session, page, status=422, errors={"reward": message}, values=values)
    return _done(page, "", "reward")


@router.post("/settings", response_model=None)
def update_settings(
    page: WriteDep,
    session: SessionDep,
    holding_days: Short = "",
    min_payout: Short = "",
    default_url: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """The holding period, the minimum payout (in major units) and the default link URL."""
    values = {"holding_days": holding_days, "min_payout": min_payout, "default_url": default_url}
    program = _program(session, page)
    if program is None:
        raise not_found("This program")
    try:
        if not holding_days.strip().isdigit():
            raise Unprocessable("holdingPeriodDays: a whole number of days")
        minimum = (
            parse_major(min_payout, program.currency, "minPayoutAmount")
            if min_payout.strip() not in ("", "0")
            else 0
        )
        programs.update_settings(
            session,
            program,
            holding_days=int(holding_days),
            min_payout=minimum,
            url=default_url.strip(),
        )
    except CodeQRError as exc:
        session.rollback()
        return _overview(session, page, status=422, errors={"settings": exc.message}, values=values)
    return _done(page, "", "settings")


def _partner(session: Session, page: Page, partner_id: str) -> tuple[Enrollment, Partner]:
    try:
        return partners.find(session, page.workspace, Selector(partnerId=partner_id))
    except (NotFound, Forbidden) as exc:
        raise not_found("This partner") from exc


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
def partner_page(
    partner_id: PartnerId,
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """One partner: totals, links, newest commissions, and the portal invitation."""
    enrollment, partner = _partner(session, page, partner_id)
    invite = None
    if page.member.can_write:
        token = portal.invite_token(services.settings.secret(), partner)
        query = urlencode({"token": token})
        invite = f"{services.links.ctx.public_url}{PORTAL_PREFIX}/{page.slug}/invite?{query}"
    filters = CommissionFilters(partnerId=partner.id, pageSize=PAGE_SIZE)
    return render(
        "program_partner.html",
        **page.context(
            "program",
            notice=_DONE.get(done),
            partner=partner,
            enrollment=enrollment,
            totals=partner_rows.totals(session, page.workspace.id, partner.id),
            links=partner_rows.links_of(session, page.workspace.id, [partner.id], 100),
            commissions=commissions.list_commissions(session, page.workspace, filters),
            invite=invite,
            short_link=services.links.ctx.short_link,
            portal=f"{PORTAL_PREFIX}/{page.slug}",
        ),
    )


@router.get("/commissions", response_class=HTMLResponse)
def commission_list(
    page: ViewDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    type: Annotated[str, Query(max_length=20)] = "",
    partner: Annotated[str, Query(max_length=40)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """Commissions, newest first, filtered by status, type and partner; bulk status."""
    program = _program(session, page)
    rows: list[Commission] = []
    names: dict[str, str] = {}
    if program is not None:
        filters = CommissionFilters.model_validate(
            {
                "status": status if status in tuple(CommissionStatus) else None,
                "type": type if type in tuple(CommissionType) else None,
                "partnerId": partner or None,
                "page": page_number,
                "pageSize": PAGE_SIZE,
            }
        )
        rows = commissions.list_commissions(session, page.workspace, filters)
        ids = {row.partner_id for row in rows}
        query = select(Partner.id, Partner.name).where(Partner.id.in_(ids))
        names = {str(row[0]): str(row[1]) for row in session.execute(query)}
    return render(
        "program_commissions.html",
        **page.context(
            "program",
            notice=_DONE.get(done),
            program=program,
            rows=rows,
            names=names,
            filters={"status": status, "type": type, "partner": partner},
            statuses=[s.value for s in CommissionStatus],
            types=[t.value for t in CommissionType],
            settable=_SETTABLE,
            page_number=page_number,
            has_next=len(rows) == PAGE_SIZE,
        ),
    )


@router.post("/commissions/status", response_model=None)
def bulk_status(
    page: WriteDep,
    session: SessionDep,
    status: Short = "",
    commission_ids: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> Response:
    """One status for the ticked commissions (all or none)."""
    try:
        body = BulkStatusUpdate.model_validate(
            {"commissionIds": commission_ids or [], "status": status}
        )
    except ValidationError as exc:
        raise _refused(
            "Pick at least one commission (at most 100) and a status: " + ", ".join(_SETTABLE) + "."
        ) from exc
    try:
        commissions.update_many(session, page.workspace, body)
    except NotFound as exc:
        raise not_found("A commission") from exc
    except CodeQRError as exc:
        raise _refused(exc.message) from exc
    return _done(page, "/commissions", "status")


def _refused(message: str) -> PageError:
    return PageError(422, "Not changed", message)


@router.get("/payouts", response_class=HTMLResponse)
def payout_list(
    page: ViewDep,
    session: SessionDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """Payouts, newest first, with "mark paid" and the CSV export."""
    program = _program(session, page)
    rows = []
    if program is not None:
        filters = PayoutFilters.model_validate({"page": page_number, "pageSize": PAGE_SIZE})
        rows = payouts.list_payouts(session, page.workspace, filters)
    return render(
        "program_payouts.html",
        **page.context(
            "program",
            notice=_DONE.get(done),
            program=program,
            rows=rows,
            page_number=page_number,
            has_next=len(rows) == PAGE_SIZE,
        ),
    )


@router.post("/payouts/run", response_model=None)
def payout_run(page: WriteDep, session: SessionDep) -> Response:
    """Move due commissions into payouts now (as ``codeqr payouts run``)."""
    if _program(session, page) is None:
        raise not_found("This program")
    payouts.run(session, page.workspace)
    return _done(page, "/payouts", "run")


@router.post("/payouts/{payout_id}/paid", response_model=None)
def mark_paid(
    payout_id: PayoutId,
    page: WriteDep,
    session: SessionDep,
    reference: Annotated[str, Form(max_length=190)] = "",
) -> Response:
    """The payout was paid outside CodeQR, with this reference."""
    try:
        payouts.mark_paid(session, page.workspace, payout_id, reference.strip() or None)
    except (NotFound, Forbidden) as exc:
        raise not_found("This payout") from exc
    except CodeQRError as exc:
        raise _refused(exc.message) from exc
    return _done(page, "/payouts", "paid")


@router.get("/payouts.csv", response_model=None)
def payouts_csv(page: ViewDep, session: SessionDep) -> Response:
    """Every payout as CSV (amounts in minor units), for the bank or the accountant."""
    if _program(session, page) is None:
        raise not_found("This program")
    body = payouts.export_csv(payouts.export_rows(session, page.workspace))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="payouts-{page.slug}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )

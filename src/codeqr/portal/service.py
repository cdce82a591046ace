"""Rules of the partner portal: invitations, the partner's password, sessions, and what a
signed-in partner is shown.

A partner is invited by a link the workspace's team hands them (CodeQR sends no mail): it
carries a signed token naming the partner and a fingerprint of their password as it is, so
it stops working once used (the password changed) and after ``INVITE_DAYS``. Signing in
opens a session of the portal of that one workspace. Everything shown is filtered by the
partner's id: their links, their commissions (customers' emails masked), their payouts.

Services never commit; the request's transaction does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from codeqr.commission.models import Commission
from codeqr.customer.models import Customer
from codeqr.kit.clock import now_ms, to_ms, utcnow
from codeqr.kit.errors import Unprocessable
from codeqr.kit.ids import new_id
from codeqr.kit.passwords import hash_password, hash_token, verify_password
from codeqr.link.models import Link
from codeqr.partner import repository as partner_rows
from codeqr.partner.models import Enrollment, EnrollmentStatus, Partner
from codeqr.partner.repository import Totals
from codeqr.payout.models import Payout
from codeqr.portal.models import PartnerSession
from codeqr.program.models import Program
from codeqr.workspace.models import Workspace

INVITE_DAYS = 7
SESSION_LIFETIME = timedelta(days=14)
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
SHOWN = 50
"""Rows of each list the portal shows (the newest)."""
LINKS_SHOWN = 100


class InviteInvalid(Exception):
    """The invitation link is forged, used, expired, or names no partner of the workspace."""


@lru_cache(maxsize=8)
def _invites(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="codeqr.portal.invite")


def _fingerprint(partner: Partner) -> str:
    # Changes when the password does: an invitation works once.
    return hashlib.sha256((partner.password_hash or "").encode()).hexdigest()[:16]


def invite_token(secret: str, partner: Partner) -> str:
    """The token of the partner's invitation link (valid ``INVITE_DAYS``, once)."""
    return _invites(secret).dumps({"p": partner.id, "v": _fingerprint(partner)})


def invited_partner(session: Session, secret: str, workspace: Workspace, token: str) -> Partner:
    """The partner an invitation token names; ``InviteInvalid`` when it is no longer good."""
    try:
        data: Any = _invites(secret).loads(token[:512], max_age=INVITE_DAYS * 86_400)
    except BadSignature as exc:
        raise InviteInvalid from exc
    if not isinstance(data, dict) or not isinstance(data.get("p"), str):
        raise InviteInvalid
    partner = _partner(session, workspace, data["p"])
    if partner is None or data.get("v") != _fingerprint(partner):
        raise InviteInvalid
    return partner


def set_password(partner: Partner, password: str) -> None:
    """The partner's portal password (422 when too short or too long)."""
    if len(password) < PASSWORD_MIN:
        raise Unprocessable(f"password: must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise Unprocessable(f"password: at most {PASSWORD_MAX} characters")
    partner.password_hash = hash_password(password)
    partner.updated_at = utcnow()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(
    session: Session, workspace: Workspace, email: str, password: str
) -> Partner | None:
    """The partner of this workspace whose email and password these are, if allowed in.

    An unknown email (or a partner without a password) still costs one argon2 check, so the
    answer's time does not tell who is a partner.
    """
    password = password[:PASSWORD_MAX]
    partner = session.scalar(
        select(Partner).where(
            Partner.workspace_id == workspace.id, Partner.email == email.strip().lower()
        )
    )
    if partner is None or partner.password_hash is None:
        verify_password(_decoy_hash(), password)
        return None
    if not verify_password(partner.password_hash, password):
        return None
    return partner if _allowed(session, partner) else None


def _allowed(session: Session, partner: Partner) -> bool:
    # A banned partner is shut out of the portal; a deactivated one still sees their history.
    status = session.scalar(select(Enrollment.status).where(Enrollment.partner_id == partner.id))
    return status is not None and status != EnrollmentStatus.banned.value


def _partner(session: Session, workspace: Workspace, partner_id: str) -> Partner | None:
    return session.scalar(
        select(Partner).where(Partner.workspace_id == workspace.id, Partner.id == partner_id)
    )


@dataclass(frozen=True)
class Started:
    token: str
    expires_at: datetime


def start_session(session: Session, partner: Partner) -> Started:
    """A new portal session; only its token's SHA-256 is stored. The partner's expired
    sessions go, so their number stays bounded by sign-ins within a lifetime."""
    now = utcnow()
    session.execute(
        delete(PartnerSession).where(
            PartnerSession.partner_id == partner.id, PartnerSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session.add(
        PartnerSession(
            id=new_id("psess"),
            partner_id=partner.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return Started(token, expires_at)


def end_sessions(session: Session, partner: Partner) -> None:
    """Every session of the partner ends (a new password was set)."""
    session.execute(delete(PartnerSession).where(PartnerSession.partner_id == partner.id))


def resolve(session: Session, workspace: Workspace, token: str) -> Partner | None:
    """The partner signed in with this cookie token on this workspace's portal, if any.

    A session of another workspace's portal, an expired one, or a banned partner's, is none.
    """
    if not token or len(token) > 128:
        return None
    found = session.execute(
        select(PartnerSession, Partner)
        .join(Partner, Partner.id == PartnerSession.partner_id)
        .where(
            PartnerSession.token_hash == hash_token(token),
            Partner.workspace_id == workspace.id,
        )
    ).first()
    if found is None or to_ms(found[0].expires_at) <= now_ms():
        return None
    partner: Partner = found[1]
    return partner if _allowed(session, partner) else None


def end_session(session: Session, token: str) -> None:
    """Sign out: the session stops working at once."""
    if token and len(token) <= 128:
        session.execute(
            delete(PartnerSession).where(PartnerSession.token_hash == hash_token(token))
        )


def mask_email(email: str | None) -> str:
    """``j•••@e•••.com``: enough for a partner to tell their referrals apart, not to
    write to them."""
    if not email or "@" not in email:
        return "—"
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_host = (host[:1] + "•••") if host else "•••"
    return f"{local[:1]}•••@{masked_host}{'.' + tld if tld else ''}"


@dataclass(frozen=True)
class PortalCommission:
    id: str
    type: str
    status: str
    amount: int
    earnings: int
    currency: str
    customer: str
    created_at: datetime


@dataclass(frozen=True)
class PortalView:
    """What the portal's page shows a signed-in partner: theirs only."""

    partner: Partner
    enrollment_status: str
    program: Program | None
    links: list[Link]
    totals: Totals
    commissions: list[PortalCommission]
    payouts: list[Payout]
    pending: int
    """Earnings not yet paid (pending and processed commissions)."""


def view(session: Session, workspace: Workspace, partner: Partner) -> PortalView:
    """The partner's links, totals, newest commissions and payouts."""
    enrollment = session.scalar(select(Enrollment).where(Enrollment.partner_id == partner.id))
    program = session.get(Program, enrollment.program_id) if enrollment is not None else None
    links = partner_rows.links_of(session, workspace.id, [partner.id], LINKS_SHOWN)
    totals = partner_rows.totals(session, workspace.id, partner.id)
    rows = session.execute(
        select(Commission, Customer.email)
        .outerjoin(
            Customer,
            (Customer.id == Commission.customer_id) & (Customer.workspace_id == workspace.id),
        )
        .where(Commission.workspace_id == workspace.id, Commission.partner_id == partner.id)
        .order_by(Commission.created_at.desc(), Commission.id.desc())
        .limit(SHOWN)
    ).all()
    commissions = [
        PortalCommission(
            c.id,
            c.type,
            c.status,
            c.amount,
            c.earnings,
            c.currency,
            mask_email(email) if c.customer_id else "—",
            c.created_at,
        )
        for c, email in rows
    ]
    payouts = list(
        session.scalars(
            select(Payout)
            .where(Payout.workspace_id == workspace.id, Payout.partner_id == partner.id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
            .limit(SHOWN)
        )
    )
    pending = sum(c.earnings for c in commissions if c.status in ("pending", "processed"))
    return PortalView(
        partner,
        enrollment.status if enrollment is not None else EnrollmentStatus.deactivated.value,
        program,
        links,
        totals,
        commissions,
        payouts,
        pending,
    )


def partner_link(
    session: Session, workspace: Workspace, partner: Partner, link_id: str
) -> Link | None:
    """One of the partner's own links; ``None`` for any other."""
    return session.scalar(
        select(Link).where(
            Link.workspace_id == workspace.id,
            Link.partner_id == partner.id,
            Link.id == link_id,
        )
    )

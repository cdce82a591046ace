"""Commissions earned by events on partners' links, in the event's own transaction.

``conversion.flows`` (track.lead / track.sale, server and browser) and the Stripe handlers
call ``on_lead`` / ``on_sale`` right after they inserted a lead or a sale (never for a
repeat: the event's own unique key decided that), and ``on_refund`` after a refund. The
commission's
``(program, type, event)`` key is a second claim in the same transaction, so an event
makes exactly one commission even when its insert and this one race other deliveries:
both commit together or neither does.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.orm import Session

from codeqr.commission.models import Commission, CommissionStatus, CommissionType
from codeqr.events.models import lead_events
from codeqr.kit.clock import from_ms, utcnow
from codeqr.kit.hooks import notes
from codeqr.kit.ids import sorted_id
from codeqr.kit.prepared import insert_unless_exists as prepared_insert_unless_exists
from codeqr.kit.prepared import prepared
from codeqr.link.models import Link
from codeqr.partner.models import Enrollment, EnrollmentStatus
from codeqr.payout.models import Payout
from codeqr.program.models import Reward, RewardDuration, RewardEvent, RewardType
from codeqr.program.schemas import PERCENT_SCALE

_commissions = cast(Table, Commission.__table__)
# Commissions that count as "the customer has already earned the partner something".
_COUNTED = (
    CommissionStatus.pending.value,
    CommissionStatus.processed.value,
    CommissionStatus.paid.value,
    CommissionStatus.refunded.value,
)


class Terms(NamedTuple):
    """What a reward pays (a ``Reward`` row's fields, read without the ORM)."""

    type: str
    amount: int
    duration: str
    months: int | None


@dataclass(frozen=True)
class Earner:
    """The partner behind a link, when its enrollment is active, and its reward."""

    program_id: str
    partner_id: str
    link_id: str
    reward: Terms


_links = cast(Table, Link.__table__)
_enrollments = cast(Table, Enrollment.__table__)
_rewards = cast(Table, Reward.__table__)
# One prepared read for every event on a link: a plain link finds no partner (the whole
# cost of earning on links without one), a partner's link its enrollment and reward.
_EARNER = (
    select(
        _links.c.program_id,
        _links.c.partner_id,
        _enrollments.c.status,
        _rewards.c.type,
        _rewards.c.amount,
        _rewards.c.duration,
        _rewards.c.months,
    )
    .select_from(
        _links.outerjoin(
            _enrollments,
            (_enrollments.c.program_id == _links.c.program_id)
            & (_enrollments.c.partner_id == _links.c.partner_id),
        ).outerjoin(
            _rewards,
            (_rewards.c.group_id == _enrollments.c.group_id)
            & (_rewards.c.event == bindparam("event")),
        )
    )
    .where(_links.c.id == bindparam("link_id"))
)
_LEAD_ID = select(lead_events.c.id).where(
    lead_events.c.customer_id == bindparam("customer_id"),
    lead_events.c.event_name == bindparam("event_name"),
)


def _earner(session: Session, link_id: str | None, event: RewardEvent) -> Earner | None:
    """Who earns for an event on this link: ``None`` for a plain link, an inactive
    partner, or no reward."""
    if link_id is None:
        return None
    row = prepared(_EARNER, session).first(session, {"link_id": link_id, "event": event.value})
    if row is None or row[1] is None or row[2] != EnrollmentStatus.active or row[3] is None:
        return None
    return Earner(row[0], row[1], link_id, Terms(row[3], int(row[4]), row[5], row[6]))


def _claim(session: Session, values: dict[str, object]) -> bool:
    made = prepared_insert_unless_exists(
        session, _commissions, values, ("program_id", "type", "event_id")
    )
    if made and (hooks := notes(session)) is not None:
        link_id = values.get("link_id")
        hooks.commission_created(
            session,
            str(values["workspace_id"]),
            str(values["id"]),
            str(link_id) if link_id else None,
        )
    return made


def _row(
    earner: Earner,
    workspace_id: str,
    kind: CommissionType,
    event_id: str,
    *,
    customer_id: str | None,
    amount: int,
    earnings: int,
    currency: str,
    quantity: int,
    invoice_id: str | None,
    at: datetime,
    rate: int | None = None,
) -> dict[str, object]:
    return {
        "id": sorted_id("cm"),
        "workspace_id": workspace_id,
        "program_id": earner.program_id,
        "partner_id": earner.partner_id,
        "link_id": earner.link_id,
        "customer_id": customer_id,
        "payout_id": None,
        "type": kind.value,
        "event_id": event_id,
        "invoice_id": invoice_id,
        "amount": amount,
        "earnings": earnings,
        "rate": rate,
        "currency": currency,
        "quantity": quantity,
        "status": CommissionStatus.pending.value,
        "description": None,
        "created_at": at,
        "updated_at": at,
    }


def on_lead(
    session: Session,
    *,
    workspace_id: str,
    currency: str,
    link_id: str,
    customer_id: str,
    event_name: str,
    quantity: int,
    at_ms: int,
) -> bool:
    """The lead reward for a lead just recorded; whether a commission was made."""
    earner = _earner(session, link_id, RewardEvent.lead)
    if earner is None:
        return False
    # The lead's own id: its unique key is (customer, event name).
    found = prepared(_LEAD_ID, session).first(
        session, {"customer_id": customer_id, "event_name": event_name}
    )
    if found is None:  # pragma: no cover - called right after the lead's insert
        return False
    reward = earner.reward
    row = _row(
        earner,
        workspace_id,
        CommissionType.lead,
        found[0],
        customer_id=customer_id,
        amount=0,
        earnings=reward.amount * quantity,
        currency=currency,
        quantity=quantity,
        invoice_id=None,
        at=from_ms(at_ms),
    )
    return _claim(session, row)


def on_sale(
    session: Session,
    *,
    workspace_id: str,
    sale_id: str,
    link_id: str | None,
    customer_id: str | None,
    reporting_amount: int | None,
    currency: str,
    invoice_id: str | None,
    at_ms: int,
) -> bool:
    """The sale reward for a sale just recorded; whether a commission was made.

    A sale with no amount in the reporting currency (no exchange rate) earns nothing: its
    commission could not be computed in the program's currency.
    """
    if customer_id is None or reporting_amount is None:
        return False
    earner = _earner(session, link_id, RewardEvent.sale)
    if earner is None:
        return False
    at = from_ms(at_ms)
    if not _within_duration(session, earner, customer_id, at):
        return False
    row = _row(
        earner,
        workspace_id,
        CommissionType.sale,
        sale_id,
        customer_id=customer_id,
        amount=reporting_amount,
        earnings=sale_earnings(earner.reward, reporting_amount),
        currency=currency,
        quantity=1,
        invoice_id=invoice_id,
        at=at,
        rate=earner.reward.amount if earner.reward.type == RewardType.percentage else None,
    )
    return _claim(session, row)


def on_refund(
    session: Session, *, workspace_id: str, sale_id: str, refund_id: str, net_amount: int
) -> None:
    """The sale's commission after a refund left ``net_amount`` of the sale (reporting
    currency). What the partner should now earn: at the rate the commission was earned at
    for a percentage one, the same for a flat one, nothing once the sale is refunded in
    full. Then, by where the commission is:

    - ``pending``: it changes (``refunded`` at zero);
    - ``processed`` (in a payout not yet paid): it changes, and its payout with it;
    - ``paid``: it stays as paid, and a negative commission (a clawback, claimed under the
      refund's id) takes back the difference in the partner's next payout.

    The caller holds the sale's lock (refunds of one sale are serialized), so what is read
    here includes every earlier refund and clawback.
    """
    commission = session.scalar(
        select(Commission).where(
            Commission.workspace_id == workspace_id,
            Commission.type == CommissionType.sale.value,
            Commission.event_id == sale_id,
        )
    )
    if commission is None:
        return
    net = max(net_amount, 0)
    if net == 0:
        owed = 0
    elif commission.rate is not None:
        owed = percent_of(net, commission.rate)
    else:
        owed = commission.earnings
    now = utcnow()
    if commission.status == CommissionStatus.paid:
        _claw_back(session, commission, sale_id, refund_id, owed, now)
        return
    if commission.status not in (CommissionStatus.pending, CommissionStatus.processed):
        return  # canceled, fraud, duplicate, refunded: owes nothing already
    before = commission.earnings if commission.status == CommissionStatus.processed else None
    if net == 0:
        commission.status = CommissionStatus.refunded.value
    else:
        commission.amount, commission.earnings = net, owed
    if before is not None and commission.payout_id is not None:
        # Out of the payout: all of it when refunded, else the difference.
        change = -before if net == 0 else owed - before
        payout = session.get(Payout, commission.payout_id)
        if payout is not None:
            payout.amount += change
            payout.updated_at = now
        if net == 0:
            commission.payout_id = None
    commission.updated_at = now
    session.flush()


def _claw_back(
    session: Session,
    commission: Commission,
    sale_id: str,
    refund_id: str,
    owed: int,
    at: datetime,
) -> None:
    """A negative commission for what a paid commission earned beyond ``owed``."""
    prefix = f"{sale_id}/"
    taken = session.scalar(
        select(func.coalesce(func.sum(Commission.earnings), 0)).where(
            Commission.program_id == commission.program_id,
            Commission.type == CommissionType.custom.value,
            Commission.event_id.like(prefix + "%"),  # sale ids are base62: no wildcards
        )
    )
    change = owed - (commission.earnings + int(taken or 0))
    if change >= 0:
        return
    _claim(
        session,
        {
            "id": sorted_id("cm"),
            "workspace_id": commission.workspace_id,
            "program_id": commission.program_id,
            "partner_id": commission.partner_id,
            "link_id": commission.link_id,
            "customer_id": commission.customer_id,
            "payout_id": None,
            "type": CommissionType.custom.value,
            "event_id": prefix + refund_id,
            "invoice_id": commission.invoice_id,
            "amount": 0,
            "earnings": change,
            "rate": None,
            "currency": commission.currency,
            "quantity": 1,
            "status": CommissionStatus.pending.value,
            "description": f"Clawback: refund of sale {sale_id} after commission {commission.id}",
            "created_at": at,
            "updated_at": at,
        },
    )


def sale_earnings(reward: Reward | Terms, sale_amount: int) -> int:
    """What a sale of ``sale_amount`` (minor units, net) earns under ``reward``: the flat
    amount, or the percentage rounded half up to the minor unit."""
    if reward.type == RewardType.flat:
        return reward.amount
    return percent_of(sale_amount, reward.amount)


def percent_of(amount: int, rate: int) -> int:
    """``rate`` hundredths of a percent of ``amount``, rounded half away from zero."""
    scaled = amount * rate
    whole = 100 * PERCENT_SCALE
    return (scaled + whole // 2) // whole if scaled >= 0 else -((-scaled + whole // 2) // whole)


_FIRST_SALE = (
    select(_commissions.c.created_at)
    .where(
        _commissions.c.program_id == bindparam("program_id"),
        _commissions.c.partner_id == bindparam("partner_id"),
        _commissions.c.customer_id == bindparam("customer_id"),
        _commissions.c.type == CommissionType.sale.value,
        or_(*(_commissions.c.status == status for status in _COUNTED)),  # no expanding IN
    )
    .order_by(_commissions.c.created_at)
    .limit(1)
)


def _within_duration(session: Session, earner: Earner, customer_id: str, at: datetime) -> bool:
    """Whether a sale of this customer at ``at`` still earns under the reward's duration:
    one-time pays the customer's first commissioned sale only, recurring pays for
    ``months`` from the customer's first sale commission, lifetime always."""
    duration = earner.reward.duration
    if duration == RewardDuration.lifetime:
        return True
    found = prepared(_FIRST_SALE, session).first(
        session,
        {
            "program_id": earner.program_id,
            "partner_id": earner.partner_id,
            "customer_id": customer_id,
        },
    )
    if found is None:
        return True
    first: datetime = found[0]
    if duration == RewardDuration.one_time:
        return False
    if first.tzinfo is None:  # SQLite hands back naive UTC times
        first = first.replace(tzinfo=UTC)
    return at < add_months(first, earner.reward.months or 0)


def add_months(when: datetime, months: int) -> datetime:
    """``when`` plus whole calendar months (the 31st becomes the month's last day)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    day = min(when.day, monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)

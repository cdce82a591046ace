"""The program API under ``/api/program``: the workspace's default program, its settings
and rewards (business plan and up; secret keys only).

Dub's public API has no such routes (its rewards are set in its dashboard); these are
CodeQR's own, in Dub's style. They call the same service as the dashboard and
``codeqr program``, so the rules are the same wherever a program is changed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from sqlalchemy.orm import Session

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.kit.clock import iso
from codeqr.kit.errors import NotFound, Unprocessable
from codeqr.program import service
from codeqr.program.models import Program, Reward, RewardDuration, RewardEvent, RewardType
from codeqr.program.schemas import (
    PERCENT_SCALE,
    ProgramOut,
    ProgramUpdate,
    RewardDeleted,
    RewardIn,
    RewardOut,
)

router = APIRouter(prefix="/program", tags=["program"])
EventPath = Annotated[RewardEvent, Path(description="click, lead or sale")]


def reward_out(reward: Reward) -> RewardOut:
    """A reward as the API shows it: ``amount`` a percentage for percentage rewards,
    ``maxDuration`` 0 (one-time), N months or ``null`` (lifetime)."""
    flat = reward.type == RewardType.flat
    duration = RewardDuration(reward.duration)
    return RewardOut(
        id=reward.id,
        event=RewardEvent(reward.event),
        type=RewardType(reward.type),
        amount=reward.amount if flat else reward.amount / PERCENT_SCALE,
        max_duration=(
            None
            if duration is RewardDuration.lifetime
            else reward.months
            if duration is RewardDuration.recurring
            else 0
        ),
        duration=duration,
        group_id=reward.group_id,
        created_at=iso(reward.created_at) or "",
        updated_at=iso(reward.updated_at) or "",
    )


def _rewards(session: Session, program: Program) -> list[RewardOut]:
    found = service.rewards_of(session, program)
    return [reward_out(found[e.value]) for e in RewardEvent if e.value in found]


def program_out(session: Session, program: Program) -> ProgramOut:
    """The program with its default group's rewards (click, lead, sale order)."""
    return ProgramOut(
        id=program.id,
        name=program.name,
        currency=program.currency,
        default_domain=program.default_domain,
        default_url=program.default_url,
        holding_period_days=program.holding_period_days,
        min_payout_amount=program.min_payout_amount,
        rewards=_rewards(session, program),
        created_at=iso(program.created_at) or "",
        updated_at=iso(program.updated_at) or "",
    )


@router.get("", response_model=ProgramOut)
def get_program(caller: CallerDep, session: SessionDep) -> ProgramOut:
    """The workspace's program (made on first use) with its settings and rewards."""
    return program_out(session, service.default_program(session, caller.workspace))


@router.patch("", response_model=ProgramOut)
def update_program(
    body: Annotated[ProgramUpdate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> ProgramOut:
    """Change the program's name, holding period, minimum payout, default destination or
    default domain (all checked before anything changes)."""
    program = service.default_program(session, caller.workspace)
    if body.currency is not None and body.currency.strip().upper() != program.currency:
        raise Unprocessable(
            f"currency: the program's currency is {program.currency}, fixed when it was made "
            "(its commissions and payouts are in it)"
        )
    service.update_settings(
        session,
        program,
        holding_days=body.holding_period_days,
        min_payout=body.min_payout_amount,
        url=body.cleared_or("default_url"),
        name=body.name,
        domain=body.cleared_or("default_domain"),
        instance_domain=services.links.ctx.default_domain,
    )
    return program_out(session, program)


@router.get("/rewards", response_model=list[RewardOut])
def list_rewards(caller: CallerDep, session: SessionDep) -> list[RewardOut]:
    """The default group's rewards: at most one per event."""
    return _rewards(session, service.default_program(session, caller.workspace))


@router.put("/rewards/{event}", response_model=RewardOut)
def set_reward(
    event: EventPath, body: Annotated[RewardIn, Body()], caller: CallerDep, session: SessionDep
) -> RewardOut:
    """Set the reward of one event (replacing the one it had); it applies to events from
    now on."""
    return reward_out(service.set_reward(session, caller.workspace, body.spec(event)))


@router.delete("/rewards/{event}", response_model=RewardDeleted)
def delete_reward(event: EventPath, caller: CallerDep, session: SessionDep) -> RewardDeleted:
    """Remove the reward of one event: partners stop earning for it (commissions already
    made stay). 404 when the program has none for that event."""
    if not service.delete_reward(session, caller.workspace, event):
        raise NotFound(f"The program has no {event.value} reward.")
    return RewardDeleted(event=event)

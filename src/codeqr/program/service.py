"""Rules of programs: the default program made on first use, its default group, rewards.
Services never commit."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.db import insert_unless_exists
from codeqr.kit.errors import Unprocessable
from codeqr.kit.ids import new_id
from codeqr.link.models import Domain
from codeqr.link.urls import normalize_url
from codeqr.program.models import (
    DEFAULT_HOLDING_PERIOD_DAYS,
    DEFAULT_MIN_PAYOUT,
    PartnerGroup,
    Program,
    Reward,
    RewardEvent,
)
from codeqr.program.schemas import NAME_MAX, RewardSpec
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

FEATURE = "Partner programs"
HOLDING_DAYS_MAX = 365
MIN_PAYOUT_MAX = 100_000_000

DEFAULT_GROUP = "default"


def find_program(session: Session, workspace_id: str) -> Program | None:
    """The workspace's program, if it has made one."""
    return session.scalar(select(Program).where(Program.workspace_id == workspace_id))


def gate(session: Session, workspace: Workspace) -> Program | None:
    """403 below the business plan; the workspace's program if it has one (reads make
    none: an empty program lists nothing)."""
    require_plan(session, workspace, FEATURE)
    return find_program(session, workspace.id)


def default_program(session: Session, workspace: Workspace) -> Program:
    """The workspace's program, made with its default group on first use (403 below the
    business plan). Two first uses at once make one program: the workspace's unique key
    is the claim, and the loser reads the winner's row."""
    require_plan(session, workspace, FEATURE)
    program = find_program(session, workspace.id)
    if program is not None:
        return program
    now = utcnow()
    program_id = new_id("prog")
    row = {
        "id": program_id,
        "workspace_id": workspace.id,
        "name": workspace.name,
        "currency": workspace.currency,
        "holding_period_days": DEFAULT_HOLDING_PERIOD_DAYS,
        "min_payout_amount": DEFAULT_MIN_PAYOUT,
        "created_at": now,
        "updated_at": now,
    }
    if insert_unless_exists(session, cast(Table, Program.__table__), row, ("workspace_id",)):
        session.add(
            PartnerGroup(
                id=new_id("grp"),
                program_id=program_id,
                slug=DEFAULT_GROUP,
                name="Default",
                created_at=now,
            )
        )
        session.flush()
    program = find_program(session, workspace.id)
    assert program is not None
    return program


def default_group(session: Session, program: Program) -> PartnerGroup:
    """The program's default group (new partners join it)."""
    group = session.scalar(
        select(PartnerGroup).where(
            PartnerGroup.program_id == program.id, PartnerGroup.slug == DEFAULT_GROUP
        )
    )
    assert group is not None, "every program is made with its default group"
    return group


def set_reward(session: Session, workspace: Workspace, spec: RewardSpec) -> Reward:
    """Set the default group's reward for one event (replacing the one it had)."""
    amount = spec.stored_amount()
    duration, months = spec.duration()
    program = default_program(session, workspace)
    group = default_group(session, program)
    reward = session.scalar(
        select(Reward).where(Reward.group_id == group.id, Reward.event == spec.event.value)
    )
    now = utcnow()
    if reward is None:
        reward = Reward(id=new_id("rw"), program_id=program.id, group_id=group.id, created_at=now)
        session.add(reward)
    reward.event, reward.type, reward.amount = spec.event.value, spec.type.value, amount
    reward.duration, reward.months, reward.updated_at = duration.value, months, now
    session.flush()
    return reward


def delete_reward(session: Session, workspace: Workspace, event: RewardEvent) -> bool:
    """Remove the default group's reward for one event (its partners stop earning for it
    from now on; commissions already made stay). Whether there was one."""
    program = default_program(session, workspace)
    reward = reward_for(session, default_group(session, program).id, event)
    if reward is None:
        return False
    session.delete(reward)
    session.flush()
    return True


def rewards_of(session: Session, program: Program) -> dict[str, Reward]:
    """The default group's rewards by event (``click``, ``lead``, ``sale``)."""
    group = default_group(session, program)
    rows = session.scalars(select(Reward).where(Reward.group_id == group.id))
    return {reward.event: reward for reward in rows}


def reward_for(session: Session, group_id: str, event: RewardEvent) -> Reward | None:
    """The reward a group's partners earn for an event, if the group has one."""
    return session.scalar(
        select(Reward).where(Reward.group_id == group_id, Reward.event == event.value)
    )


def update_settings(
    session: Session,
    program: Program,
    *,
    holding_days: int | None = None,
    min_payout: int | None = None,
    url: str | None = None,
    name: str | None = None,
    domain: str | None = None,
    instance_domain: str = "",
) -> Program:
    """Change what was given of the program's name, holding period, minimum payout,
    default destination (checked like a link's) and default link domain (the instance's
    short domain or one of the workspace's; ``""`` clears the destination and the domain).
    Every check runs before anything changes."""
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= NAME_MAX or "\x00" in name:
            raise Unprocessable(f"name: 1 to {NAME_MAX} characters")
    if domain:
        domain = domain.strip().lower()
        owner = session.scalar(select(Domain.workspace_id).where(Domain.slug == domain))
        if domain != instance_domain and owner != program.workspace_id:
            raise Unprocessable(
                f"defaultDomain: {domain[:100]!r} is not a domain of this workspace"
            )
    if holding_days is not None and not 0 <= holding_days <= HOLDING_DAYS_MAX:
        raise Unprocessable(f"holdingPeriodDays: 0 to {HOLDING_DAYS_MAX}")
    if min_payout is not None and not 0 <= min_payout <= MIN_PAYOUT_MAX:
        raise Unprocessable(f"minPayoutAmount: 0 to {MIN_PAYOUT_MAX} minor units")
    destination = normalize_url(url, "defaultUrl") if url else None
    if holding_days is not None:
        program.holding_period_days = holding_days
    if min_payout is not None:
        program.min_payout_amount = min_payout
    if url is not None:
        program.default_url = destination
    if name is not None:
        program.name = name
    if domain is not None:
        program.default_domain = domain or None
    program.updated_at = utcnow()
    session.flush()
    return program

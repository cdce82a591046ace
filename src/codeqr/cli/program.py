"""``codeqr program …`` and ``codeqr payouts …``: a workspace's partner program from the
command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import urlencode

import typer
from sqlalchemy.orm import Session

from codeqr import bootstrap, migrate
from codeqr.kit.errors import CodeQRError
from codeqr.payout.models import PayoutStatus
from codeqr.program import service as programs
from codeqr.program.models import RewardEvent, RewardType
from codeqr.program.schemas import PERCENT_SCALE, RewardSpec
from codeqr.settings import Settings
from codeqr.workspace import service as ws

program_app = typer.Typer(help="The workspace's partner program.", no_args_is_help=True)

WorkspaceOpt = Annotated[str, typer.Option("--workspace", help="Workspace slug or id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@contextmanager
def _transaction() -> Iterator[Session]:
    settings = Settings()
    settings.ensure_data_dir()
    db = settings.database()
    try:
        migrate.upgrade(db.engine)
        with db.transaction() as session:
            yield session
    except CodeQRError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        db.dispose()


@program_app.command("reward")
def reward(
    workspace: WorkspaceOpt,
    event: Annotated[RewardEvent, typer.Option("--event", help="click, lead or sale.")],
    kind: Annotated[RewardType, typer.Option("--type", help="flat or percentage.")],
    amount: Annotated[
        float,
        typer.Option("--amount", help="Minor units for flat (500 is $5.00); a percentage."),
    ],
    months: Annotated[
        int | None, typer.Option("--months", help="Sale rewards: pay for N months.")
    ] = None,
    lifetime: Annotated[
        bool, typer.Option("--lifetime", help="Sale rewards: pay for every sale.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set the default group's reward for an event (a sale reward pays the customer's
    first sale only unless --months or --lifetime is given)."""
    spec = RewardSpec(event=event, type=kind, amount=amount, months=months, lifetime=lifetime)
    with _transaction() as session:
        found = ws.get_workspace(session, workspace)
        row = programs.set_reward(session, found, spec)
        data = {
            "id": row.id,
            "programId": row.program_id,
            "groupId": row.group_id,
            "event": row.event,
            "type": row.type,
            "amount": row.amount if row.type == RewardType.flat else row.amount / PERCENT_SCALE,
            "duration": row.duration,
            "months": row.months,
        }
    _emit(data, as_json)


@program_app.command("settings")
def settings(
    workspace: WorkspaceOpt,
    holding_days: Annotated[
        int | None,
        typer.Option("--holding-days", min=0, max=365, help="Days before a commission is due."),
    ] = None,
    min_payout: Annotated[
        int | None,
        typer.Option("--min-payout", min=0, max=100_000_000, help="Minor units."),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Default destination of partner links.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The program's name.")] = None,
    domain: Annotated[
        str | None,
        typer.Option("--domain", help="Default domain of partner links ('' clears it)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or change the program's name, holding period, minimum payout, default link
    destination and domain."""
    config = Settings()
    instance, _ = config.instance_urls(bootstrap.known_domain(config.data_dir) or "localhost:8000")
    with _transaction() as session:
        program = programs.default_program(session, ws.get_workspace(session, workspace))
        programs.update_settings(
            session,
            program,
            holding_days=holding_days,
            min_payout=min_payout,
            url=url,
            name=name,
            domain=domain,
            instance_domain=instance,
        )
        data = {
            "id": program.id,
            "name": program.name,
            "currency": program.currency,
            "holdingPeriodDays": program.holding_period_days,
            "minPayoutAmount": program.min_payout_amount,
            "defaultUrl": program.default_url,
            "defaultDomain": program.default_domain,
        }
    _emit(data, as_json)


@program_app.command("invite")
def invite(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option("--email", help="The partner's email.")],
    as_json: JsonOpt = False,
) -> None:
    """Print a partner's portal invitation link, to send them (valid 7 days, once)."""
    from sqlalchemy import select

    from codeqr.partner.models import Partner
    from codeqr.portal import service as portal
    from codeqr.portal.endpoints import PREFIX

    config = Settings()
    with _transaction() as session:
        found = ws.get_workspace(session, workspace)
        partner = session.scalar(
            select(Partner).where(
                Partner.workspace_id == found.id, Partner.email == email.strip().lower()
            )
        )
        if partner is None:
            typer.echo(f"error: no partner with email {email} in {found.slug}", err=True)
            raise typer.Exit(code=1)
        token = portal.invite_token(config.secret(), partner)
        _, base = config.instance_urls(bootstrap.known_domain(config.data_dir) or "localhost:8000")
        url = f"{base}{PREFIX}/{found.slug}/invite?{urlencode({'token': token})}"
    _emit({"partnerId": partner.id, "email": partner.email, "url": url}, as_json)


payouts_app = typer.Typer(help="Partner payouts.", no_args_is_help=True)


@payouts_app.command("run")
def payouts_run(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """Gather each partner's due commissions into a payout (past the holding period, when
    the total reaches the minimum payout)."""
    from codeqr.payout import service as payouts

    with _transaction() as session:
        done = payouts.run(session, ws.get_workspace(session, workspace))
        made = [
            {"id": p.id, "partnerId": p.partner_id, "amount": p.amount, "currency": p.currency}
            for p in done.payouts
        ]
    if as_json:
        typer.echo(json.dumps({"payouts": made, "belowMinimum": done.below_minimum}))
    else:
        for payout in made:
            typer.echo(" ".join(str(v) for v in payout.values()))
        typer.echo(f"{len(made)} payouts; {done.below_minimum} partners below the minimum")


@payouts_app.command("mark-paid")
def payouts_mark_paid(
    workspace: WorkspaceOpt,
    payout_id: Annotated[str, typer.Argument(help="The payout paid outside CodeQR.")],
    reference: Annotated[
        str | None, typer.Option("--reference", help="Your transfer's reference.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark a payout paid (payouts are made outside CodeQR): completed, commissions paid."""
    from codeqr.payout import service as payouts

    with _transaction() as session:
        payout = payouts.mark_paid(
            session, ws.get_workspace(session, workspace), payout_id, reference
        )
        data = {"id": payout.id, "status": payout.status, "reference": payout.reference}
    _emit(data, as_json)


@payouts_app.command("export")
def payouts_export(
    workspace: WorkspaceOpt,
    status: Annotated[
        PayoutStatus | None, typer.Option("--status", help="Only payouts of this status.")
    ] = None,
) -> None:
    """Write the workspace's payouts as CSV to standard output (amounts in minor units)."""
    from codeqr.payout import service as payouts

    with _transaction() as session:
        rows = payouts.export_rows(
            session, ws.get_workspace(session, workspace), status.value if status else None
        )
    sys.stdout.write(payouts.export_csv(rows))


def _emit(data: Mapping[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for name, value in data.items():
            typer.echo(f"{name}: {value}")

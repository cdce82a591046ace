"""``codeqr program …``: a workspace's partner program from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from codeqr import migrate
from codeqr.kit.errors import CodeQRError
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
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for name, value in data.items():
            typer.echo(f"{name}: {value}")

"""``codeqr events …``: move a deployment's events into ClickHouse."""

from __future__ import annotations

from typing import Annotated

import typer

from codeqr import migrate
from codeqr.events import clickhouse
from codeqr.events.copy import copy_events, count, shipping_began
from codeqr.settings import Settings

events_app = typer.Typer(help="The events store (clicks, leads, sales).", no_args_is_help=True)


@events_app.command("copy")
def copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The ClickHouse to copy into: chdb:///PATH (in-process), clickhouse://HOST "
            "or https://HOST (a server or ClickHouse Cloud).",
        ),
    ],
    page: Annotated[int, typer.Option(min=1, max=1_000_000, help="Rows per insert.")] = 50_000,
) -> None:
    """Copy every click, lead, sale and refund from the database into ClickHouse.

    Safe to stop and run again: it goes on where it stopped and copies nothing twice. At
    the end the counts per day are compared; any day that differs is listed (exit code 1).
    """
    try:
        clickhouse.check_url(to)
    except clickhouse.EventsUrlError as exc:
        typer.echo(f"error: --to: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    settings = Settings()
    settings.ensure_data_dir()
    db = settings.database()
    client = clickhouse.connect(to)
    try:
        migrate.upgrade(db.engine)
        clickhouse.migrate(client)
        began = shipping_began(client)
        total = sum(
            count(db, table, began if table == "click_events" else None)
            for table in clickhouse.TABLES
        )
        with typer.progressbar(length=total, label="copying events", file=None) as bar:
            reports = copy_events(db, client, page=page, progress=lambda _, rows: bar.update(rows))
    finally:
        client.close()
        db.dispose()
    differ = False
    for report in reports:
        typer.echo(f"{report.table}: {report.total} rows, {report.copied} copied now")
        for day, in_sql, in_clickhouse in report.mismatched_days:
            differ = True
            typer.echo(f"  {day}: {in_sql} in the database, {in_clickhouse} in ClickHouse")
    if differ:
        typer.echo("error: counts differ on the days listed", err=True)
        raise typer.Exit(code=1)
    typer.echo("counts per day equal in both stores")

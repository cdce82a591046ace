"""``codeqr stripe …``: connect a workspace to Stripe the self-hosted way, and replay events
whose handling failed."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codeqr import bootstrap, migrate
from codeqr.kit import logs
from codeqr.kit.errors import CodeQRError
from codeqr.settings import Settings
from codeqr.workspace import service as ws

if TYPE_CHECKING:
    from codeqr.services import Services

# The service container and Stripe's SDK are imported by the commands that use them: every
# other ``codeqr`` command starts seconds sooner without them.

stripe_app = typer.Typer(help="The Stripe integration.", no_args_is_help=True)


def _services(settings: Settings) -> Services:
    from codeqr.services import Services

    logs.configure(stream=sys.stderr)
    short, public = settings.instance_urls(
        bootstrap.known_domain(settings.data_dir) or "localhost:8000"
    )
    services = Services.build(settings, default_domain=short, public_url=public)
    migrate.upgrade(services.db.engine)
    return services


def _close(services: Services) -> None:
    services.recorder.close()
    services.key_usage.close()
    services.stripe.close()
    services.db.dispose()
    services.events.close()


def _emit(data: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data))
    elif isinstance(data, dict):
        for name, value in data.items():
            typer.echo(f"{name}: {value}")
    else:
        for item in data:
            typer.echo(json.dumps(item))


@stripe_app.command("connect")
def connect(
    workspace: Annotated[str, typer.Option(help="Workspace slug or id.")],
    account: Annotated[str, typer.Option(help="The Stripe account id, acct_….")],
    webhook_secret: Annotated[
        str | None, typer.Option(help="Signing secret (whsec_…) of the live-mode endpoint.")
    ] = None,
    test_webhook_secret: Annotated[
        str | None, typer.Option(help="Signing secret (whsec_…) of the test-mode endpoint.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="A restricted key (rk_…) of the account: Stripe is asked which account it "
            "belongs to, and only that account is bound. Kept to read customers and invoices. "
            "Needed unless the workspace already holds this account."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Bind a Stripe account to a workspace and print the webhook URL to give Stripe.

    Stripe must vouch for the account: --api-key is a key of that account. Live events are
    taken when --webhook-secret is given, test events when --test-webhook-secret is; with
    only the test secret the workspace is a sandbox whose test data are its figures."""
    from codeqr.stripe import service as connection
    from codeqr.stripe.handlers import HANDLERS

    if not webhook_secret and not test_webhook_secret:
        typer.echo("error: give --webhook-secret, --test-webhook-secret or both.", err=True)
        raise typer.Exit(code=1)
    modes = set()
    if webhook_secret:
        modes.add(connection.StripeMode.live)
    if test_webhook_secret:
        modes.add(connection.StripeMode.test)
    settings = Settings()
    services = _services(settings)
    try:
        with services.db.transaction() as session:
            target = ws.get_workspace(session, workspace)
            integration = connection.connect(
                session,
                services.stripe,
                target,
                account_id=account,
                webhook_secret=webhook_secret,
                test_webhook_secret=test_webhook_secret,
                api_key=api_key,
                modes=modes,
                via="cli",
            )
            data = {
                "workspaceId": target.id,
                "workspace": target.slug,
                "stripeAccountId": integration.account_id,
                "stripeModes": sorted(
                    m.value for m in connection.StripeMode if getattr(integration, m.value)
                ),
                "webhookUrl": connection.webhook_url(services.links.ctx.public_url, target.id),
                "events": sorted(HANDLERS),
            }
    except CodeQRError as exc:
        # The service names the API's fields; here they are options.
        message = exc.message.replace("stripeApiKey:", "--api-key:")
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        _close(services)
    _emit(data, as_json)


@stripe_app.command("disconnect")
def disconnect(
    workspace: Annotated[str, typer.Option(help="Workspace slug or id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Unbind the workspace's Stripe account."""
    from codeqr.stripe import service as connection

    services = _services(Settings())
    try:
        with services.db.transaction() as session:
            target = ws.get_workspace(session, workspace)
            done = connection.disconnect(session, target)
    except CodeQRError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        _close(services)
    _emit({"workspace": target.slug, "disconnected": done}, as_json)


@stripe_app.command("replay")
def replay(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace (slug or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Handle again every stored Stripe event whose handling failed or was put off."""
    from codeqr.stripe import webhooks

    services = _services(Settings())
    try:
        workspace_id = None
        if workspace is not None:
            with services.db.transaction() as session:
                workspace_id = ws.get_workspace(session, workspace).id
        results = webhooks.replay(services, workspace_id)
    except CodeQRError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        _close(services)
    failed = [r for r in results if r["status"] >= 500]
    _emit({"replayed": len(results), "failed": len(failed), "events": results}, as_json)
    if failed:
        raise typer.Exit(code=1)

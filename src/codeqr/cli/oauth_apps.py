"""``codeqr oauth-apps``: register and list the clients of the OAuth authorization server."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from codeqr.oauth import service
from codeqr.oauth.schemas import OAuthAppOut

oauth_apps = typer.Typer(help="Manage OAuth apps (e.g. the Stripe App).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@oauth_apps.command("create")
def create(
    name: Annotated[str, typer.Option(help="Shown to users on the consent page.")],
    redirect_uri: Annotated[
        list[str],
        typer.Option("--redirect-uri", help="An allowed redirect URI (exact match); repeatable."),
    ],
    no_pkce: Annotated[
        bool,
        typer.Option("--no-pkce", help="Do not require PKCE (the client must use its secret)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register an app; its client secret is printed once."""
    from codeqr.cli.main import _emit, _transaction  # main imports this module

    with _transaction() as (_, _db, session):
        created = service.register_app(
            session, name=name, redirect_uris=redirect_uri, pkce_required=not no_pkce
        )
        data = OAuthAppOut.of(created.app, created.client_secret).model_dump(mode="json")
    _emit(data, as_json)
    if not as_json:
        typer.echo("The client secret is shown this once: keep it now.")


@oauth_apps.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the registered apps (never their secrets)."""
    from codeqr.cli.main import _transaction

    with _transaction() as (_, _db, session):
        apps = [
            OAuthAppOut.of(app).model_dump(mode="json", exclude={"client_secret"})
            for app in service.list_apps(session)
        ]
    if as_json:
        typer.echo(json.dumps(apps))
        return
    for app in apps:
        typer.echo(f"{app['clientId']}  {app['name']}  {' '.join(app['redirectUris'])}")

"""``codeqr domains …``: the operator's check that a custom domain's DNS points here."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from codeqr import bootstrap, migrate
from codeqr.domain.dns import Resolver, Verdict, check, system_resolver
from codeqr.domain.service import DomainService
from codeqr.kit.db import Database
from codeqr.link.service import LinkContext
from codeqr.settings import Settings


def domains_app(resolve: Resolver = system_resolver) -> typer.Typer:
    """The ``domains`` commands, resolving names with ``resolve`` (tests pass their own)."""
    app = typer.Typer(help="Custom domains.", no_args_is_help=True)

    @app.callback()
    def domains() -> None:
        """Custom domains (managed through the API and the dashboard)."""

    @app.command("verify")
    def verify(
        slug: Annotated[str, typer.Argument(help="The custom domain, e.g. go.example.com.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Say whether the domain's DNS points at this instance (exit 1 if not); the API's
        ``verified`` keeps the answer."""
        settings = Settings()
        settings.ensure_data_dir()
        short, public = settings.instance_urls(
            bootstrap.known_domain(settings.data_dir) or "localhost:8000"
        )
        # Only the verified flag changes here, which the redirect does not read.
        domains = DomainService(LinkContext(short, public), lambda _domain, _key: None)
        db = Database(settings.sqlalchemy_url)
        try:
            migrate.upgrade(db.engine)
            with db.transaction() as session:
                domain = domains.by_slug(session, slug)
                if domain is None:
                    typer.echo(f"error: no workspace has the domain {slug!r}.", err=True)
                    raise typer.Exit(code=1)
                verdict = check(domain.slug, domains.target, resolve)
                domains.set_verified(session, domain, verdict.verified)
                kind, name, value = domains.dns_record(domain)
        finally:
            db.dispose()
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "slug": verdict.slug,
                        "target": verdict.target,
                        "record": {"type": kind, "name": name, "value": value},
                        "addresses": sorted(verdict.addresses),
                        "targetAddresses": sorted(verdict.target_addresses),
                        "verified": verdict.verified,
                    }
                )
            )
        else:
            _explain(verdict, f"{kind} {name} → {value}")
        if not verdict.verified:
            raise typer.Exit(code=1)

    return app


def _explain(verdict: Verdict, record: str) -> None:
    slug, target = verdict.slug, verdict.target
    found = ", ".join(sorted(verdict.addresses)) or "nothing (the name does not resolve)"
    expected = ", ".join(sorted(verdict.target_addresses)) or "nothing"
    typer.echo(f"{slug} resolves to {found}")
    typer.echo(f"{target} (this instance) resolves to {expected}")
    if verdict.verified:
        typer.echo(f"verified: {slug} points at this instance.")
        return
    typer.echo(f"not verified: set the DNS record {record} and run this again.")
    if verdict.target_is_local:
        typer.echo(
            f"note: {target} is a local address; set CODEQR_PUBLIC_URL to the public URL "
            "this instance is reached at."
        )

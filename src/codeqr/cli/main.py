"""The ``codeqr`` command line: run the server and administer the instance."""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.orm import Session

from codeqr import bootstrap, migrate
from codeqr.auth import service as auth
from codeqr.cli.domains import domains_app
from codeqr.cli.events import events_app
from codeqr.cli.oauth_apps import oauth_apps
from codeqr.cli.program import payouts_app, program_app
from codeqr.cli.stripe import stripe_app
from codeqr.events import clickhouse
from codeqr.kit.db import Database
from codeqr.kit.errors import CodeQRError
from codeqr.settings import WORKERS_MAX, LogFormat, Settings
from codeqr.workspace import service as ws
from codeqr.workspace.models import KeyKind

if TYPE_CHECKING:
    import uvicorn

    from codeqr.app import CodeQR

app = typer.Typer(
    help="CodeQR: short links, QR codes and conversion tracking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users = typer.Typer(help="Manage users.", no_args_is_help=True)
workspaces = typer.Typer(help="Manage workspaces.", no_args_is_help=True)
keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)
links = typer.Typer(help="Manage links.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(workspaces, name="workspaces")
app.add_typer(keys, name="keys")
app.add_typer(links, name="links")
fx = typer.Typer(help="Exchange rates (ECB reference rates).", no_args_is_help=True)
app.add_typer(fx, name="fx")
app.add_typer(oauth_apps, name="oauth-apps")
app.add_typer(stripe_app, name="stripe")
analytics = typer.Typer(help="Analytics upkeep.", no_args_is_help=True)
app.add_typer(analytics, name="analytics")
app.add_typer(events_app, name="events")
app.add_typer(domains_app(), name="domains")
app.add_typer(program_app, name="program")
app.add_typer(payouts_app, name="payouts")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for name, value in data.items():
            typer.echo(f"{name}: {value}")


@contextmanager
def _transaction() -> Iterator[tuple[Settings, Database, Session]]:
    settings = Settings()
    settings.ensure_data_dir()
    db = settings.database()
    try:
        migrate.upgrade(db.engine)
        with db.transaction() as session:
            yield settings, db, session
    except CodeQRError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        db.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=WORKERS_MAX,
            help="App processes sharing the port, restarted when they die (default "
            "CODEQR_WORKERS, else 1). More than one needs PostgreSQL and Redis.",
        ),
    ] = None,
) -> None:
    """Run the server (migrations are applied at start)."""
    # ``kill -USR1`` prints every thread's stack to stderr (workers inherit it): what a
    # process that will not stop is waiting on.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    settings = Settings()
    count = settings.workers if workers is None else workers
    if count > 1:
        _refuse_workers_without_services(settings, count)
        _serve_workers(settings, host, port, count)
        return
    from codeqr.app import create_app
    from codeqr.stream import serving
    from codeqr.stream.serving import Server

    domain = _shown_domain(settings, host, port)
    application = create_app(settings, default_domain=domain)
    if settings.migrate_on_start:
        migrate.upgrade(application.services.db.engine)
    bootstrap.remember_domain(settings.data_dir, domain)
    first = bootstrap.ensure_owner(application.services.db)
    _banner(settings, host, port, first)
    serving.allow_open_files(settings.http_max_concurrency)
    # Open event streams end as shutdown begins, so the server stops at once.
    server = Server(
        _uvicorn_config(application, settings, host, port),
        before_shutdown=application.services.feed.close,
    )
    application.metrics.server = server  # its slowloris cut-offs, for /metrics
    server.run()
    if not server.started:
        raise typer.Exit(code=3)


def _refuse_workers_without_services(settings: Settings, count: int) -> None:
    """Exit 2, starting nothing, unless ``count`` processes can share their state.

    On SQLite one process writes (each process's click writer groups commits and keeps its
    own one-hour dedupe); without Redis, each process would serve links from a cache no other
    process can invalidate, and dedupe clicks and count rate limits on its own.
    """
    if settings.events_url and clickhouse.is_in_process(settings.events_url):
        typer.echo(
            f"error: {count} worker processes cannot share chdb (CODEQR_EVENTS_URL=chdb://…): "
            "its files belong to one process. Use a ClickHouse server (clickhouse://HOST), "
            "or serve with --workers 1.",
            err=True,
        )
        raise typer.Exit(code=2)
    if settings.is_sqlite:
        reason = (
            "they would share a SQLite file, which takes one writer, and each would dedupe "
            "clicks on its own"
        )
    elif not settings.redis_url:
        reason = (
            "without Redis each would serve links from its own cache after they change, and "
            "dedupe clicks and count rate limits on its own"
        )
    else:
        return
    typer.echo(
        f"error: {count} worker processes need PostgreSQL (CODEQR_DATABASE_URL) and Redis "
        f"(CODEQR_REDIS_URL): {reason}. Set both, or serve with --workers 1.",
        err=True,
    )
    raise typer.Exit(code=2)


def _serve_workers(settings: Settings, host: str, port: int, count: int) -> None:
    """``count`` supervised app processes on one socket; the database is prepared once here,
    before any of them starts (they start with migrations off)."""
    from codeqr.app import create_app  # imported before forking: shared by every worker
    from codeqr.cli.supervisor import STARTUP_FAILED, Supervisor, WorkerServer, listen
    from codeqr.kit import logs
    from codeqr.stream import serving
    from codeqr.system.metrics import Workers

    logs.configure(fmt=settings.log_format.value)  # the supervisor logs as its workers do
    try:
        sock = listen(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(code=STARTUP_FAILED) from exc
    domain = _shown_domain(settings, host, port)
    settings.ensure_data_dir()
    # Made once here: workers creating it at the same time would each keep another key.
    settings.secret()
    db = settings.database()
    try:
        if settings.migrate_on_start:
            migrate.upgrade(db.engine)
        first = bootstrap.ensure_owner(db)
    finally:
        db.dispose()  # no connection may cross the fork
    bootstrap.remember_domain(settings.data_dir, domain)
    _banner(settings, host, port, first)
    typer.echo(f"  Workers:   {count} processes, supervised by process {os.getpid()}")
    sys.stdout.flush()
    serving.allow_open_files(settings.http_max_concurrency)
    worker_settings = settings.model_copy(update={"migrate_on_start": False})

    # Each worker's metrics, for whichever worker a scrape reaches (system.metrics.Workers).
    shared_metrics = settings.data_dir / f"worker-metrics-{port}"  # a supervisor's own
    shutil.rmtree(shared_metrics, ignore_errors=True)
    shared_metrics.mkdir(mode=0o700)

    def work(ready: Callable[[], None]) -> int:
        application = create_app(worker_settings, default_domain=domain)
        server = WorkerServer(
            _uvicorn_config(application, worker_settings, host, port),
            before_shutdown=application.services.feed.close,
            ready=ready,
        )
        application.metrics.server = server  # its slowloris cut-offs, for /metrics
        if settings.metrics_token:
            workers = Workers(application.metrics, shared_metrics, supervisor.worker_number)
            application.metrics.workers = workers
            workers.start()
        server.run(sockets=[sock])
        return 0 if server.started else STARTUP_FAILED

    supervisor = Supervisor(count, work, listener=sock)
    code = supervisor.run()
    sock.close()
    if code:
        raise typer.Exit(code=code)


def _shown_domain(settings: Settings, host: str, port: int) -> str:
    shown_host = "localhost" if host in {"0.0.0.0", "::", "127.0.0.1"} else host  # noqa: S104
    return settings.instance_urls(f"{shown_host}:{port}")[0]


def _banner(settings: Settings, host: str, port: int, first: bootstrap.FirstRun | None) -> None:
    domain = _shown_domain(settings, host, port)
    public = settings.instance_urls(domain)[1]
    typer.echo(f"CodeQR is serving on http://{host}:{port} (short links on {domain})")
    typer.echo(f"  Dashboard: {public}/dashboard")
    typer.echo(f"  API:       {public}/api  (reference: {public}/api/docs)")
    if first is not None:
        typer.echo("  First start: created an owner account, a business workspace and an API key.")
        typer.echo(f"    email:     {first.email}")
        typer.echo(f"    password:  {first.password}")
        typer.echo(f"    workspace: {first.workspace}")
        typer.echo(f"    API key:   {first.api_key}   (shown once; keep it)")
    sys.stdout.flush()


def _uvicorn_config(
    application: CodeQR, settings: Settings, host: str, port: int
) -> uvicorn.Config:
    """What every ``codeqr serve`` process runs uvicorn with (a worker's host and port only
    label its logs: it accepts from the socket it is given)."""
    import uvicorn

    from codeqr.stream import serving

    return uvicorn.Config(
        application.dispatch,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        lifespan="on",
        interface="asgi3",
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 and overwrite the peer address,
        # bypassing CODEQR_TRUSTED_PROXIES; the redirect applies that setting itself.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        # JSON logs: uvicorn's loggers left to propagate to the JSON handler (kit.logs).
        log_config=None if settings.log_format is LogFormat.json else uvicorn.config.LOGGING_CONFIG,
        **serving.limits(settings),
    )


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending database migrations (and ClickHouse's, with CODEQR_EVENTS_URL)."""
    with _transaction() as (settings, _db, _session):
        pass
    if settings.events_url:
        client = clickhouse.connect(settings.events_url)
        try:
            ran = clickhouse.migrate(client)
        finally:
            client.close()
        typer.echo(f"ClickHouse migrations applied: {ran or 'none pending'}")
    typer.echo("migrations applied")


@users.command("create")
def users_create(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    name: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user."""
    with _transaction() as (_, _db, session):
        user = ws.create_user(session, email, password, name)
        data = {"id": user.id, "email": user.email}
    _emit(data, as_json)


@users.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Option(help="The user's email.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the new password from standard input."),
    ] = False,
) -> None:
    """Set a user's password (a lost one included) and sign them out everywhere. Asks for
    it twice, or reads one line from standard input with --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _transaction() as (_, _db, session):
        user = ws.get_user_by_email(session, email)
        ended = auth.set_password(session, user, password)
        address = user.email
    typer.echo(f"Password set for {address}; {ended} sign-in(s) ended.")


@workspaces.command("create")
def workspaces_create(
    name: Annotated[str, typer.Option()],
    slug: Annotated[str, typer.Option()],
    owner: Annotated[str, typer.Option(help="Email of the owning user.")],
    plan: Annotated[str | None, typer.Option(help="Plan; default CODEQR_DEFAULT_PLAN.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace owned by an existing user."""
    with _transaction() as (settings, _db, session):
        user = ws.get_user_by_email(session, owner)
        workspace = ws.create_workspace(
            session, name=name, slug=slug, owner=user, plan=plan or settings.default_plan
        )
        data = {
            "id": workspace.id,
            "slug": workspace.slug,
            "name": workspace.name,
            "plan": workspace.plan,
        }
    _emit(data, as_json)


@workspaces.command("set-plan")
def workspaces_set_plan(
    slug: Annotated[str, typer.Argument()],
    plan: Annotated[str, typer.Argument()],
    as_json: JsonOpt = False,
) -> None:
    """Move a workspace to another plan."""
    with _transaction() as (_, _db, session):
        workspace = ws.set_plan(session, ws.get_workspace(session, slug), plan)
        data = {"id": workspace.id, "slug": workspace.slug, "plan": workspace.plan}
    _emit(data, as_json)


@keys.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    publishable: Annotated[bool, typer.Option("--publishable")] = False,
    name: Annotated[str, typer.Option()] = "CLI key",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the key is printed once."""
    kind = KeyKind.publishable if publishable else KeyKind.secret
    with _transaction() as (_, _db, session):
        target = ws.get_workspace(session, workspace)
        created = ws.create_api_key(session, target, name=name, kind=kind)
        data = {
            "key": created.token,
            "id": created.key.id,
            "kind": kind.value,
            "workspace": target.slug,
            "workspaceId": target.id,
        }
    _emit(data, as_json)


@links.command("create")
def links_create(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    url: Annotated[str, typer.Option()],
    key: Annotated[str | None, typer.Option()] = None,
    domain: Annotated[str | None, typer.Option()] = None,
    track_conversion: Annotated[bool, typer.Option("--track-conversion")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a short link."""
    from codeqr.link.schemas import LinkCreate
    from codeqr.link.service import LinkContext, LinkService

    with _transaction() as (settings, _db, session):
        short, public = settings.instance_urls(
            bootstrap.known_domain(settings.data_dir) or "localhost:8000"
        )
        service = LinkService(LinkContext(short, public), lambda _d, _k: None)
        target = ws.get_workspace(session, workspace)
        fields: dict[str, Any] = {"url": url, "key": key, "domain": domain}
        if track_conversion:
            fields["trackConversion"] = True
        link = service.create(session, target, LinkCreate.model_validate(fields), None)
        data = service.out(session, link).model_dump(mode="json", by_alias=True)
    _emit(data, as_json)


@workspaces.command("set-currency")
def workspaces_set_currency(
    slug: Annotated[str, typer.Argument()],
    code: Annotated[str, typer.Argument(help="ISO 4217 code, e.g. EUR.")],
    as_json: JsonOpt = False,
) -> None:
    """Set the currency a workspace's sales are reported in (recorded sales re-converted)."""
    from codeqr.conversion import flows
    from codeqr.money.rates import Rates

    with _transaction() as (settings, _db, session):
        workspace = flows.change_reporting_currency(
            session, Rates.load(settings.data_dir), ws.get_workspace(session, slug), code
        )
        data = {"id": workspace.id, "slug": workspace.slug, "currency": workspace.currency}
    _emit(data, as_json)


@workspaces.command("set-hostnames")
def workspaces_set_hostnames(
    slug: Annotated[str, typer.Argument()],
    hosts: Annotated[
        list[str], typer.Argument(help="example.com, *.example.com (subdomains) or localhost.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Replace the hostnames client-side tracking is accepted from."""
    with _transaction() as (_, _db, session):
        workspace = ws.set_allowed_hostnames(session, ws.get_workspace(session, slug), hosts)
        data: dict[str, Any] = {
            "id": workspace.id,
            "slug": workspace.slug,
            "allowedHostnames": workspace.allowed_hostnames,
        }
    _emit(data, as_json)


@workspaces.command("set-client-sales")
def workspaces_set_client_sales(
    slug: Annotated[str, typer.Argument()],
    state: Annotated[str, typer.Argument(help="on or off.")],
    maximum: Annotated[
        int | None,
        typer.Option(
            "--max",
            help="Largest client sale, in minor units of the reporting currency "
            "(required to turn them on unless already set).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow (on) or refuse (off) sales sent with a publishable key, up to --max."""
    if state not in ("on", "off"):
        typer.echo("error: STATE must be on or off", err=True)
        raise typer.Exit(code=2)
    with _transaction() as (_, _db, session):
        workspace = ws.set_client_sales(
            session, ws.get_workspace(session, slug), state == "on", maximum
        )
        data: dict[str, Any] = {
            "id": workspace.id,
            "slug": workspace.slug,
            "clientSalesEnabled": workspace.client_sales_enabled,
            "clientSaleMax": workspace.client_sale_max,
            "currency": workspace.currency,
        }
    _emit(data, as_json)


@analytics.command("rollup")
def analytics_rollup(
    rebuild_all: Annotated[
        bool, typer.Option("--all", help="Drop every daily rollup and count them again.")
    ] = False,
) -> None:
    """Bring the daily click rollups up to date (a running server does it on its own)."""
    from codeqr.analytics import rollup

    with _transaction() as (_, db, _session):
        days = rollup.rebuild(db) if rebuild_all else rollup.refresh(db)
    typer.echo(f"rolled up {days} workspace-days")


@fx.command("update")
def fx_update(
    url: Annotated[str | None, typer.Option(help="Where to download the ECB history.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Download the latest ECB reference rates; running servers use them after a restart."""
    from codeqr.money.fx import ECB_HISTORY_URL, update_rates

    settings = Settings()
    try:
        result = update_rates(settings.data_dir, url or ECB_HISTORY_URL)
    except CodeQRError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    data = {
        "lastDate": result.last_date.isoformat(),
        "previousLastDate": result.previous_last_date.isoformat(),
        "currencies": result.currencies,
        "path": str(result.path),
    }
    if as_json:
        _emit(data, as_json)
    else:
        typer.echo(f"Exchange rates now run to {data['lastDate']} ({result.path}).")

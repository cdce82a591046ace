"""Settings, in tabs: General (name, slug, currency, hostnames, client sales, password, a
new workspace), Domains, API keys, Members (see ``members``), Stripe and Usage.

Every change is a CSRF-checked form post by an owner or member; a refused value comes back
next to its field in words that say what to do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.auth import service as auth
from codeqr.auth.deps import secure_cookies
from codeqr.conversion import flows
from codeqr.dashboard import service as views
from codeqr.dashboard import usage
from codeqr.dashboard.deps import AccountDep, OwnerDep, Page, ViewDep, WriteDep
from codeqr.dashboard.forms import workspace_field
from codeqr.dashboard.pages import render
from codeqr.domain.schemas import SLUG_MAX, URL_MAX, DomainCreate
from codeqr.kit.errors import CodeQRError
from codeqr.money.currency import parse_major
from codeqr.services import Services
from codeqr.stripe import service as stripe_connection
from codeqr.workspace import members as team
from codeqr.workspace import service as workspaces
from codeqr.workspace.models import ApiKey, KeyKind, Role

router = APIRouter(prefix="/dashboard/{slug}/settings", include_in_schema=False)
Text = Annotated[str, Form(max_length=5_000)]
# A new key's token goes from its POST to the page that shows it once (POST/redirect/GET,
# so a reload never mints another key) in a signed cookie: HttpOnly, only sent to this
# workspace's settings, bound to the session that made it, minutes long, and deleted by
# the page that shows it. The token reaches the same browser either way.
NEW_KEY_COOKIE = "cq_new_key"
NEW_KEY_AGE_S = 300
_DONE = {
    "general": "Workspace saved.",
    "revoked": "Key revoked. Requests made with it are refused from now on.",
    "domains": "Domain added. Set its DNS record below; its links work once it points here.",
    "domains-off": "Domain deleted, with its links.",
    "hostnames": "Allowed hostnames saved.",
    "currency": "Reporting currency saved; past sales were converted again.",
    "client-sales": "Client sales setting saved.",
    "stripe": "Stripe account connected.",
    "stripe-off": "Stripe account disconnected. Its webhooks are no longer accepted.",
    "password": "Password changed. Your other sign-ins were signed out.",
}
Password = Annotated[str, Form(max_length=auth.MAX_PASSWORD)]
TABS = (
    ("general", "General", ""),
    ("domains", "Domains", "/domains"),
    ("keys", "API keys", "/keys"),
    ("members", "Members", "/members"),
    ("stripe", "Stripe", "/stripe"),
    ("usage", "Usage", "/usage"),
)
_TAB_PATH = {name: path for name, _, path in TABS}
# Which tab a notice or a refused field belongs to (the rest are on General).
_TAB_OF = {
    "revoked": "keys",
    "key_name": "keys",
    "pk_name": "keys",
    "domains": "domains",
    "domains-off": "domains",
    "domain_slug": "domains",
    "not_found_url": "domains",
    "stripe": "stripe",
    "stripe-off": "stripe",
    "account_id": "stripe",
    "webhook_secret": "stripe",
    "test_webhook_secret": "stripe",
    "api_key": "stripe",
}


def _page(
    session: Session,
    services: Services,
    page: Page,
    *,
    tab: str = "general",
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    created: Any = None,
) -> HTMLResponse:
    view = views.settings_view(session, services.links.ctx.public_url, page.workspace)
    domains = []
    if tab == "domains":
        domains = [
            (domain, services.domains.dns_record(domain))
            for domain in services.domains.all_of(session, page.workspace)
        ]
    extra: dict[str, Any] = {}
    if tab == "members":
        extra = members_view(session, services, page)
    elif tab == "usage":
        extra = {"usage": usage.of(session, page.workspace, page.member.plan)}
    return render(
        "settings.html",
        status=status,
        **page.context(
            "settings",
            tab=tab,
            tabs=TABS,
            view=view,
            domains=domains,
            notice=notice,
            errors=errors or {},
            values=values or {},
            created=created,
            **extra,
        ),
    )


def members_view(session: Session, services: Services, page: Page) -> dict[str, Any]:
    """The members tab: the members, and (for owners) the open invitations with their links."""
    invites: list[tuple[Any, str]] = []
    if page.member.role == Role.owner.value:
        secret = services.settings.secret()
        base = services.links.ctx.public_url.rstrip("/")
        invites = [
            (invite, f"{base}/app/invite/{team.invite_token(secret, invite)}")
            for invite in team.pending_invites(session, page.workspace)
        ]
    return {
        "members": team.members(session, page.workspace),
        "invites": invites,
        "roles": team.ROLES,
        "max_invites": team.MAX_PENDING_INVITES,
        "invite_days": team.INVITE_DAYS,
    }


def _refused(
    session: Session,
    services: Services,
    page: Page,
    field: str,
    exc: CodeQRError,
    tab: str | None = None,
    **values: str,
) -> HTMLResponse:
    session.rollback()  # nothing of the refused change stays
    message = exc.message
    head, sep, rest = message.partition(": ")
    if sep and " " not in head:
        message = rest[:1].upper() + rest[1:]
    return _page(
        session,
        services,
        page,
        tab=tab or _TAB_OF.get(field, "general"),
        status=400,
        errors={field: message},
        values=values,
    )


def _done(page: Page, what: str) -> RedirectResponse:
    path = _TAB_PATH[_TAB_OF.get(what, "general")]
    return RedirectResponse(f"/dashboard/{page.slug}/settings{path}?done={what}#{what}", 303)


def _new_keys(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret(), salt="codeqr.dashboard.new-key")


def _settings_path(page: Page) -> str:
    return f"/dashboard/{page.slug}/settings"


def _created_key(
    request: Request, session: Session, services: Services, page: Page
) -> workspaces.CreatedKey | None:
    """The key this browser just created, from its cookie, if it is still to be shown."""
    value = request.cookies.get(NEW_KEY_COOKIE)
    if not value:
        return None
    try:
        data = _new_keys(services).loads(value, max_age=NEW_KEY_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("session") != page.signed_in.session_id:
        return None
    key = session.get(ApiKey, str(data.get("key", "")))
    if key is None or key.workspace_id != page.workspace.id or key.revoked_at is not None:
        return None
    return workspaces.CreatedKey(key=key, token=str(data.get("token", "")))


Done = Annotated[str, Query(max_length=20)]


@router.get("", response_class=HTMLResponse)
def settings_page(
    page: ViewDep, session: SessionDep, services: ServicesDep, done: Done = ""
) -> HTMLResponse:
    """General: the workspace's name and slug, currency, tracking hostnames, client sales,
    your password, and a new workspace."""
    return _page(session, services, page, notice=_DONE.get(done))


@router.get("/keys", response_class=HTMLResponse)
def keys_page(
    request: Request, page: ViewDep, session: SessionDep, services: ServicesDep, done: Done = ""
) -> HTMLResponse:
    """Secret and publishable keys; a key just created is shown this once."""
    created = _created_key(request, session, services, page)
    response = _page(session, services, page, tab="keys", notice=_DONE.get(done), created=created)
    if NEW_KEY_COOKIE in request.cookies:
        response.delete_cookie(
            NEW_KEY_COOKIE, path=_settings_path(page), httponly=True, samesite="lax"
        )
    return response


@router.get("/domains", response_class=HTMLResponse)
def domains_page(
    page: ViewDep, session: SessionDep, services: ServicesDep, done: Done = ""
) -> HTMLResponse:
    """Custom domains with the DNS record each needs."""
    return _page(session, services, page, tab="domains", notice=_DONE.get(done))


@router.get("/stripe", response_class=HTMLResponse)
def stripe_page(
    page: ViewDep, session: SessionDep, services: ServicesDep, done: Done = ""
) -> HTMLResponse:
    """The Stripe connection and its webhook URL."""
    return _page(session, services, page, tab="stripe", notice=_DONE.get(done))


@router.get("/usage", response_class=HTMLResponse)
def usage_page(page: ViewDep, session: SessionDep, services: ServicesDep) -> HTMLResponse:
    """This month's use of the plan's limits, and the plan."""
    return _page(session, services, page, tab="usage")


@router.post("/general", response_model=None)
def save_general(
    page: OwnerDep,
    session: SessionDep,
    services: ServicesDep,
    ws_name: Annotated[str, Form(max_length=500)] = "",
    ws_slug: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Rename the workspace, and change its slug (the first segment of its dashboard URLs)
    unless partner portal links already use it."""
    values = {"ws_name": ws_name, "ws_slug": ws_slug}
    name = ws_name
    new_slug = ws_slug.strip().lower()
    try:
        name = team.check_name(name)
        workspaces.update_workspace(session, page.workspace, name=name, slug=new_slug)
    except CodeQRError as exc:
        return _refused(session, services, page, workspace_field(exc, "ws_"), exc, **values)
    return RedirectResponse(f"/dashboard/{page.workspace.slug}/settings?done=general", 303)


@router.post("/workspaces", response_model=None)
def create_workspace(
    page: AccountDep,
    session: SessionDep,
    services: ServicesDep,
    new_ws_name: Annotated[str, Form(max_length=500)] = "",
    new_ws_slug: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new workspace owned by the signed-in user, on the instance's default plan."""
    values = {"new_ws_name": new_ws_name, "new_ws_slug": new_ws_slug}
    try:
        created = team.new_workspace(
            session, page.signed_in.user, new_ws_name, new_ws_slug, services.settings.default_plan
        )
    except CodeQRError as exc:
        field = workspace_field(exc, "new_ws_")
        return _refused(session, services, page, field, exc, **values)
    return RedirectResponse(f"/dashboard/{created.slug}/links", 303)


@router.post("/keys", response_model=None)
def create_key(
    request: Request,
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    name: Annotated[str, Form(max_length=190)] = "",
    kind: Annotated[KeyKind, Form()] = KeyKind.secret,
) -> Response:
    """Mint a key, then send the browser to the settings page that shows its token once."""
    name = name.strip()
    field = "key_name" if kind is KeyKind.secret else "pk_name"
    if not name:
        return _page(
            session,
            services,
            page,
            tab="keys",
            status=400,
            errors={field: "Give the key a name, e.g. “Production server”, to recognise it later."},
        )
    created = workspaces.create_api_key(
        session, page.workspace, name=name, kind=kind, created_by=page.signed_in.user
    )
    value = _new_keys(services).dumps(
        {"session": page.signed_in.session_id, "key": created.key.id, "token": created.token}
    )
    response = RedirectResponse(f"{_settings_path(page)}/keys#created-key", 303)
    response.set_cookie(
        NEW_KEY_COOKIE,
        value,
        max_age=NEW_KEY_AGE_S,
        path=_settings_path(page),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )
    return response


@router.post("/keys/{key_id}/revoke", response_model=None)
def revoke_key(
    key_id: Annotated[str, Path(max_length=64)],
    page: WriteDep,
    session: SessionDep,
) -> Response:
    """Revoke a key of this workspace (another workspace's key is not found)."""
    workspaces.revoke_api_key(session, page.workspace, key_id)
    return _done(page, "revoked")


@router.post("/domains", response_model=None)
def add_domain(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    domain_slug: Annotated[str, Form(max_length=SLUG_MAX)] = "",
    not_found_url: Annotated[str, Form(max_length=URL_MAX)] = "",
) -> Response:
    """Add a custom domain, with the page its unknown keys go to."""
    values = {"domain_slug": domain_slug, "not_found_url": not_found_url}
    try:
        data = DomainCreate(slug=domain_slug, notFoundUrl=not_found_url.strip() or None)
        services.domains.create(session, page.workspace, data)
    except CodeQRError as exc:
        field = "not_found_url" if exc.message.startswith("notFoundUrl") else "domain_slug"
        return _refused(session, services, page, field, exc, **values)
    except ValueError:  # the schema's checks (a NUL, an empty name)
        error = CodeQRError("Enter a hostname such as go.example.com.")
        return _refused(session, services, page, "domain_slug", error, **values)
    return _done(page, "domains")


@router.post("/domains/{domain}/delete", response_model=None)
def delete_domain(
    domain: Annotated[str, Path(max_length=SLUG_MAX)],
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Delete a custom domain of this workspace and its links (another's is not found)."""
    found = services.domains.get(session, page.workspace, domain)
    services.domains.delete(session, page.workspace, found)
    return _done(page, "domains-off")


@router.post("/hostnames", response_model=None)
def save_hostnames(
    page: WriteDep, session: SessionDep, services: ServicesDep, hostnames: Text = ""
) -> Response:
    """Replace the hostnames client-side tracking is accepted from (one per line)."""
    entries = [e.strip() for e in hostnames.replace(",", "\n").splitlines() if e.strip()]
    try:
        workspaces.set_allowed_hostnames(session, page.workspace, entries)
    except CodeQRError as exc:
        return _refused(session, services, page, "hostnames", exc, hostnames=hostnames)
    return _done(page, "hostnames")


@router.post("/currency", response_model=None)
def save_currency(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    currency: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Report sales in another currency; recorded sales are converted again."""
    try:
        flows.change_reporting_currency(session, services.rates, page.workspace, currency)
    except CodeQRError as exc:
        return _refused(session, services, page, "currency", exc, currency=currency)
    return _done(page, "currency")


@router.post("/client-sales", response_model=None)
def save_client_sales(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    enabled: Annotated[str, Form(max_length=10)] = "",
    client_sale_max: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Allow or refuse sales sent with a publishable key, and set the largest one (typed in
    major units of the reporting currency)."""
    currency = page.workspace.currency
    try:
        typed = client_sale_max.strip()
        maximum = parse_major(typed, currency, "clientSaleMax") if typed else None
        workspaces.set_client_sales(session, page.workspace, enabled == "on", maximum)
    except CodeQRError as exc:
        values = {"client_sale_max": client_sale_max}
        return _refused(session, services, page, "client_sale_max", exc, **values)
    return _done(page, "client-sales")


@router.post("/stripe", response_model=None)
def connect_stripe(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    account_id: Annotated[str, Form(max_length=100)] = "",
    webhook_secret: Annotated[str, Form(max_length=300)] = "",
    test_webhook_secret: Annotated[str, Form(max_length=300)] = "",
    api_key: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Bind a Stripe account with the signing secrets of the endpoint(s) made for it, once
    Stripe vouches for it through the account's own restricted key."""
    values = {"account_id": account_id}
    live, test, key = webhook_secret.strip(), test_webhook_secret.strip(), api_key.strip()
    modes = set()
    if live:
        modes.add(stripe_connection.StripeMode.live)
    if test:
        modes.add(stripe_connection.StripeMode.test)
    try:
        stripe_connection.connect(
            session,
            services.stripe,
            page.workspace,
            account_id=account_id,
            webhook_secret=live or None,
            test_webhook_secret=test or None,
            api_key=key or None,
            modes=modes,
            via="dashboard",
        )
    except CodeQRError as exc:
        head = exc.message.partition(": ")[0]
        field = {
            "webhookSecret": "webhook_secret",
            "testWebhookSecret": "test_webhook_secret",
            "stripeApiKey": "api_key",
        }
        return _refused(session, services, page, field.get(head, "account_id"), exc, **values)
    return _done(page, "stripe")


@router.post("/stripe/disconnect", response_model=None)
def disconnect_stripe(page: WriteDep, session: SessionDep) -> Response:
    """Unbind the workspace's Stripe account."""
    stripe_connection.disconnect(session, page.workspace)
    return _done(page, "stripe-off")


@router.post("/password", response_model=None)
def change_password(
    page: AccountDep,
    session: SessionDep,
    services: ServicesDep,
    current_password: Password = "",
    new_password: Password = "",
    confirm_password: Password = "",
) -> Response:
    """Change the signed-in user's own password (any role); their other sign-ins end."""
    user = page.signed_in.user
    field, message = "", ""
    if auth.authenticate(session, user.email, current_password) is None:
        field, message = "current_password", "That is not your current password."
    elif new_password != confirm_password:
        field, message = "confirm_password", "The two new passwords differ; type it twice."
    if field:
        return _page(session, services, page, status=400, errors={field: message})
    try:
        auth.set_password(session, user, new_password, keep_session=page.signed_in.session_id)
    except CodeQRError as exc:
        return _refused(session, services, page, "new_password", exc)
    return _done(page, "password")

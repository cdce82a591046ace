"""Rules for users, workspaces, memberships, API keys and plans. Services never commit."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from codeqr.kit.ids import new_id
from codeqr.kit.passwords import hash_password, hash_token
from codeqr.money.bounds import REPORTING_AMOUNT_MAX
from codeqr.money.currency import normalize_currency
from codeqr.partner.models import Partner
from codeqr.workspace.models import ApiKey, KeyKind, Membership, Plan, Role, User, Workspace

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SECRET_PREFIX = "cq_"
PUBLISHABLE_PREFIX = "cq_pk_"


@dataclass(frozen=True)
class CreatedKey:
    """A key as created: the token is shown this once and never again."""

    key: ApiKey
    token: str


def create_user(session: Session, email: str, password: str, name: str | None = None) -> User:
    """Create a user with an argon2-hashed password; 409 when the email is taken."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise Unprocessable(f"email: {email!r} is not an email address")
    if len(password) < 8:
        raise Unprocessable("password: must be at least 8 characters")
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with email {email} already exists.")
    user = User(id=new_id("user"), email=email, name=name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def get_user_by_email(session: Session, email: str) -> User:
    """The user with this email; 404 otherwise."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"User {email} not found.")
    return user


def get_plan(session: Session, name: str) -> Plan:
    """A plan row; 422 naming the known plans when it does not exist."""
    plan = session.get(Plan, name)
    if plan is None:
        names = ", ".join(session.scalars(select(Plan.name).order_by(Plan.rank)))
        raise Unprocessable(f"plan: unknown plan {name!r} (one of {names})")
    return plan


def create_workspace(
    session: Session, *, name: str, slug: str, owner: User, plan: str
) -> Workspace:
    """Create a workspace owned by ``owner``; 409 when the slug is taken."""
    if not SLUG_RE.match(slug):
        raise Unprocessable(
            "slug: use 1-48 lowercase letters, digits and dashes, "
            "not starting or ending with a dash"
        )
    get_plan(session, plan)
    if session.scalar(select(Workspace.id).where(Workspace.slug == slug)):
        raise Conflict(f"The slug {slug} is already in use.")
    workspace = Workspace(
        id=new_id("ws"), name=name, slug=slug, plan=plan, currency="USD", allowed_hostnames=[]
    )
    session.add(workspace)
    session.flush()
    session.add(Membership(user_id=owner.id, workspace_id=workspace.id, role=Role.owner))
    session.flush()
    return workspace


def get_workspace(session: Session, slug_or_id: str) -> Workspace:
    """A workspace by slug or id; 404 otherwise."""
    ws = session.scalar(
        select(Workspace).where((Workspace.slug == slug_or_id) | (Workspace.id == slug_or_id))
    )
    if ws is None:
        raise NotFound(f"Workspace {slug_or_id} not found.")
    return ws


def set_plan(session: Session, workspace: Workspace, plan: str) -> Workspace:
    """Move a workspace to another plan (an operator's action)."""
    workspace.plan = get_plan(session, plan).name
    session.flush()
    return workspace


def require_plan(session: Session, workspace: Workspace, feature: str) -> None:
    """403 naming the plan needed when the workspace's plan lacks conversion tracking."""
    plan = get_plan(session, workspace.plan)
    if not plan.conversions:
        raise Forbidden(
            f"{feature} requires a Business plan subscription or higher; "
            f"this workspace is on the {plan.name} plan."
        )


def create_api_key(
    session: Session,
    workspace: Workspace,
    *,
    name: str = "Default",
    kind: KeyKind = KeyKind.secret,
    created_by: User | None = None,
) -> CreatedKey:
    """Mint a key; only its hash is stored, the token is returned once."""
    prefix = PUBLISHABLE_PREFIX if kind is KeyKind.publishable else SECRET_PREFIX
    token = prefix + secrets.token_urlsafe(24).replace("-", "A").replace("_", "b")
    key = ApiKey(
        id=new_id("key"),
        workspace_id=workspace.id,
        name=name,
        kind=kind,
        token_hash=hash_token(token),
        partial_key=f"{token[: len(prefix) + 4]}…{token[-4:]}",
        scopes=[],
        created_by=created_by.id if created_by else None,
    )
    session.add(key)
    try:
        session.flush()
    except IntegrityError as exc:  # pragma: no cover - 190 bits of randomness
        raise Conflict("Key collision, try again.") from exc
    return CreatedKey(key=key, token=token)


def authenticate_key(session: Session, token: str) -> tuple[ApiKey, Workspace]:
    """The live key and its workspace for a bearer token; 401 otherwise."""
    row = session.execute(
        select(ApiKey, Workspace)
        .join(Workspace, Workspace.id == ApiKey.workspace_id)
        .where(ApiKey.token_hash == hash_token(token), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("Unauthorized: Invalid API key.")
    key, workspace = row
    return key, workspace


def revoke_api_key(session: Session, workspace: Workspace, key_id: str) -> ApiKey:
    """Revoke a key of this workspace; 404 for another workspace's key."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace.id)
    )
    if key is None:
        raise NotFound(f"API key {key_id} not found.")
    key.revoked_at = utcnow()
    session.flush()
    return key


MAX_NAME = 190
MAX_HOSTNAMES = 100
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def set_reporting_currency(session: Session, workspace: Workspace, code: str) -> Workspace:
    """Set the currency sales are totalled in (``"eur"`` is stored as ``EUR``); 422 when
    ``code`` is not ISO 4217. Sales recorded before keep their converted amounts."""
    workspace.currency = normalize_currency(code)
    session.flush()
    return workspace


def normalize_hostname(entry: str, field: str = "allowedHostnames") -> str:
    """An allowed-hostname entry, lower-cased: ``example.com``, ``*.example.com`` or
    ``localhost``; 422 for anything else (schemes, ports, paths, IPs, ``*.com``)."""
    text = entry.strip().lower().rstrip(".")
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    try:
        name = name.encode("idna").decode("ascii")  # bücher.de → xn--bcher-kva.de
    except UnicodeError:
        name = ""
    labels = name.split(".")
    valid = (
        0 < len(name) <= 253
        and all(_LABEL_RE.match(label) for label in labels)
        and ((name == "localhost" and not wildcard) or len(labels) >= 2)
        and not labels[-1].isdigit()  # an IPv4 address, not a hostname
    )
    if not valid:
        raise Unprocessable(
            f"{field}: {entry!r} is not a hostname "
            "(use example.com, *.example.com for its subdomains, or localhost)"
        )
    return f"*.{name}" if wildcard else name


def clean_hostnames(hostnames: list[str]) -> list[str]:
    """Validated, lower-cased hostnames with duplicates dropped and order kept; 422 naming
    the first bad entry."""
    if len(hostnames) > MAX_HOSTNAMES:
        raise Unprocessable(f"allowedHostnames: at most {MAX_HOSTNAMES} entries")
    return list(dict.fromkeys(normalize_hostname(entry) for entry in hostnames))


def set_allowed_hostnames(
    session: Session, workspace: Workspace, hostnames: list[str]
) -> Workspace:
    """Replace the hostnames client-side tracking is accepted from (see ``clean_hostnames``);
    on a 422 nothing changes."""
    # A new list object: the JSON column only notices assignment, not in-place changes.
    workspace.allowed_hostnames = clean_hostnames(hostnames)
    session.flush()
    return workspace


def hostname_allowed(allowed: list[str], hostname: str) -> bool:
    """Whether ``hostname`` (as in an ``Origin``, without scheme or port) is allowed.

    An entry matches itself exactly; ``*.example.com`` matches every subdomain at any depth
    (``a.example.com``, ``a.b.example.com``) but **not** ``example.com`` itself — list both
    to allow both, as with a wildcard TLS certificate. An empty list allows nothing; what an
    empty list means for a workspace is the caller's policy.
    """
    host = hostname.strip().lower().rstrip(".")
    if not host:
        return False
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def check_client_sales(
    workspace: Workspace, enabled: bool | None, maximum: int | None
) -> tuple[bool, int | None]:
    """The client-sales setting ``enabled`` and ``maximum`` would leave (``None`` keeps a
    value as it is); 422 for a maximum out of range, or for turning sales on without one."""
    if maximum is not None and not 1 <= maximum <= REPORTING_AMOUNT_MAX:
        raise Unprocessable(
            f"clientSaleMax: must be between 1 and {REPORTING_AMOUNT_MAX} "
            f"(minor units of {workspace.currency})"
        )
    on = workspace.client_sales_enabled if enabled is None else enabled
    most = workspace.client_sale_max if maximum is None else maximum
    if on and most is None:
        raise Unprocessable(
            "clientSaleMax: required to turn client sales on: the largest sale a "
            f"publishable key may record, in minor units of {workspace.currency}"
        )
    return bool(on), most


def set_client_sales(
    session: Session, workspace: Workspace, enabled: bool | None, maximum: int | None = None
) -> Workspace:
    """Allow or refuse sales recorded with a publishable key, and set the largest one
    (see ``check_client_sales``); on a 422 nothing changes."""
    workspace.client_sales_enabled, workspace.client_sale_max = check_client_sales(
        workspace, enabled, maximum
    )
    session.flush()
    return workspace


def slug_in_use_outside(session: Session, workspace: Workspace) -> bool:
    """Whether links handed to people outside the dashboard hold the slug: the partner
    portal's (``/app/partners/{slug}``), once a partner was invited."""
    found = session.scalar(select(Partner.id).where(Partner.workspace_id == workspace.id).limit(1))
    return found is not None


def update_workspace(
    session: Session,
    workspace: Workspace,
    *,
    name: str | None = None,
    slug: str | None = None,
    currency: str | None = None,
    allowed_hostnames: list[str] | None = None,
    client_sales_enabled: bool | None = None,
    client_sale_max: int | None = None,
) -> Workspace:
    """Change the fields given (``None`` leaves one as it is). Every value is checked before
    any is applied, so a 422 or 409 changes nothing."""
    if name is not None:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise Unprocessable(f"name: must be 1-{MAX_NAME} characters")
    if slug is not None:
        slug = slug.strip()
        if not SLUG_RE.match(slug):
            raise Unprocessable(
                "slug: use 1-48 lowercase letters, digits and dashes, "
                "not starting or ending with a dash"
            )
        taken = session.scalar(
            select(Workspace.id).where(Workspace.slug == slug, Workspace.id != workspace.id)
        )
        if taken:
            raise Conflict(f"The slug {slug} is already in use.")
        if slug != workspace.slug and slug_in_use_outside(session, workspace):
            raise Conflict(
                "slug: partners were invited to this workspace's portal, whose links hold the "
                "slug; it cannot change any more."
            )
    code = normalize_currency(currency) if currency is not None else None
    hosts = clean_hostnames(allowed_hostnames) if allowed_hostnames is not None else None
    client_sales = check_client_sales(workspace, client_sales_enabled, client_sale_max)
    if name is not None:
        workspace.name = name
    if slug is not None:
        workspace.slug = slug
    if code is not None:
        workspace.currency = code
    if hosts is not None:
        workspace.allowed_hostnames = hosts
    workspace.client_sales_enabled, workspace.client_sale_max = client_sales
    session.flush()
    return workspace

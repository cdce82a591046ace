"""Rules for users, workspaces, memberships, API keys and plans. Services never commit."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from codeqr.kit.ids import new_id
from codeqr.kit.passwords import hash_password, hash_token
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


def touch_key(session: Session, key: ApiKey) -> None:
    """Record when a key was last used, at most once a minute (reads stay read-only)."""
    now = utcnow()
    last = key.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or (now - last).total_seconds() > 60:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


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

"""Rules of webhook endpoints: valid URLs and triggers, a bound per workspace, secrets that
rotate, and turning an endpoint off and on. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from codeqr.kit.clock import iso, utcnow
from codeqr.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from codeqr.kit.hooks import notes
from codeqr.kit.ids import base62, new_id
from codeqr.link.models import Link
from codeqr.link.urls import normalize_url
from codeqr.webhook.models import DeliveryStatus, Webhook, WebhookDelivery
from codeqr.webhook.outbox import WebhookOutbox
from codeqr.webhook.schemas import (
    NOT_YET,
    URL_MAX,
    LinkScope,
    Trigger,
    WebhookCreate,
    WebhookFields,
    WebhookOut,
    WebhookUpdate,
)
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

FEATURE = "Webhooks"
MAX_PER_WORKSPACE = 25
"""Endpoints a workspace may hold: each event is written once per subscribed endpoint."""
SECRET_PREFIX = "whsec_"
_TRIGGERS = frozenset(t.value for t in Trigger)


def new_secret() -> str:
    """A signing secret: ``whsec_`` and 32 base62 characters (190 bits)."""
    return SECRET_PREFIX + base62(32)


def check_plan(session: Session, workspace: Workspace) -> None:
    """403 naming the plan needed below Business (Dub's ``requiredPlan``)."""
    require_plan(session, workspace, FEATURE)


def get(session: Session, workspace: Workspace, webhook_id: str) -> Webhook:
    """A webhook of this workspace; 404 for any other (SPEC §2)."""
    found = None
    if webhook_id and "\x00" not in webhook_id:
        found = session.scalar(
            select(Webhook).where(Webhook.workspace_id == workspace.id, Webhook.id == webhook_id)
        )
    if found is None:
        raise NotFound(f"Webhook {webhook_id[:100]} not found.")
    return found


def find(session: Session, workspace: Workspace) -> Sequence[Webhook]:
    """Every webhook of the workspace (at most ``MAX_PER_WORKSPACE``), oldest first."""
    return session.scalars(
        select(Webhook)
        .where(Webhook.workspace_id == workspace.id)
        .order_by(Webhook.created_at, Webhook.id)
    ).all()


def create(session: Session, workspace: Workspace, data: WebhookCreate) -> Webhook:
    """Add an endpoint; 409 for a URL the workspace already has, 403 past the bound."""
    url = _valid_url(data.url)
    triggers = _valid_triggers(data.triggers)
    scope, link_ids = _valid_scope(session, workspace, data, None)
    _ensure_free(session, workspace, url, None)
    _lock(session, workspace)
    now = utcnow()
    webhook = Webhook(
        id=new_id("wh"),
        workspace_id=workspace.id,
        name=data.name,
        url=url,
        secret=new_secret(),
        triggers=triggers,
        link_scope=scope,
        link_ids=link_ids,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    session.flush()
    held = session.scalar(
        select(func.count(Webhook.id)).where(Webhook.workspace_id == workspace.id)
    )
    if (held or 0) > MAX_PER_WORKSPACE:
        raise Forbidden(
            f"Webhook limit reached: a workspace may have {MAX_PER_WORKSPACE} webhooks; "
            "delete one first."
        )
    _changed(session, workspace.id)
    return webhook


def update_one(
    session: Session, workspace: Workspace, webhook: Webhook, data: WebhookUpdate
) -> Webhook:
    """Apply the fields that were sent (validated first: a refused change writes nothing)."""
    sent = data.model_fields_set
    for required in ("name", "url", "triggers"):
        if required in sent and getattr(data, required) is None:
            raise Unprocessable(f"{required}: must not be null")
    url = _valid_url(data.url) if "url" in sent and data.url is not None else webhook.url
    triggers = (
        _valid_triggers(data.triggers)
        if "triggers" in sent and data.triggers is not None
        else webhook.triggers
    )
    scope, link_ids = webhook.link_scope, webhook.link_ids
    if sent & {"link_scope", "link_ids", "folder_ids"}:
        scope, link_ids = _valid_scope(session, workspace, data, webhook)
    if url != webhook.url:
        _ensure_free(session, workspace, url, webhook.id)
    # Validated: apply.
    if "name" in sent and data.name is not None:
        webhook.name = data.name
    webhook.url, webhook.triggers = url, triggers
    webhook.link_scope, webhook.link_ids = scope, link_ids
    if "disabled" in sent and data.disabled is not None:
        if data.disabled and webhook.disabled_at is None:
            disable(session, webhook, "Disabled through the API.")
        elif not data.disabled:
            webhook.disabled_at = None
            webhook.disabled_reason = None
            webhook.consecutive_failures = 0
            webhook.failing_since = None
    webhook.updated_at = utcnow()
    session.flush()
    _changed(session, workspace.id)
    return webhook


def rotate_secret(session: Session, webhook: Webhook) -> Webhook:
    """A new signing secret; deliveries from now on (retries included) use it."""
    webhook.secret = new_secret()
    webhook.updated_at = utcnow()
    session.flush()
    return webhook


def delete(session: Session, webhook: Webhook) -> None:
    """Delete an endpoint and its deliveries (their events stay for other endpoints)."""
    session.delete(webhook)
    session.flush()
    _changed(session, webhook.workspace_id)


def disable(session: Session, webhook: Webhook, reason: str) -> None:
    """Stop delivering to ``webhook``: what it is owed is cancelled, ``reason`` kept."""
    now = utcnow()
    webhook.disabled_at = now
    webhook.disabled_reason = reason[:300]
    webhook.updated_at = now
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.status == DeliveryStatus.pending.value,
        )
        .values(status=DeliveryStatus.cancelled.value, claimed_by=None, claimed_until=None)
    )
    _changed(session, webhook.workspace_id)


def _changed(session: Session, workspace_id: str) -> None:
    """Once ``session`` commits, this process (and the others) read again which clicks
    the workspace's endpoints want (``webhook.clicks``)."""
    found = notes(session)
    if isinstance(found, WebhookOutbox):
        found.endpoints_changed(session, workspace_id)


def out(webhook: Webhook) -> WebhookOut:
    """The API shape of a webhook."""
    return WebhookOut(
        id=webhook.id,
        name=webhook.name,
        url=webhook.url,
        secret=webhook.secret,
        triggers=list(webhook.triggers),
        link_scope=webhook.link_scope,
        link_ids=list(webhook.link_ids) if webhook.link_ids is not None else None,
        disabled_at=iso(webhook.disabled_at),
        disabled_reason=webhook.disabled_reason,
        consecutive_failures=webhook.consecutive_failures,
        created_at=iso(webhook.created_at) or "",
        updated_at=iso(webhook.updated_at) or "",
    )


# -- rules ------------------------------------------------------------------------------------


def _valid_url(value: str) -> str:
    """An http(s) URL with a host (422 otherwise). Where it points is checked when a
    delivery connects (``webhook.transport``), on the address actually reached."""
    if not value.lower().startswith(("http://", "https://")):
        raise Unprocessable("url: must be an http:// or https:// URL")
    url = normalize_url(value, "url")
    # In bytes: the URL is a unique key, and PostgreSQL's index entries are bounded.
    if len(url.encode("utf-8", "surrogatepass")) > URL_MAX:
        raise Unprocessable(f"url: must be at most {URL_MAX} bytes")
    return url


def _valid_triggers(values: list[str]) -> list[str]:
    """The triggers, each once, in the order sent; 422 for an unknown one."""
    if not values:
        raise Unprocessable("triggers: name at least one event")
    for value in values:
        if value in NOT_YET:
            raise Unprocessable(
                f"triggers: {value!r} is not delivered by CodeQR yet; "
                f"supported: {', '.join(sorted(_TRIGGERS))}"
            )
        if value not in _TRIGGERS:
            raise Unprocessable(
                f"triggers: unknown event {value[:100]!r}; one of {', '.join(sorted(_TRIGGERS))}"
            )
    return list(dict.fromkeys(values))


def _valid_scope(
    session: Session, workspace: Workspace, data: WebhookFields, webhook: Webhook | None
) -> tuple[str | None, list[str] | None]:
    """``(link_scope, link_ids)``: every link named must be the workspace's (422 otherwise,
    never telling whether it exists elsewhere)."""
    sent = data.model_fields_set
    scope = (
        data.link_scope
        if "link_scope" in sent
        else (LinkScope(webhook.link_scope) if webhook and webhook.link_scope else None)
    )
    if scope is LinkScope.folders or data.folder_ids:
        raise Unprocessable("linkScope: folders do not exist in CodeQR; use linkIds")
    if scope is not LinkScope.links:
        if data.link_ids:
            raise Unprocessable('linkIds: only with linkScope "links"')
        return (scope.value if scope else None), None
    ids = data.link_ids if "link_ids" in sent else (webhook.link_ids if webhook else None)
    ids = list(dict.fromkeys(ids or []))
    if not ids:
        raise Unprocessable('linkIds: name at least one link with linkScope "links"')
    found = set(
        session.scalars(select(Link.id).where(Link.workspace_id == workspace.id, Link.id.in_(ids)))
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(f"linkIds: unknown link(s) {', '.join(missing)[:300]}")
    return LinkScope.links.value, ids


def _ensure_free(session: Session, workspace: Workspace, url: str, own_id: str | None) -> None:
    # Checked for a clear message; the unique key settles a race.
    with session.no_autoflush:
        clash = session.scalar(
            select(Webhook.id).where(
                Webhook.workspace_id == workspace.id,
                Webhook.url == url,
                Webhook.id != (own_id or ""),
            )
        )
    if clash:
        raise Conflict("url: a webhook with this URL already exists.")


def _lock(session: Session, workspace: Workspace) -> None:
    # PostgreSQL: creations in one workspace queue on its row, so the count after the
    # insert cannot pass the bound twice at once (SQLite: one writer at a time).
    session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())

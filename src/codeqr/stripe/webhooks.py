"""Receiving Stripe events: verify, allow-list, store once in the inbox, then handle.

Runs on a worker thread (the database and Stripe's API are blocking). The answer tells
Stripe whether to deliver again: 2xx for everything stored-and-handled, duplicated or
deliberately ignored (with the reason), 400 for a bad signature (nothing stored), 5xx when
handling failed (the event stays unhandled for the redelivery or ``codeqr stripe replay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from codeqr.kit.errors import NotFound
from codeqr.kit.prepared import prepared
from codeqr.services import Services
from codeqr.stripe import handlers, inbox, shape, signature
from codeqr.stripe import service as connection
from codeqr.stripe.client import StripeApi, StripeUnavailable
from codeqr.stripe.context import Context, Waiting
from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import Plan, Workspace

if TYPE_CHECKING:
    from collections.abc import Callable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What the endpoint answers: ``status`` and a JSON body."""

    status: int
    body: dict[str, Any]
    outcome: str = "ignored"
    """``handled``, ``duplicate``, ``ignored`` or ``refused`` (counted for ``/metrics``)."""


class HandlingFailed(Exception):
    """Handling an event raised; it stays unhandled. ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _ignored(reason: str) -> Receipt:
    return Receipt(200, {"received": True, "handled": False, "reason": reason})


def receive_for_workspace(
    services: Services, workspace_id: str, payload: bytes, header: str | None
) -> Receipt:
    """``POST /api/stripe/webhook/{workspaceId}``: the self-hosted endpoint of one workspace,
    signed with the live or the test secret the workspace was connected with."""

    body = shape.text(payload)

    def receive(session: Session) -> Receipt:
        found = _connection(session, BY_WORKSPACE, workspace_id)
        if found is None:
            raise NotFound(f"No Stripe account is connected to workspace {workspace_id!r}.")
        integration = found[0]
        secrets = [s for s in (integration.webhook_secret, integration.test_webhook_secret) if s]
        signature.verify(payload, header, secrets, services.settings.stripe_webhook_tolerance)
        return _accept(session, services, found, shape.parse(body))

    return _in_transaction(services, receive)


def receive_from_app(
    services: Services, payload: bytes, header: str | None, *, livemode: bool
) -> Receipt:
    """``POST /api/stripe/integration/webhook[/test]``: the Stripe App's (Connect) endpoints;
    the workspace is the one bound to the event's account."""
    settings = services.settings
    body = shape.text(payload)
    secret = (
        settings.stripe_app_webhook_secret if livemode else settings.stripe_app_test_webhook_secret
    )
    signature.verify(payload, header, [secret] if secret else [], settings.stripe_webhook_tolerance)
    event = shape.parse(body)
    account = event.get("account")
    if not isinstance(account, str):
        return _ignored("The event names no connected account.")

    def receive(session: Session) -> Receipt:
        found = _connection(session, BY_ACCOUNT, account)
        if found is None:
            return _ignored(f"No workspace is connected to Stripe account {account}.")
        return _accept(session, services, found, event)

    return _in_transaction(services, receive)


Found = tuple[StripeIntegration, Workspace, bool]
"""A connection, its workspace, and whether the workspace's plan includes the integration."""


def _connection(session: Session, statement: Select[Any], key: str) -> Found | None:
    """The connection (by workspace id or account id), its workspace and plan, in one
    prepared read; plain (unattached) objects, as the handlers only read them."""
    row = prepared(statement, session).first(session, {"key": key})
    if row is None:
        return None
    integration = StripeIntegration(**dict(zip(_INTEGRATION_COLUMNS, row, strict=False)))
    rest = row[len(_INTEGRATION_COLUMNS) :]
    workspace = Workspace(**dict(zip(_WORKSPACE_COLUMNS, rest, strict=False)))
    return integration, workspace, bool(rest[-1])


_si, _ws = cast(Table, StripeIntegration.__table__), cast(Table, Workspace.__table__)
_INTEGRATION_COLUMNS = tuple(c.key for c in _si.c)
_WORKSPACE_COLUMNS = tuple(c.key for c in _ws.c)
_CONNECTION = (
    select(*_si.c, *_ws.c, Plan.conversions)
    .join_from(_si, _ws, _ws.c.id == _si.c.workspace_id)
    .join(Plan, Plan.name == _ws.c.plan)
)
BY_WORKSPACE = _CONNECTION.where(_si.c.workspace_id == bindparam("key"))
BY_ACCOUNT = _CONNECTION.where(_si.c.account_id == bindparam("key"))


def _accept(session: Session, services: Services, found: Found, event: dict[str, Any]) -> Receipt:
    integration = found[0]
    kind = event["type"]
    if kind not in handlers.HANDLERS:
        return _ignored(f"Event type {kind} is not one CodeQR handles.")
    livemode = bool(event.get("livemode"))
    if livemode and not integration.live:
        return _ignored("A live-mode event, but this connection only takes test mode.")
    if not livemode and not integration.test:
        return _ignored("A test-mode event, but this connection only takes live mode.")
    return _handle(session, services, found, event)


class _Failed(Exception):
    """Handling raised: the transaction is rolled back, then the event is kept unhandled."""

    def __init__(self, workspace_id: str, event: dict[str, Any], cause: Exception):
        super().__init__(str(cause))
        self.workspace_id = workspace_id
        self.event = event
        self.cause = cause


def _in_transaction(services: Services, work: Callable[[Session], Receipt]) -> Receipt:
    """Run ``work`` in one transaction; a handling failure is kept for the retry after the
    rollback, and answered 5xx."""
    try:
        with services.db.transaction() as session:
            return work(session)
    except _Failed as failed:
        cause = failed.cause
        unavailable = isinstance(cause, StripeUnavailable)
        if not unavailable:
            log.error("stripe.event_failed", event_id=failed.event["id"], exc_info=cause)
        error = f"{type(cause).__name__}: {cause}"
        try:
            with services.db.transaction() as session:
                inbox.keep(session, failed.workspace_id, failed.event, error=error)
        except Exception:  # noting the failure must not hide the failure itself
            log.exception("stripe.keep_failed", event_id=failed.event["id"])
        if unavailable:
            raise HandlingFailed(
                f"Stripe's API could not be reached to handle this event ({cause}); "
                "it stays unhandled until Stripe delivers it again.",
                502,
            ) from cause
        raise HandlingFailed(
            "Handling this event failed; nothing of it was kept and it stays unhandled "
            "until Stripe delivers it again.",
            500,
        ) from cause


def _handle(session: Session, services: Services, found: Found, event: dict[str, Any]) -> Receipt:
    """Claim the event and apply its effects, all in the caller's transaction."""
    integration, workspace, allowed = found
    odd = shape.problem(event)
    if odd is not None:
        # Signed and well filed, but a field no handler can act on: its body never changes,
        # so it is settled now, refused with the reason, rather than failed again on every
        # retry (see ``shape``).
        inbox.refuse(session, workspace.id, event, odd)
        log.warning("stripe.event_refused", event_id=event["id"], reason=odd)
        return Receipt(
            200,
            {"received": True, "handled": False, "eventId": event["id"], "reason": odd},
            "refused",
        )
    if not allowed:
        # Kept unhandled, not dropped: after an upgrade, `codeqr stripe replay`.
        inbox.keep(session, workspace.id, event)
        return _ignored(
            f"{connection.FEATURE} requires a Business plan subscription or higher; this "
            f"workspace is on the {workspace.plan} plan. The event is kept and can be "
            "replayed after an upgrade."
        )
    try:
        ctx = Context(
            services=services,
            workspace=workspace,
            integration=integration,
            api=_api(services, integration, event),
            event=event,
        )
        # Reads (Stripe's API included) before the first write takes any lock.
        ctx.prefetched = handlers.prefetch(session, ctx)
        inbox_id = inbox.claim(session, workspace.id, event)
        if inbox_id is None:
            return _duplicate(event["id"])
        try:
            outcome = handlers.handle(session, ctx)
        except Waiting as waiting:
            inbox.wait(session, inbox_id, waiting.reason)
            return _ignored(waiting.reason)
        inbox.set_outcome(session, inbox_id, outcome)
        session.flush()
    except Exception as exc:
        raise _Failed(workspace.id, event, exc) from exc
    log.info("stripe.event_handled", event_id=event["id"], type=event["type"], outcome=outcome)
    return Receipt(
        200,
        {"received": True, "handled": True, "eventId": event["id"], "outcome": outcome},
        "handled",
    )


def process(services: Services, inbox_id: str) -> Receipt:
    """Handle one stored, unhandled event again (what ``codeqr stripe replay`` does)."""

    def again(session: Session) -> Receipt:
        loaded = inbox.load(session, inbox_id)
        assert loaded is not None
        row, event = loaded
        if row.handled_at is not None:
            return _duplicate(row.event_id)
        found = _connection(session, BY_WORKSPACE, row.workspace_id)
        if found is None:
            return _ignored("The workspace has no Stripe account connected any more.")
        return _handle(session, services, found, event)

    return _in_transaction(services, again)


def _duplicate(event_id: str) -> Receipt:
    return Receipt(
        200,
        {
            "received": True,
            "handled": False,
            "eventId": event_id,
            "reason": "Already handled: a redelivery is acknowledged and not processed again.",
        },
        "duplicate",
    )


def _api(
    services: Services, integration: StripeIntegration | None, event: dict[str, Any]
) -> StripeApi:
    """Stripe's API as this event's account: the workspace's own restricted key, else the
    platform key of the Stripe App for a connected account."""
    if integration is not None and integration.api_key:
        return services.stripe.api(integration.api_key)
    account = event.get("account")
    if isinstance(account, str) and services.settings.stripe_app_secret_key:
        return services.stripe.api(services.settings.stripe_app_secret_key, account)
    return services.stripe.api(None)


def replay(services: Services, workspace_id: str | None = None) -> list[dict[str, Any]]:
    """Handle every unhandled stored event again, oldest first; what each gave."""
    with services.db.transaction() as session:
        pending = inbox.unhandled(session, workspace_id)
    results = []
    for inbox_id in pending:
        try:
            receipt = process(services, inbox_id)
            results.append({"id": inbox_id, "status": receipt.status, **receipt.body})
        except HandlingFailed as exc:
            results.append({"id": inbox_id, "status": exc.status, "error": exc.message})
    return results

"""Receiving Stripe events: verify, allow-list, store once in the inbox, then handle.

Runs on a worker thread (the database and Stripe's API are blocking). The answer tells
Stripe whether to deliver again: 2xx for everything stored-and-handled, duplicated or
deliberately ignored (with the reason), 400 for a bad signature (nothing stored), 5xx when
handling failed (the event stays unhandled for the redelivery or ``codeqr stripe replay``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog

from codeqr.kit.errors import BadRequest, NotFound
from codeqr.services import Services
from codeqr.stripe import handlers, inbox, signature
from codeqr.stripe import service as connection
from codeqr.stripe.client import StripeApi, StripeUnavailable
from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import Plan, Workspace

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What the endpoint answers: ``status`` and a JSON body."""

    status: int
    body: dict[str, Any]


class HandlingFailed(Exception):
    """Handling an event raised; it stays unhandled. ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _ignored(reason: str) -> Receipt:
    return Receipt(200, {"received": True, "handled": False, "reason": reason})


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise BadRequest("The body is not a JSON Stripe event.") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance((event.get("data") or {}).get("object"), dict)
    ):
        raise BadRequest("The body is not a Stripe event (id, type and data.object needed).")
    return event


def receive_for_workspace(
    services: Services, workspace_id: str, payload: bytes, header: str | None
) -> Receipt:
    """``POST /api/stripe/webhook/{workspaceId}``: the self-hosted endpoint of one workspace,
    signed with the live or the test secret the workspace was connected with."""
    with services.db.transaction() as session:
        integration = connection.get(session, workspace_id)
        if integration is None:
            raise NotFound(f"No Stripe account is connected to workspace {workspace_id!r}.")
        secrets = [s for s in (integration.webhook_secret, integration.test_webhook_secret) if s]
    signature.verify(payload, header, secrets, services.settings.stripe_webhook_tolerance)
    return _accept(services, integration, _parse(payload), payload)


def receive_from_app(
    services: Services, payload: bytes, header: str | None, *, livemode: bool
) -> Receipt:
    """``POST /api/stripe/integration/webhook[/test]``: the Stripe App's (Connect) endpoints;
    the workspace is the one bound to the event's account."""
    settings = services.settings
    secret = (
        settings.stripe_app_webhook_secret if livemode else settings.stripe_app_test_webhook_secret
    )
    signature.verify(payload, header, [secret] if secret else [], settings.stripe_webhook_tolerance)
    event = _parse(payload)
    account = event.get("account")
    if not isinstance(account, str):
        return _ignored("The event names no connected account.")
    with services.db.transaction() as session:
        integration = connection.by_account(session, account)
    if integration is None:
        return _ignored(f"No workspace is connected to Stripe account {account}.")
    return _accept(services, integration, event, payload)


def _accept(
    services: Services, integration: StripeIntegration, event: dict[str, Any], payload: bytes
) -> Receipt:
    kind = event["type"]
    if kind not in handlers.HANDLERS:
        return _ignored(f"Event type {kind} is not one CodeQR handles.")
    livemode = bool(event.get("livemode"))
    if livemode and not integration.live:
        return _ignored("A live-mode event, but this connection only takes test mode.")
    if not livemode and not integration.test:
        return _ignored("A test-mode event, but this connection only takes live mode.")
    with services.db.transaction() as session:
        inbox_id = inbox.store(session, integration.workspace_id, event, payload)
    return process(services, inbox_id)


def process(services: Services, inbox_id: str) -> Receipt:
    """Handle one stored event in one transaction with its ``handled`` stamp; a failure
    rolls everything back, is noted on the row, and raises ``HandlingFailed``."""
    try:
        with services.db.transaction() as session:
            loaded = inbox.load(session, inbox_id)
            assert loaded is not None
            row, event = loaded
            if row.handled_at is not None:
                return _duplicate(row.event_id, row.outcome)
            workspace = session.get(Workspace, row.workspace_id)
            assert workspace is not None
            plan = session.get(Plan, workspace.plan)
            if plan is None or not plan.conversions:
                # Kept unhandled, not dropped: after an upgrade, `codeqr stripe replay`.
                return _ignored(
                    f"{connection.FEATURE} requires a Business plan subscription or higher; "
                    f"this workspace is on the {workspace.plan} plan. The event is kept and "
                    "can be replayed after an upgrade."
                )
            integration = connection.get(session, workspace.id)
            ctx = handlers.Context(
                services=services,
                workspace=workspace,
                integration=integration,
                api=_api(services, integration, event),
                event=event,
            )
            ctx.prefetched = handlers.prefetch(session, ctx)
            if not inbox.claim(session, inbox_id):
                return _duplicate(row.event_id, None)
            outcome = handlers.handle(session, ctx)
            inbox.mark_handled(session, inbox_id, outcome)
    except StripeUnavailable as exc:
        _note_failure(services, inbox_id, f"Stripe API unavailable: {exc}")
        raise HandlingFailed(
            f"Stripe's API could not be reached to handle this event ({exc}); "
            "it stays unhandled until Stripe delivers it again.",
            502,
        ) from exc
    except Exception as exc:
        log.exception("stripe.event_failed", inbox_id=inbox_id)
        _note_failure(services, inbox_id, f"{type(exc).__name__}: {exc}")
        raise HandlingFailed(
            "Handling this event failed; nothing of it was kept and it stays unhandled "
            "until Stripe delivers it again.",
            500,
        ) from exc
    log.info("stripe.event_handled", event_id=row.event_id, type=row.type, outcome=outcome)
    return Receipt(
        200, {"received": True, "handled": True, "eventId": row.event_id, "outcome": outcome}
    )


def _duplicate(event_id: str, outcome: str | None) -> Receipt:
    return Receipt(
        200,
        {
            "received": True,
            "handled": False,
            "eventId": event_id,
            "reason": "Already handled: a redelivery is acknowledged and not processed again.",
            "outcome": outcome,
        },
    )


def _note_failure(services: Services, inbox_id: str, error: str) -> None:
    try:
        with services.db.transaction() as session:
            inbox.record_failure(session, inbox_id, error)
    except Exception:  # the failure to note must not hide the failure itself
        log.exception("stripe.note_failure_failed", inbox_id=inbox_id)


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

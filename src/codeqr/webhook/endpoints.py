"""Outbound webhooks under ``/api/webhooks`` (Dub's routes and shapes). Business plan and
up; secret keys only: a publishable key is refused with 403 before anything is read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Path

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.services import Services
from codeqr.webhook import log, service
from codeqr.webhook.models import WebhookEvent
from codeqr.webhook.schemas import (
    ID_MAX,
    DeliveryQueued,
    RedeliveryCreate,
    TestEventCreate,
    WebhookCreate,
    WebhookDeleted,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookPath = Annotated[str, Path(alias="webhookId", max_length=ID_MAX)]


@router.post("", response_model=WebhookOut, status_code=201)
def create_webhook(
    body: Annotated[WebhookCreate, Body()], caller: CallerDep, session: SessionDep
) -> WebhookOut:
    """Add an endpoint; the answer carries its signing secret."""
    service.check_plan(session, caller.workspace)
    return service.out(service.create(session, caller.workspace, body))


@router.get("", response_model=list[WebhookOut])
def list_webhooks(caller: CallerDep, session: SessionDep) -> list[WebhookOut]:
    """Every webhook of the workspace, oldest first."""
    service.check_plan(session, caller.workspace)
    return [service.out(w) for w in service.find(session, caller.workspace)]


@router.get("/{webhookId}", response_model=WebhookOut)
def get_webhook(webhook_id: WebhookPath, caller: CallerDep, session: SessionDep) -> WebhookOut:
    """One webhook by id."""
    service.check_plan(session, caller.workspace)
    return service.out(service.get(session, caller.workspace, webhook_id))


@router.patch("/{webhookId}", response_model=WebhookOut)
def update_webhook(
    webhook_id: WebhookPath,
    caller: CallerDep,
    session: SessionDep,
    body: Annotated[WebhookUpdate | None, Body()] = None,
) -> WebhookOut:
    """Change a webhook; fields not sent stay as they are."""
    service.check_plan(session, caller.workspace)
    found = service.get(session, caller.workspace, webhook_id)
    return service.out(
        service.update_one(session, caller.workspace, found, body or WebhookUpdate())
    )


@router.post("/{webhookId}/secret", response_model=WebhookOut)
def rotate_webhook_secret(
    webhook_id: WebhookPath, caller: CallerDep, session: SessionDep
) -> WebhookOut:
    """Replace the signing secret; the answer carries the new one."""
    service.check_plan(session, caller.workspace)
    found = service.get(session, caller.workspace, webhook_id)
    return service.out(service.rotate_secret(session, found))


@router.delete("/{webhookId}", response_model=WebhookDeleted)
def delete_webhook(
    webhook_id: WebhookPath, caller: CallerDep, session: SessionDep
) -> WebhookDeleted:
    """Delete a webhook and what it was still owed."""
    service.check_plan(session, caller.workspace)
    found = service.get(session, caller.workspace, webhook_id)
    service.delete(session, found)
    return WebhookDeleted(id=found.id)


def _queued(event: WebhookEvent, webhook_id: str) -> DeliveryQueued:
    return DeliveryQueued(
        event_id=event.id,
        event=event.type,
        webhook_id=webhook_id,
        status="pending",
        test=event.test,
    )


@router.post("/{webhookId}/test", response_model=DeliveryQueued, status_code=202)
def send_test_event(
    webhook_id: WebhookPath,
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    body: Annotated[TestEventCreate | None, Body()] = None,
) -> DeliveryQueued:
    """Queue a sample event (``"test": true`` in its envelope) for this webhook only
    (CodeQR's addition)."""
    service.check_plan(session, caller.workspace)
    found = service.get(session, caller.workspace, webhook_id)
    event = log.send_test(
        session, services.links, found, (body or TestEventCreate()).trigger, _wake(services)
    )
    return _queued(event, found.id)


@router.post("/{webhookId}/redeliver", response_model=DeliveryQueued, status_code=202)
def redeliver_event(
    webhook_id: WebhookPath,
    body: Annotated[RedeliveryCreate, Body()],
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
) -> DeliveryQueued:
    """Send an event to this webhook again, same id and body (CodeQR's addition)."""
    service.check_plan(session, caller.workspace)
    found = service.get(session, caller.workspace, webhook_id)
    event = log.redeliver(session, found, body.event_id, _wake(services))
    return _queued(event, found.id)


def _wake(services: Services) -> Callable[[], None] | None:
    return services.deliverer.nudge if services.deliverer is not None else None

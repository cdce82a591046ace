"""Webhooks: the workspace's endpoints, each with its delivery log, a test event, redelivery,
secret rotation and turning it back on.

Pages for any member; every change is a CSRF-checked form post by an owner or member, then
a redirect (POST/redirect/GET). Business plan and up, as the API. A signing secret is shown
once, right after it was made (created or rotated), the way new API keys are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.auth.deps import secure_cookies
from codeqr.dashboard import forms
from codeqr.dashboard.deps import Page, PageError, ViewDep, WriteDep, not_found
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError, NotFound
from codeqr.services import Services
from codeqr.webhook import log, service
from codeqr.webhook.models import Webhook
from codeqr.webhook.schemas import (
    ID_MAX,
    NAME_MAX,
    TRIGGERS_MAX,
    URL_MAX,
    Trigger,
    WebhookCreate,
    WebhookUpdate,
)

router = APIRouter(prefix="/dashboard/{slug}/webhooks", include_in_schema=False)
WebhookId = Annotated[str, Path(max_length=ID_MAX)]
NEW_SECRET_COOKIE = "cq_new_whsec"
NEW_SECRET_AGE_S = 300
_FIELDS = {"name", "url", "triggers"}
_DONE = {
    "created": "Webhook created. Copy its signing secret now.",
    "saved": "Changes saved.",
    "deleted": "Webhook deleted, with what it was still owed.",
    "rotated": "New signing secret made. Deliveries from now on are signed with it.",
    "enabled": "Webhook enabled again. New events are delivered to it.",
    "test": "Test event queued: it appears in the log once it has been attempted.",
    "redelivered": "Event queued again: it appears in the log once it has been attempted.",
}
TRIGGER_LABELS = {
    "link.created": "A link is created",
    "link.updated": "A link is changed",
    "link.deleted": "A link is deleted",
    "link.clicked": "A link is clicked",
    "lead.created": "A lead is recorded",
    "sale.created": "A sale is recorded",
    "partner.enrolled": "A partner enrolls in the program",
    "commission.created": "A commission is made (clawbacks included)",
}


class WebhookForm(BaseModel):
    """The webhook editor as posted (a trigger's checkbox is absent when unticked)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="", max_length=NAME_MAX * 4)
    url: str = Field(default="", max_length=URL_MAX + 100)
    triggers: list[str] = Field(default_factory=list, max_length=TRIGGERS_MAX)


def _triggers() -> list[tuple[str, str]]:
    return [(t.value, TRIGGER_LABELS.get(t.value, t.value)) for t in Trigger]


def _base(page: Page) -> str:
    return f"/dashboard/{page.slug}/webhooks"


def _gate(session: Session, page: Page) -> None:
    """Changes need the Business plan (the page itself says so to everyone)."""
    try:
        service.check_plan(session, page.workspace)
    except CodeQRError as exc:
        raise PageError(403, "Business plan needed", exc.message) from exc


def _webhook(session: Session, page: Page, webhook_id: str) -> Webhook:
    try:
        return service.get(session, page.workspace, webhook_id)
    except NotFound as exc:
        raise not_found("This webhook") from exc


def _values(form: WebhookForm) -> dict[str, Any]:
    return {"name": form.name.strip(), "url": form.url.strip(), "triggers": form.triggers}


def _errors(exc: ValidationError | CodeQRError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return forms.from_validation(exc, _FIELDS).errors
    return forms.from_service(exc, _FIELDS).errors


# -- the signing secret, shown once -----------------------------------------------------------


def _secrets(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret(), salt="codeqr.dashboard.new-whsec")


def _show_secret_once(
    request: Request, services: Services, page: Page, webhook: Webhook, done: str
) -> RedirectResponse:
    value = _secrets(services).dumps(
        {"session": page.signed_in.session_id, "webhook": webhook.id, "secret": webhook.secret}
    )
    response = RedirectResponse(f"{_base(page)}/{webhook.id}?done={done}#new-secret", 303)
    response.set_cookie(
        NEW_SECRET_COOKIE,
        value,
        max_age=NEW_SECRET_AGE_S,
        path=_base(page),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )
    return response


def _new_secret(request: Request, services: Services, page: Page, webhook: Webhook) -> str | None:
    """The secret this browser just made for ``webhook``, while it is still current."""
    value = request.cookies.get(NEW_SECRET_COOKIE)
    if not value:
        return None
    try:
        data = _secrets(services).loads(value, max_age=NEW_SECRET_AGE_S)
    except BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("session") != page.signed_in.session_id
        or data.get("webhook") != webhook.id
        or data.get("secret") != webhook.secret
    ):
        return None
    return webhook.secret


# -- pages --------------------------------------------------------------------------------------


def _list(
    session: Session,
    page: Page,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    return render(
        "webhooks.html",
        status=status,
        **page.context(
            "webhooks",
            webhooks=service.find(session, page.workspace),
            limit=service.MAX_PER_WORKSPACE,
            triggers=_triggers(),
            notice=notice,
            errors=errors or {},
            values=values or {"triggers": []},
        ),
    )


def _detail(
    request: Request,
    session: Session,
    services: Services,
    page: Page,
    webhook: Webhook,
    *,
    log_page: int = 1,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    shown = values or {"name": webhook.name, "url": webhook.url, "triggers": webhook.triggers}
    response = render(
        "webhook.html",
        status=status,
        **page.context(
            "webhooks",
            webhook=webhook,
            log=log.log_page(session, webhook, log_page),
            triggers=_triggers(),
            test_triggers=log.test_triggers(),
            secret=_new_secret(request, services, page, webhook),
            notice=notice,
            errors=errors or {},
            values=shown,
        ),
    )
    if NEW_SECRET_COOKIE in request.cookies:
        response.delete_cookie(NEW_SECRET_COOKIE, path=_base(page), httponly=True, samesite="lax")
    return response


@router.get("", response_class=HTMLResponse)
def list_webhooks(
    page: ViewDep,
    session: SessionDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The workspace's webhooks with their state, and the form for a new one."""
    return _list(session, page, notice=_DONE.get(done))


@router.post("", response_model=None)
def create_webhook(
    request: Request,
    form: Annotated[WebhookForm, Form()],
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Add an endpoint, then show its signing secret once."""
    _gate(session, page)
    values = _values(form)
    try:
        webhook = service.create(session, page.workspace, WebhookCreate.model_validate(values))
    except (ValidationError, CodeQRError) as exc:
        session.rollback()
        return _list(session, page, status=400, errors=_errors(exc), values=values)
    return _show_secret_once(request, services, page, webhook, "created")


@router.get("/{webhook_id}", response_class=HTMLResponse)
def show_webhook(
    request: Request,
    webhook_id: WebhookId,
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=log.MAX_PAGE)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """One webhook: its state, settings, delivery log and test event."""
    webhook = _webhook(session, page, webhook_id)
    return _detail(
        request, session, services, page, webhook, log_page=page_number, notice=_DONE.get(done)
    )


@router.post("/{webhook_id}", response_model=None)
def update_webhook(
    request: Request,
    webhook_id: WebhookId,
    form: Annotated[WebhookForm, Form()],
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Change the name, URL or events (a link scope set through the API stays)."""
    _gate(session, page)
    webhook = _webhook(session, page, webhook_id)
    values = _values(form)
    try:
        data = WebhookUpdate.model_validate(values)
        service.update_one(session, page.workspace, webhook, data)
    except (ValidationError, CodeQRError) as exc:
        session.rollback()
        webhook = _webhook(session, page, webhook_id)
        errors = _errors(exc)
        return _detail(
            request, session, services, page, webhook, status=400, errors=errors, values=values
        )
    return RedirectResponse(f"{_base(page)}/{webhook.id}?done=saved", 303)


@router.post("/{webhook_id}/delete", response_model=None)
def delete_webhook(webhook_id: WebhookId, page: WriteDep, session: SessionDep) -> Response:
    """Delete a webhook and what it was still owed."""
    _gate(session, page)
    service.delete(session, _webhook(session, page, webhook_id))
    return RedirectResponse(f"{_base(page)}?done=deleted", 303)


@router.post("/{webhook_id}/secret", response_model=None)
def rotate_secret(
    request: Request,
    webhook_id: WebhookId,
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """A new signing secret, shown once."""
    _gate(session, page)
    webhook = service.rotate_secret(session, _webhook(session, page, webhook_id))
    return _show_secret_once(request, services, page, webhook, "rotated")


@router.post("/{webhook_id}/enable", response_model=None)
def enable_webhook(webhook_id: WebhookId, page: WriteDep, session: SessionDep) -> Response:
    """Turn a webhook disabled by failures (or a 410) back on, for new events."""
    _gate(session, page)
    webhook = _webhook(session, page, webhook_id)
    service.update_one(session, page.workspace, webhook, WebhookUpdate(disabled=False))
    return RedirectResponse(f"{_base(page)}/{webhook.id}?done=enabled", 303)


def _queue_refused(
    request: Request,
    session: Session,
    services: Services,
    page: Page,
    webhook_id: str,
    exc: CodeQRError,
) -> HTMLResponse:
    session.rollback()
    webhook = _webhook(session, page, webhook_id)
    message = exc.message.removeprefix("trigger: ")
    status = 400 if exc.status_code == 422 else exc.status_code
    return _detail(
        request, session, services, page, webhook, status=status, errors={"log": message}
    )


@router.post("/{webhook_id}/test", response_model=None)
def send_test_event(
    request: Request,
    webhook_id: WebhookId,
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    trigger: Annotated[str, Form(max_length=ID_MAX)] = "",
) -> Response:
    """Queue a sample event (marked as a test) for this webhook only."""
    _gate(session, page)
    webhook = _webhook(session, page, webhook_id)
    wake = services.deliverer.nudge if services.deliverer is not None else None
    try:
        log.send_test(session, services.links, webhook, trigger or None, wake)
    except CodeQRError as exc:
        return _queue_refused(request, session, services, page, webhook_id, exc)
    return RedirectResponse(f"{_base(page)}/{webhook.id}?done=test#log", 303)


@router.post("/{webhook_id}/redeliver", response_model=None)
def redeliver_event(
    request: Request,
    webhook_id: WebhookId,
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    event_id: Annotated[str, Form(max_length=ID_MAX)] = "",
) -> Response:
    """Send an event to this webhook again (same id, same body)."""
    _gate(session, page)
    webhook = _webhook(session, page, webhook_id)
    wake = services.deliverer.nudge if services.deliverer is not None else None
    try:
        log.redeliver(session, webhook, event_id, wake)
    except CodeQRError as exc:
        return _queue_refused(request, session, services, page, webhook_id, exc)
    return RedirectResponse(f"{_base(page)}/{webhook.id}?done=redelivered#log", 303)

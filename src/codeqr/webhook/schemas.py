"""Request and response shapes of ``/api/webhooks``, as Dub's routes take and answer them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from codeqr.kit.schemas import Nullable

NAME_MAX = 40  # Dub's
URL_MAX = 2_000
TRIGGERS_MAX = 20
LINK_IDS_MAX = 1_000  # Dub's
ID_MAX = 100


class Trigger(StrEnum):
    """The events an endpoint can subscribe to (and the ``event`` of each delivery)."""

    link_created = "link.created"
    link_updated = "link.updated"
    link_deleted = "link.deleted"
    link_clicked = "link.clicked"
    lead_created = "lead.created"
    sale_created = "sale.created"
    partner_enrolled = "partner.enrolled"
    commission_created = "commission.created"


NOT_YET = frozenset(
    {
        "partner.application_submitted",
        "partner.merged",
        "bounty.created",
        "bounty.updated",
        "payout.confirmed",
        "discount_code.created",
        "discount_code.deleted",
    }
)
"""Dub's triggers CodeQR does not deliver yet: refused by name rather than accepted and
never sent."""


class LinkScope(StrEnum):
    """Which links' events an endpoint gets: all of the workspace's, or ``linkIds``."""

    workspace = "workspace"
    links = "links"
    folders = "folders"
    """Dub's folders; CodeQR has none yet, so naming this scope is refused."""


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
        raise ValueError("must not contain NUL characters")
    return value


class WebhookFields(BaseModel):
    """What a webhook can be created or updated with (camelCase on the wire)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    name: Nullable[str] = Field(default=None, min_length=1, max_length=NAME_MAX)
    url: Nullable[str] = Field(default=None, min_length=1, max_length=URL_MAX)
    triggers: Nullable[list[str]] = Field(default=None, max_length=TRIGGERS_MAX)
    link_scope: Nullable[LinkScope] = Field(default=None, alias="linkScope")
    link_ids: Nullable[list[str]] = Field(default=None, alias="linkIds", max_length=LINK_IDS_MAX)
    folder_ids: Nullable[list[str]] = Field(default=None, alias="folderIds", max_length=100)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)

    @field_validator("triggers", "link_ids", "folder_ids")
    @classmethod
    def _bounded_items(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(len(v) > ID_MAX for v in value):
            raise ValueError(f"items must be at most {ID_MAX} characters")
        return value


class WebhookCreate(WebhookFields):
    """``POST /api/webhooks``: ``name``, ``url`` and ``triggers`` are required."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    url: str = Field(min_length=1, max_length=URL_MAX)
    triggers: list[str] = Field(max_length=TRIGGERS_MAX)


class WebhookUpdate(WebhookFields):
    """``PATCH /api/webhooks/{webhookId}``: fields not sent stay as they are;
    ``disabled: false`` turns a disabled endpoint back on (``true`` turns it off)."""

    disabled: Nullable[StrictBool] = None


class WebhookOut(BaseModel):
    """A webhook as the API answers it: Dub's ``WebhookSchema`` and a few more fields."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    url: str
    secret: str
    triggers: list[str]
    link_scope: str | None = Field(alias="linkScope")
    link_ids: list[str] | None = Field(alias="linkIds")
    disabled_at: str | None = Field(alias="disabledAt")
    disabled_reason: str | None = Field(alias="disabledReason")
    """Why deliveries stopped (410 Gone, too many failures in a row)."""
    consecutive_failures: int = Field(alias="consecutiveFailures")
    installation_id: str | None = Field(default=None, alias="installationId")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")


class WebhookDeleted(BaseModel):
    """``DELETE /api/webhooks/{webhookId}`` answers the id it deleted."""

    id: str


class TestEventCreate(BaseModel):
    """``POST /api/webhooks/{webhookId}/test``: which of the endpoint's events to send a
    sample of (its first trigger when left out)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    trigger: Nullable[str] = Field(default=None, max_length=ID_MAX)


class RedeliveryCreate(BaseModel):
    """``POST /api/webhooks/{webhookId}/redeliver``: the event to send again."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event_id: str = Field(alias="eventId", min_length=1, max_length=ID_MAX)

    @field_validator("event_id")
    @classmethod
    def _reject_nul(cls, value: str) -> str:
        return str(_no_nul(value))


class DeliveryQueued(BaseModel):
    """A delivery just queued for the worker (a test event or a redelivery)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    event_id: str = Field(alias="eventId")
    event: str
    webhook_id: str = Field(alias="webhookId")
    status: str
    test: bool

"""Bodies and answers of ``/api/track/lead`` and ``/api/track/sale`` (Dub's shapes)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from codeqr.customer.schemas import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX, URL_MAX
from codeqr.kit import jsonvalues
from codeqr.kit.errors import CodeQRError
from codeqr.kit.schemas import Nullable
from codeqr.money.bounds import AMOUNT_MAX
from codeqr.money.currency import normalize_currency

METADATA_MAX = 10_000
METADATA_DEPTH = 10
"""Levels of objects and arrays ``metadata`` may nest (itself included)."""
EVENT_NAME_MAX = 255
INVOICE_ID_MAX = 190


class LeadMode(StrEnum):
    async_ = "async"
    """Record the lead (CodeQR writes before answering either way)."""
    wait = "wait"
    """Record the lead before answering."""
    deferred = "deferred"
    """Only tie the customer to the click; a later call with the same event records it."""


class PaymentProcessor(StrEnum):
    stripe = "stripe"
    shopify = "shopify"
    polar = "polar"
    paddle = "paddle"
    apple = "apple"
    revenuecat = "revenuecat"
    lemonsqueezy = "lemonsqueezy"
    dub = "dub"
    custom = "custom"


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    # Depth and numbers first: orjson raises (a TypeError, not a validation error) on what
    # it cannot write, and every value takes at least one character of the size limit.
    why = jsonvalues.problem(value, max_depth=METADATA_DEPTH, max_items=METADATA_MAX)
    if why is not None:
        raise ValueError(why)
    if len(orjson.dumps(value)) > METADATA_MAX:
        raise ValueError(f"must be at most {METADATA_MAX} characters as JSON")
    return value


class TrackFields(BaseModel):
    """Fields both calls share: who the customer is, as the merchant knows them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    customer_external_id: str = Field(
        validation_alias=AliasChoices("customerExternalId", "externalId", "customerId"),
        min_length=1,
        max_length=EXTERNAL_ID_MAX,
    )
    customer_name: Nullable[str] = Field(default=None, alias="customerName", max_length=NAME_MAX)
    customer_email: Nullable[str] = Field(default=None, alias="customerEmail", max_length=EMAIL_MAX)
    customer_avatar: Nullable[str] = Field(default=None, alias="customerAvatar", max_length=URL_MAX)
    metadata: Nullable[dict[str, Any]] = None

    _metadata = field_validator("metadata")(_check_metadata)


class TrackLeadIn(TrackFields):
    """``POST /api/track/lead``: a click became a sign-up (or any named lead event)."""

    click_id: Nullable[str] = Field(alias="clickId", max_length=64)
    """Required, as in Dub; empty (or ``null``) reuses the customer's click."""
    event_name: str = Field(alias="eventName", min_length=1, max_length=EVENT_NAME_MAX)
    mode: LeadMode = LeadMode.async_
    event_quantity: Nullable[int] = Field(default=None, alias="eventQuantity", ge=1, le=1_000)


class TrackSaleIn(TrackFields):
    """``POST /api/track/sale``: a customer paid ``amount`` minor units of ``currency``."""

    amount: int = Field(ge=0, le=AMOUNT_MAX)
    currency: str = "usd"
    event_name: Nullable[str] = Field(
        default="Purchase", alias="eventName", min_length=1, max_length=EVENT_NAME_MAX
    )
    payment_processor: Nullable[PaymentProcessor] = Field(
        default=PaymentProcessor.custom, alias="paymentProcessor"
    )
    invoice_id: Nullable[str] = Field(default=None, alias="invoiceId", max_length=INVOICE_ID_MAX)
    lead_event_name: Nullable[str] = Field(
        default=None, alias="leadEventName", max_length=EVENT_NAME_MAX
    )
    click_id: Nullable[str] = Field(default=None, alias="clickId", max_length=64)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> Any:
        if value is None:
            return "usd"
        if isinstance(value, str):
            try:
                normalize_currency(value)
            except CodeQRError as exc:
                raise ValueError(exc.message.removeprefix("currency: ")) from exc
        return value


class ClickRef(BaseModel):
    id: str


class LeadLinkOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    domain: str
    key: str
    short_link: str = Field(alias="shortLink")
    url: str
    partner_id: str | None = Field(default=None, alias="partnerId")
    program_id: str | None = Field(default=None, alias="programId")
    tenant_id: str | None = Field(default=None, alias="tenantId")
    external_id: str | None = Field(default=None, alias="externalId")


class LeadCustomerOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    name: str | None
    email: str | None
    avatar: str | None
    external_id: str | None = Field(alias="externalId")


class TrackLeadOut(BaseModel):
    click: ClickRef
    link: LeadLinkOut | None
    customer: LeadCustomerOut


class SaleCustomerOut(LeadCustomerOut):
    id: str


class SaleOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    amount: int
    currency: str
    payment_processor: str = Field(alias="paymentProcessor")
    invoice_id: str | None = Field(alias="invoiceId")
    metadata: dict[str, Any] | None


class TrackSaleOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    event_name: str = Field(alias="eventName")
    customer: SaleCustomerOut | None
    sale: SaleOut | None

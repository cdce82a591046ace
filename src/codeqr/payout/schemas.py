"""Request and response shapes of the payouts API (Dub's, so its SDKs parse them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeqr.kit.schemas import QueryInt


class WireStatus(StrEnum):
    """Dub's payout statuses (CodeQR uses pending, processing, completed, failed, canceled)."""

    pending = "pending"
    processing = "processing"
    processed = "processed"
    sent = "sent"
    completed = "completed"
    failed = "failed"
    canceled = "canceled"


class SortBy(StrEnum):
    amount = "amount"
    initiated_at = "initiatedAt"
    paid_at = "paidAt"


class PayoutFilters(BaseModel):
    """Query parameters of ``GET /payouts``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: WireStatus | None = None
    partner_id: str | None = Field(default=None, alias="partnerId", max_length=40)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=190)
    invoice_id: str | None = Field(default=None, alias="invoiceId", max_length=190)
    group_id: str | None = Field(default=None, alias="groupId", max_length=40)
    sort_by: SortBy = Field(default=SortBy.amount, alias="sortBy")
    sort_order: str = Field(default="desc", alias="sortOrder", pattern="^(asc|desc)$")
    page: QueryInt = Field(default=1, ge=1, le=1_000_000)
    page_size: QueryInt = Field(default=100, alias="pageSize", ge=1, le=100)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class PayoutPartnerOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    email: str | None
    image: str | None
    default_payout_method: str | None = Field(default=None, alias="defaultPayoutMethod")
    payouts_enabled_at: str | None = Field(default=None, alias="payoutsEnabledAt")
    country: str | None
    tenant_id: str | None = Field(alias="tenantId")
    group_id: str | None = Field(default=None, alias="groupId")


class PayoutOut(BaseModel):
    """A payout (Dub's ``PayoutResponseSchema``); ``amount`` in minor units of
    ``currency``. ``mode`` is ``external``: payouts are made outside CodeQR."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    invoice_id: str | None = Field(alias="invoiceId")
    amount: int
    currency: str
    status: WireStatus
    description: str | None
    period_start: str | None = Field(alias="periodStart")
    period_end: str | None = Field(alias="periodEnd")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    initiated_at: str | None = Field(alias="initiatedAt")
    paid_at: str | None = Field(alias="paidAt")
    mode: str | None = "external"
    method: str | None = None
    failure_reason: str | None = Field(default=None, alias="failureReason")
    trace_id: str | None = Field(default=None, alias="traceId")
    partner: PayoutPartnerOut

"""Request and response shapes of the commissions API (Dub's, so its SDKs parse them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from codeqr.commission.models import CommissionStatus, CommissionType
from codeqr.conversion.schemas import EVENT_NAME_MAX, INVOICE_ID_MAX, PaymentProcessor
from codeqr.conversion.schemas import _check_metadata as check_metadata
from codeqr.customer.schemas import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX, URL_MAX
from codeqr.kit.schemas import Nullable, QueryInt

EARNINGS_MAX = 100_000_000_000
"""The largest manual commission or clawback, in minor units (1,000,000,000.00)."""
SALE_AMOUNT_MAX = 10**15
BULK_MAX = 100


class SettableStatus(StrEnum):
    """Statuses an API caller may set (``processed`` and ``paid`` come from payouts)."""

    pending = "pending"
    refunded = "refunded"
    duplicate = "duplicate"
    canceled = "canceled"
    fraud = "fraud"


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Money = Annotated[int, Field(ge=-EARNINGS_MAX, le=EARNINGS_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class CommissionCustomerIn(_Strict):
    """The customer of a manual lead or sale commission, made on demand (Dub's shape;
    ``country`` and ``stripeCustomerId`` are accepted and not kept)."""

    external_id: str = Field(alias="externalId", min_length=1, max_length=EXTERNAL_ID_MAX)
    country: Nullable[str] = Field(default=None, max_length=2)
    email: Nullable[str] = Field(default=None, max_length=EMAIL_MAX)
    name: Nullable[str] = Field(default=None, max_length=NAME_MAX)
    avatar: Nullable[str] = Field(default=None, max_length=URL_MAX)
    stripe_customer_id: Nullable[str] = Field(
        default=None, alias="stripeCustomerId", max_length=190
    )


class LeadIn(_Strict):
    event_name: Nullable[str] = Field(default=None, alias="eventName", max_length=EVENT_NAME_MAX)
    metadata: Nullable[dict[str, Any]] = None

    _metadata = field_validator("metadata")(check_metadata)


class SaleIn(_Strict):
    amount: Nullable[StrictInt | float] = None
    currency: Nullable[str] = Field(default=None, max_length=3)
    event_name: Nullable[str] = Field(default=None, alias="eventName", max_length=EVENT_NAME_MAX)
    payment_processor: Nullable[PaymentProcessor] = Field(default=None, alias="paymentProcessor")
    invoice_id: Nullable[str] = Field(default=None, alias="invoiceId", max_length=INVOICE_ID_MAX)
    metadata: Nullable[dict[str, Any]] = None

    _metadata = field_validator("metadata")(check_metadata)


class CustomCommissionCreate(_Strict):
    """``POST /commissions`` (Dub's three shapes in one): ``type: custom`` is a manual
    commission, or a clawback when ``amount`` is negative (which then needs a
    ``description``); ``type: lead`` and ``type: sale`` record the lead or sale on the
    partner's link for a customer and earn its commission (``commission.manual``)."""

    type: Literal["custom", "lead", "sale"]
    partner_id: str = Field(alias="partnerId", max_length=40)
    amount: Nullable[float] = None
    date: Nullable[str] = Field(default=None, max_length=40)
    description: Nullable[str] = Field(default=None, max_length=190)
    customer_id: Nullable[str] = Field(default=None, alias="customerId", max_length=40)
    customer: Nullable[CommissionCustomerIn] = None
    link_id: Nullable[str] = Field(default=None, alias="linkId", max_length=40)
    discount_code: Nullable[str] = Field(default=None, alias="discountCode", max_length=190)
    stripe_invoices_to_import: Nullable[str | list[Annotated[str, Field(max_length=190)]]] = Field(
        default=None, alias="stripeInvoicesToImport", max_length=100
    )
    import_stripe_invoices: Nullable[bool] = Field(default=None, alias="importStripeInvoices")
    lead: Nullable[LeadIn] = None
    lead_event_name: Nullable[str] = Field(
        default=None, alias="leadEventName", max_length=EVENT_NAME_MAX
    )
    lead_event_date: Nullable[str] = Field(default=None, alias="leadEventDate", max_length=40)
    sale: Nullable[SaleIn] = None
    sale_amount: Nullable[StrictInt | float] = Field(default=None, alias="saleAmount")
    invoice_id: Nullable[str] = Field(default=None, alias="invoiceId", max_length=INVOICE_ID_MAX)
    sale_event_date: Nullable[str] = Field(default=None, alias="saleEventDate", max_length=40)


class CommissionUpdate(BaseModel):
    """``PATCH /commissions/{id}``: Dub's fields (``amount``/``modifyAmount`` are the old
    names of ``saleAmount``/``modifySaleAmount``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Nullable[SettableStatus] = None
    sale_amount: Nullable[StrictInt | float] = Field(default=None, alias="saleAmount")
    modify_sale_amount: Nullable[StrictInt | float] = Field(default=None, alias="modifySaleAmount")
    amount: Nullable[StrictInt | float] = None
    modify_amount: Nullable[StrictInt | float] = Field(default=None, alias="modifyAmount")
    earnings: Nullable[StrictInt | float] = None
    currency: Nullable[str] = Field(default=None, max_length=3)


class BulkStatusUpdate(BaseModel):
    """``PATCH /commissions/bulk``: one status for up to 100 commissions, all or none."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    commission_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        alias="commissionIds", min_length=1, max_length=BULK_MAX
    )
    status: SettableStatus


class SortBy(StrEnum):
    created_at = "createdAt"
    amount = "amount"


class CommissionFilters(BaseModel):
    """Query parameters of ``GET /commissions``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: CommissionType | None = None
    customer_id: str | None = Field(default=None, alias="customerId", max_length=40)
    payout_id: str | None = Field(default=None, alias="payoutId", max_length=40)
    partner_id: str | None = Field(default=None, alias="partnerId", max_length=40)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=190)
    group_id: str | None = Field(default=None, alias="groupId", max_length=40)
    invoice_id: str | None = Field(default=None, alias="invoiceId", max_length=190)
    status: (
        Literal[
            "pending", "processed", "paid", "refunded", "duplicate", "fraud", "canceled", "hold"
        ]
        | None
    ) = None
    sort_by: SortBy = Field(default=SortBy.created_at, alias="sortBy")
    sort_order: str = Field(default="desc", alias="sortOrder", pattern="^(asc|desc)$")
    starting_after: str | None = Field(default=None, alias="startingAfter", max_length=40)
    ending_before: str | None = Field(default=None, alias="endingBefore", max_length=40)
    page: QueryInt = Field(default=1, ge=1, le=1_000_000)
    page_size: QueryInt = Field(default=100, alias="pageSize", ge=1, le=100)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class CommissionPartnerOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    email: str | None
    image: str | None
    payouts_enabled_at: str | None = Field(default=None, alias="payoutsEnabledAt")
    country: str | None
    group_id: str | None = Field(default=None, alias="groupId")


class CommissionCustomerOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    external_id: str = Field(alias="externalId")
    name: str | None
    email: str | None
    avatar: str | None
    country: str | None
    created_at: str = Field(alias="createdAt")


class CommissionOut(BaseModel):
    """A commission (Dub's ``CommissionEnrichedSchema``); money in minor units of
    ``currency``, the program's."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    type: CommissionType
    amount: int
    earnings: int
    currency: str
    status: CommissionStatus
    invoice_id: str | None = Field(alias="invoiceId")
    description: str | None
    quantity: int
    metadata: dict[str, Any] | None = None
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    paid_at: str | None = Field(alias="paidAt")
    partner: CommissionPartnerOut
    customer: CommissionCustomerOut | None
    link_id: str | None = Field(alias="linkId")
    payout_id: str | None = Field(alias="payoutId")


class Accepted(BaseModel):
    """``POST /commissions``: Dub answers 202 with what it queued; CodeQR has already
    written the commission when it answers."""

    success: bool
    message: str


class StatusOut(BaseModel):
    id: str
    status: CommissionStatus

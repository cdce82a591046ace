"""Request and response shapes of the partners API (Dub's, so its SDKs parse them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeqr.customer.schemas import Country
from codeqr.kit.schemas import Nullable, QueryInt
from codeqr.partner.models import EnrollmentStatus

EMAIL_MAX = 320
LINK_PROPS_MAX = 64
"""Fields a ``linkProps`` object may hold (a link has fewer): bounds what is looked at."""


class BanReason(StrEnum):
    tos_violation = "tos_violation"
    inappropriate_content = "inappropriate_content"
    fake_traffic = "fake_traffic"
    fraud = "fraud"
    spam = "spam"
    brand_abuse = "brand_abuse"


class PartnerStatus(StrEnum):
    """Dub's enrollment statuses; CodeQR's ``active`` is Dub's ``approved``."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    invited = "invited"
    declined = "declined"
    deactivated = "deactivated"
    banned = "banned"
    archived = "archived"


def wire_status(status: str) -> PartnerStatus:
    """An enrollment's status as Dub's SDKs know it."""
    return PartnerStatus.approved if status == EnrollmentStatus.active else PartnerStatus(status)


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError("must be an email address")
    return value


class Selector(BaseModel):
    """A partner named by ``partnerId`` or by the ``tenantId`` of its enrollment."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    partner_id: Nullable[str] = Field(default=None, alias="partnerId", max_length=40)
    tenant_id: Nullable[str] = Field(default=None, alias="tenantId", max_length=190)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class PartnerCreate(BaseModel):
    """``POST /partners``: a partner enrolled in the workspace's program."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    email: str = Field(max_length=EMAIL_MAX)
    name: Nullable[str] = Field(default=None, max_length=190)
    username: Nullable[str] = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    image: Nullable[str] = Field(default=None, max_length=2_000)
    tenant_id: Nullable[str] = Field(default=None, alias="tenantId", max_length=190)
    group_id: Nullable[str] = Field(default=None, alias="groupId", max_length=40)
    country: Nullable[Country] = None
    description: Nullable[str] = Field(default=None, max_length=5_000)
    link_props: Nullable[dict[str, Any]] = Field(
        default=None, alias="linkProps", max_length=LINK_PROPS_MAX
    )

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        return _email(value)


class PartnerLinkCreate(Selector):
    """``POST /partners/links`` and ``PUT /partners/links/upsert``."""

    url: Nullable[str] = Field(default=None, max_length=32_000)
    key: Nullable[str] = Field(default=None, max_length=190)
    comments: Nullable[str] = Field(default=None, max_length=10_000)
    link_props: Nullable[dict[str, Any]] = Field(
        default=None, alias="linkProps", max_length=LINK_PROPS_MAX
    )


class BanRequest(Selector):
    reason: BanReason


class ListSortBy(StrEnum):
    created_at = "createdAt"
    total_clicks = "totalClicks"
    total_leads = "totalLeads"
    total_conversions = "totalConversions"
    total_sale_amount = "totalSaleAmount"
    total_commissions = "totalCommissions"
    net_revenue = "netRevenue"
    earnings_per_click = "earningsPerClick"
    average_lifetime_value = "averageLifetimeValue"
    click_to_lead_rate = "clickToLeadRate"
    click_to_conversion_rate = "clickToConversionRate"
    lead_to_conversion_rate = "leadToConversionRate"
    return_on_ad_spend = "returnOnAdSpend"


SORTABLE = frozenset(
    {
        ListSortBy.created_at,
        ListSortBy.total_clicks,
        ListSortBy.total_leads,
        ListSortBy.total_conversions,
        ListSortBy.total_sale_amount,
        ListSortBy.total_commissions,
    }
)


class PartnerFilters(BaseModel):
    """Query parameters of ``GET /partners``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    group_id: str | None = Field(default=None, alias="groupId", max_length=40)
    status: PartnerStatus | None = None
    country: str | None = Field(default=None, max_length=2)
    sort_by: ListSortBy = Field(default=ListSortBy.total_sale_amount, alias="sortBy")
    sort_order: str = Field(default="desc", alias="sortOrder", pattern="^(asc|desc)$")
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=190)
    search: str | None = Field(default=None, max_length=190)
    page: QueryInt = Field(default=1, ge=1, le=1_000_000)
    page_size: QueryInt = Field(default=100, alias="pageSize", ge=1, le=100)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class PartnerLinkOut(BaseModel):
    """A partner's link as ``GET /partners/links`` and a partner's ``links`` show it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    domain: str
    key: str
    short_link: str = Field(alias="shortLink")
    url: str
    clicks: int
    leads: int
    conversions: int
    sales: int
    sale_amount: int = Field(alias="saleAmount")


class PartnerOut(BaseModel):
    """An enrolled partner (Dub's ``EnrolledPartnerSchema``); money in minor units of the
    program's currency."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    username: str | None
    email: str | None
    image: str | None
    country: str | None
    description: str | None
    company_name: str | None = Field(default=None, alias="companyName")
    network_status: str = Field(default="approved", alias="networkStatus")
    default_payout_method: str | None = Field(default=None, alias="defaultPayoutMethod")
    paypal_email: str | None = Field(default=None, alias="paypalEmail")
    stripe_connect_id: str | None = Field(default=None, alias="stripeConnectId")
    payouts_enabled_at: str | None = Field(default=None, alias="payoutsEnabledAt")
    identity_verified_at: str | None = Field(default=None, alias="identityVerifiedAt")
    program_id: str = Field(alias="programId")
    partner_id: str = Field(alias="partnerId")
    group_id: str = Field(alias="groupId")
    tenant_id: str | None = Field(alias="tenantId")
    status: PartnerStatus
    banned_at: str | None = Field(alias="bannedAt")
    banned_reason: str | None = Field(alias="bannedReason")
    created_at: str = Field(alias="createdAt")
    links: list[PartnerLinkOut]
    total_clicks: int = Field(alias="totalClicks")
    total_leads: int = Field(alias="totalLeads")
    total_conversions: int = Field(alias="totalConversions")
    total_sales: int = Field(alias="totalSales")
    total_sale_amount: int = Field(alias="totalSaleAmount")
    total_commissions: int = Field(alias="totalCommissions")
    currency: str
    """The program's currency, that ``totalSaleAmount`` and ``totalCommissions`` are in (a
    CodeQR addition)."""


class PartnerRef(BaseModel):
    """The answer of ``POST /partners/ban`` and ``/partners/deactivate``."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    partner_id: str = Field(alias="partnerId")

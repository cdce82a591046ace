"""Request and response shapes of the customers API (Dub's, so its SDKs parse them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from codeqr.kit.schemas import Nullable, QueryInt
from codeqr.link.countries import COUNTRY_CODES
from codeqr.money.bounds import Total

NAME_MAX = 190
EMAIL_MAX = 320
EXTERNAL_ID_MAX = 190
URL_MAX = 2_000


def _country(value: object) -> object:
    if isinstance(value, str):
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return code
    return value


Country = Annotated[str, BeforeValidator(_country)]


class CustomerFields(BaseModel):
    """What a customer can be created or updated with; explicit ``null`` clears a field."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    name: Nullable[str] = Field(default=None, max_length=NAME_MAX)
    email: Nullable[str] = Field(default=None, max_length=EMAIL_MAX)
    avatar: Nullable[str] = Field(default=None, max_length=URL_MAX)
    country: Nullable[Country] = None
    stripe_customer_id: Nullable[str] = Field(
        default=None, alias="stripeCustomerId", max_length=190
    )


class CustomerCreate(CustomerFields):
    external_id: str = Field(alias="externalId", min_length=1, max_length=EXTERNAL_ID_MAX)


class CustomerUpdate(CustomerFields):
    external_id: Nullable[str] = Field(
        default=None, alias="externalId", min_length=1, max_length=EXTERNAL_ID_MAX
    )


class CustomerSortBy(StrEnum):
    created_at = "createdAt"
    sale_amount = "saleAmount"
    first_sale_at = "firstSaleAt"
    subscription_canceled_at = "subscriptionCanceledAt"


class CustomerFilters(BaseModel):
    """Query parameters of ``GET /api/customers``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    email: str | None = None
    external_id: str | None = Field(default=None, alias="externalId")
    search: str | None = Field(default=None, max_length=190)
    country: str | None = None
    link_id: str | None = Field(default=None, alias="linkId")
    include_expanded_fields: bool = Field(default=False, alias="includeExpandedFields")
    sort_by: CustomerSortBy = Field(default=CustomerSortBy.created_at, alias="sortBy")
    sort_order: str = Field(default="desc", alias="sortOrder", pattern="^(asc|desc)$")
    page: QueryInt = Field(default=1, ge=1, le=1_000_000)
    page_size: QueryInt = Field(default=100, alias="pageSize", ge=1, le=100)


class CustomerLinkOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    domain: str
    key: str
    short_link: str = Field(alias="shortLink")
    url: str
    program_id: str | None = Field(default=None, alias="programId")


class CustomerOut(BaseModel):
    """A customer as Dub's ``CustomerSchema`` shows it; money in minor units."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    external_id: str = Field(alias="externalId")
    name: str | None
    email: str | None
    avatar: str | None
    country: str | None
    stripe_customer_id: str | None = Field(alias="stripeCustomerId")
    click_id: str | None = Field(alias="clickId")
    link_id: str | None = Field(alias="linkId")
    clicked_at: str | None = Field(alias="clickedAt")
    sales: int
    sale_amount: Total = Field(alias="saleAmount")
    """Net revenue in minor units of the reporting currency, within ``±TOTAL_MAX``."""
    currency: str
    """The reporting currency ``saleAmount`` is in (a CodeQR addition)."""
    first_sale_at: str | None = Field(alias="firstSaleAt")
    subscription_canceled_at: str | None = Field(alias="subscriptionCanceledAt")
    created_at: str = Field(alias="createdAt")
    link: CustomerLinkOut | None = None
    program_id: str | None = Field(default=None, alias="programId")
    partner: None = None
    discount: None = None


class CustomerDeleted(BaseModel):
    id: str

"""What the API answers, as small pydantic models.

Attributes are snake_case and read the API's camelCase; fields the server adds later are kept
(``model_extra``) rather than refused, so an older SDK keeps working against a newer server.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _zero_if_null(value: Any) -> Any:
    return 0 if value is None else value


Count = Annotated[int, BeforeValidator(_zero_if_null)]
"""A counter; ``null`` reads as 0."""


class APIModel(BaseModel):
    """Base of every answer: camelCase on the wire, extra fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        extra="allow",
    )


class Tag(APIModel):
    id: str
    name: str
    color: str | None = None


class Link(APIModel):
    """A short link (``GET /api/links/{id}`` and friends)."""

    id: str
    domain: str
    key: str
    url: str
    short_link: str
    qr_code: str | None = None
    track_conversion: bool = False
    external_id: str | None = None
    tenant_id: str | None = None
    archived: bool = False
    expires_at: str | None = None
    expired_url: str | None = None
    password: str | None = None
    title: str | None = None
    description: str | None = None
    image: str | None = None
    ios: str | None = None
    android: str | None = None
    geo: dict[str, str] | None = None
    tag_id: str | None = None
    tags: list[Tag] = Field(default_factory=list)
    comments: str | None = None
    utm_source: str | None = Field(default=None, alias="utm_source")
    utm_medium: str | None = Field(default=None, alias="utm_medium")
    utm_campaign: str | None = Field(default=None, alias="utm_campaign")
    utm_term: str | None = Field(default=None, alias="utm_term")
    utm_content: str | None = Field(default=None, alias="utm_content")
    user_id: str | None = None
    workspace_id: str | None = None
    clicks: Count = 0
    leads: Count = 0
    sales: Count = 0
    sale_amount: Count = 0
    last_clicked: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class LinkError(APIModel):
    """A bulk-created item that failed, in the place of the link it would have been."""

    link: Any = None
    error: str
    code: str


class LinkRef(APIModel):
    """The link a customer or a conversion is attributed to."""

    id: str
    domain: str | None = None
    key: str | None = None
    short_link: str | None = None
    url: str | None = None


class Customer(APIModel):
    """A customer (``GET /api/customers/{id}``); ``sale_amount`` is in minor units."""

    id: str
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    avatar: str | None = None
    country: str | None = None
    stripe_customer_id: str | None = None
    click_id: str | None = None
    link_id: str | None = None
    clicked_at: str | None = None
    sales: Count = 0
    sale_amount: Count = 0
    first_sale_at: str | None = None
    created_at: str | None = None
    link: LinkRef | None = None


class ClickRef(APIModel):
    id: str


class TrackedCustomer(APIModel):
    """The customer a lead or a sale was recorded for."""

    id: str | None = None
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    avatar: str | None = None


class TrackLeadResult(APIModel):
    """``POST /api/track/lead``: the click, its link and the customer."""

    click: ClickRef
    link: LinkRef | None = None
    customer: TrackedCustomer


class Sale(APIModel):
    amount: int
    currency: str
    payment_processor: str | None = None
    invoice_id: str | None = None
    metadata: dict[str, Any] | None = None


class TrackSaleResult(APIModel):
    """``POST /api/track/sale``: ``customer`` and ``sale`` are null when nothing was recorded
    (no such customer)."""

    event_name: str
    customer: TrackedCustomer | None = None
    sale: Sale | None = None

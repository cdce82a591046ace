"""Keyword arguments the SDK's methods take, in snake_case (sent as the API's camelCase).

Each is a ``TypedDict`` so a type checker knows every name and type; at run time an unknown
keyword is still sent, camelCased, for fields newer than this SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Required, TypedDict

StrOrList = str | Sequence[str]
"""A filter value: ``"a,b"`` or ``["a", "b"]`` (any of); ``"-a"`` means not ``a``."""


class LinkFields(TypedDict, total=False):
    """What a link is made of (``POST /api/links``, ``PATCH /api/links/{id}``)."""

    domain: str | None
    key: str | None
    key_length: int | None
    prefix: str | None
    external_id: str | None
    tenant_id: str | None
    track_conversion: bool | None
    archived: bool | None
    public_stats: bool | None
    tag_ids: Sequence[str] | None
    tag_names: Sequence[str] | None
    comments: str | None
    expires_at: datetime | str | None
    expired_url: str | None
    password: str | None
    proxy: bool | None
    title: str | None
    description: str | None
    image: str | None
    video: str | None
    rewrite: bool | None
    ios: str | None
    android: str | None
    geo: Mapping[str, str] | None
    do_index: bool | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None


class NewLink(LinkFields, total=False):
    """A link to create: ``url`` and any other field."""

    url: Required[str]


class LinkChanges(LinkFields, total=False):
    """Changes to a link: only the fields given; ``None`` clears a field."""

    url: str | None


class LinkFilters(TypedDict, total=False):
    """Filters of ``GET /api/links`` and ``/api/links/count``."""

    domain: str
    tag_id: str
    tag_ids: StrOrList
    tag_names: StrOrList
    folder_id: str
    search: str
    user_id: str
    tenant_id: str
    show_archived: bool
    with_tags: bool


class LinkListParams(LinkFilters, total=False):
    """``GET /api/links``: filters plus paging, by page or after/before a link id."""

    page: int
    page_size: int
    sort_order: Literal["asc", "desc"]
    starting_after: str
    ending_before: str


class LeadParams(TypedDict, total=False):
    """``POST /api/track/lead``."""

    click_id: Required[str]
    event_name: Required[str]
    customer_external_id: Required[str]
    customer_name: str | None
    customer_email: str | None
    customer_avatar: str | None
    mode: Literal["async", "wait", "deferred"]
    event_quantity: int | None
    metadata: Mapping[str, Any] | None


class SaleParams(TypedDict, total=False):
    """``POST /api/track/sale``; ``amount`` is in the currency's minor unit (cents)."""

    customer_external_id: Required[str]
    amount: Required[int]
    currency: str
    event_name: str
    payment_processor: str
    invoice_id: str | None
    metadata: Mapping[str, Any] | None
    lead_event_name: str | None
    click_id: str | None
    customer_name: str | None
    customer_email: str | None
    customer_avatar: str | None


class CustomerFields(TypedDict, total=False):
    name: str | None
    email: str | None
    avatar: str | None
    country: str | None
    stripe_customer_id: str | None


class NewCustomer(CustomerFields, total=False):
    """``POST /api/customers``."""

    external_id: Required[str]


class CustomerChanges(CustomerFields, total=False):
    """``PATCH /api/customers/{id}``: only the fields given; ``None`` clears a field."""

    external_id: str


class CustomerListParams(TypedDict, total=False):
    """``GET /api/customers``."""

    email: str
    external_id: str
    search: str
    country: str
    link_id: str
    include_expanded_fields: bool
    sort_by: Literal["createdAt", "saleAmount", "firstSaleAt", "subscriptionCanceledAt"]
    sort_order: Literal["asc", "desc"]
    starting_after: str
    ending_before: str
    page: int
    page_size: int


class EventFilters(TypedDict, total=False):
    """Filters shared by ``GET /api/analytics`` and ``GET /api/events``."""

    event: Literal["clicks", "leads", "sales", "composite"]
    interval: Literal["24h", "7d", "30d", "90d", "1y", "mtd", "qtd", "ytd", "all"]
    start: datetime | str
    end: datetime | str
    timezone: str
    domain: StrOrList
    key: StrOrList
    link_id: StrOrList
    external_id: StrOrList
    tenant_id: StrOrList
    tag_id: StrOrList
    customer_id: StrOrList
    country: StrOrList
    city: StrOrList
    region: StrOrList
    continent: StrOrList
    device: StrOrList
    browser: StrOrList
    os: StrOrList
    trigger: StrOrList
    referer: StrOrList
    referer_url: StrOrList
    url: StrOrList
    utm_source: StrOrList
    utm_medium: StrOrList
    utm_campaign: StrOrList
    utm_term: StrOrList
    utm_content: StrOrList


class AnalyticsParams(EventFilters, total=False):
    """``GET /api/analytics``."""

    group_by: str


class EventListParams(EventFilters, total=False):
    """``GET /api/events``: newest first, ``limit`` up to 1000 a page."""

    page: int
    limit: int
    sort_order: Literal["asc", "desc"]
    sort_by: Literal["timestamp"]


class QRParams(TypedDict, total=False):
    """``GET /api/qr``: colours as ``#RRGGBB``, ``size`` in pixels, ``margin`` in modules."""

    url: Required[str]
    size: int
    level: Literal["L", "M", "Q", "H"]
    fg_color: str
    bg_color: str
    margin: int
    logo: str
    hide_logo: bool
    include_margin: bool
    format: Literal["png", "svg"]

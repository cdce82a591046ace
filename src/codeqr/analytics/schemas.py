"""Query parameters and answers of the analytics, funnel and events routes (Dub's names)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeqr.analytics.timeframe import Interval, zone
from codeqr.kit.schemas import QueryInt

FILTER_MAX = 2_000


class EventType(StrEnum):
    clicks = "clicks"
    leads = "leads"
    sales = "sales"
    composite = "composite"


class ListedEvent(StrEnum):
    clicks = "clicks"
    leads = "leads"
    sales = "sales"


class GroupBy(StrEnum):
    total = "count"  # not ``count``: that is a method of ``str``
    timeseries = "timeseries"
    continents = "continents"
    regions = "regions"
    countries = "countries"
    cities = "cities"
    devices = "devices"
    browsers = "browsers"
    os = "os"
    triggers = "triggers"
    referers = "referers"
    referer_urls = "referer_urls"
    top_links = "top_links"
    top_urls = "top_urls"
    utm_sources = "utm_sources"
    utm_mediums = "utm_mediums"
    utm_campaigns = "utm_campaigns"
    utm_terms = "utm_terms"
    utm_contents = "utm_contents"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


def _filter_field(alias: str | None = None) -> Any:
    return Field(default=None, alias=alias, max_length=FILTER_MAX)


class AnalyticsFilters(BaseModel):
    """What every analytics and events route takes: the range and the filters.

    A filter value ``a,b`` means any of them, ``-a`` not ``a`` (``-a,b`` none of them).
    Parameters Dub knows and CodeQR does not (partners, folders…) are ignored.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    interval: Interval | None = None
    start: str | None = Field(default=None, max_length=64)
    end: str | None = Field(default=None, max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    domain: str | None = _filter_field()
    key: str | None = _filter_field()
    link_id: str | None = _filter_field("linkId")
    external_id: str | None = _filter_field("externalId")
    tenant_id: str | None = _filter_field("tenantId")
    tag_id: str | None = _filter_field("tagId")
    customer_id: str | None = _filter_field("customerId")
    country: str | None = _filter_field()
    city: str | None = _filter_field()
    region: str | None = _filter_field()
    continent: str | None = _filter_field()
    device: str | None = _filter_field()
    browser: str | None = _filter_field()
    os: str | None = _filter_field()
    trigger: str | None = _filter_field()
    event_name: str | None = _filter_field("eventName")
    referer: str | None = _filter_field()
    referer_url: str | None = _filter_field("refererUrl")
    url: str | None = _filter_field()
    utm_source: str | None = _filter_field()
    utm_medium: str | None = _filter_field()
    utm_campaign: str | None = _filter_field()
    utm_term: str | None = _filter_field()
    utm_content: str | None = _filter_field()
    qr: bool | None = None
    """Dub's shorthand: ``true`` is ``trigger=qr``, ``false`` is ``trigger=-qr``."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class AnalyticsQuery(AnalyticsFilters):
    """``GET /api/analytics`` and ``/api/analytics/funnel``."""

    event: EventType = EventType.clicks
    group_by: GroupBy = Field(default=GroupBy.total, alias="groupBy")


class EventsQuery(AnalyticsFilters):
    """``GET /api/events``: newest first, ``limit`` events a page."""

    event: ListedEvent = ListedEvent.clicks
    page: QueryInt = Field(default=1, ge=1, le=1_000_000)
    limit: QueryInt = Field(default=100, ge=1, le=1_000)
    sort_order: SortOrder = Field(default=SortOrder.desc, alias="sortOrder")
    sort_by: str = Field(default="timestamp", alias="sortBy", pattern="^timestamp$")


class FunnelStep(BaseModel):
    """One step of the funnel; rates are fractions (0.25 is 25 %), ``None`` after a zero."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    step: str
    count: int
    share_of_clicks: float | None = Field(alias="shareOfClicks")
    conversion_rate: float | None = Field(alias="conversionRate")
    """This step's count over the previous step's (``None`` for the first step)."""
    drop_off: int | None = Field(alias="dropOff")
    """How many fewer than the previous step (``None`` for the first step)."""
    drop_off_rate: float | None = Field(alias="dropOffRate")
    sale_amount: int | None = Field(default=None, alias="saleAmount")
    """Revenue of the sales step (minor units of the reporting currency)."""


class Funnel(BaseModel):
    """Clicks → leads → sales over one range and filter set."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    clicks: int
    leads: int
    sales: int
    sale_amount: int = Field(alias="saleAmount")
    currency: str
    """The reporting currency ``saleAmount`` is in (minor units)."""
    steps: list[FunnelStep]

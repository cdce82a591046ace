"""Filter values as the API takes them: ``a,b`` any of, ``-a`` not ``a``, ``-a,b`` none of."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from codeqr.analytics.schemas import AnalyticsFilters


class Scope(StrEnum):
    """Where a filter's value lives."""

    event = "event"
    """A column of every events table (copied from the click onto leads and sales)."""
    link = "link"
    """A column of the event's link."""
    tag = "tag"
    """A tag of the event's link."""
    customer = "customer"
    """The event's customer (for clicks: the click that brought the customer)."""
    conversion = "conversion"
    """A column of lead and sale events only (clicks ignore it)."""


@dataclass(frozen=True)
class Field:
    param: str
    column: str
    scope: Scope
    upper: bool = False
    lower: bool = False


FIELDS: tuple[Field, ...] = (
    Field("domain", "domain", Scope.event),
    Field("key", "key", Scope.event),
    Field("linkId", "link_id", Scope.event),
    Field("country", "country", Scope.event, upper=True),
    Field("city", "city", Scope.event),
    Field("region", "region", Scope.event),
    Field("continent", "continent", Scope.event, upper=True),
    Field("device", "device", Scope.event),
    Field("browser", "browser", Scope.event),
    Field("os", "os", Scope.event),
    Field("trigger", "trigger", Scope.event, lower=True),
    Field("referer", "referer", Scope.event),
    Field("refererUrl", "referer_url", Scope.event),
    Field("url", "url", Scope.event),
    Field("externalId", "external_id", Scope.link),
    Field("tenantId", "tenant_id", Scope.link),
    Field("utm_source", "utm_source", Scope.link),
    Field("utm_medium", "utm_medium", Scope.link),
    Field("utm_campaign", "utm_campaign", Scope.link),
    Field("utm_term", "utm_term", Scope.link),
    Field("utm_content", "utm_content", Scope.link),
    Field("tagId", "tag_id", Scope.tag),
    Field("customerId", "customer_id", Scope.customer),
    Field("eventName", "event_name", Scope.conversion),
)


@dataclass(frozen=True)
class Filter:
    """One filter: the field, its values, and whether they are excluded."""

    field: Field
    values: tuple[str, ...]
    negate: bool


def parse_value(raw: str) -> tuple[tuple[str, ...], bool] | None:
    """``(values, negate)`` of a filter value; ``None`` when it names nothing."""
    text = raw.strip()
    negate = text.startswith("-")
    if negate:
        text = text[1:]
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    return (values, negate) if values else None


def parse(query: AnalyticsFilters) -> list[Filter]:
    """Every filter the request sets, values normalised (country codes upper case…)."""
    found: list[Filter] = []
    for field in FIELDS:
        raw = getattr(query, field.column)  # attribute names are the column names
        if raw is None:
            continue
        parsed = parse_value(raw)
        if parsed is None:
            continue
        values, negate = parsed
        if field.upper:
            values = tuple(v.upper() for v in values)
        if field.lower:
            values = tuple(v.lower() for v in values)
        found.append(Filter(field, values, negate))
    if query.qr is not None and query.trigger is None:
        trigger = next(f for f in FIELDS if f.param == "trigger")
        found.append(Filter(trigger, ("qr",), not query.qr))
    return found

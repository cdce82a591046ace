"""The answers analytics should give, computed in plain Python over the data set's events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.analytics.dataset import Dataset

MEASURES = ("clicks", "leads", "sales", "saleAmount")
KINDS = {
    "clicks": ("clicks",),
    "leads": ("leads",),
    "sales": ("sales",),
    "composite": ("clicks", "leads", "sales"),
}
EVENT_FIELDS = {
    "domain": "domain",
    "key": "key",
    "linkId": "link_id",
    "country": "country",
    "city": "city",
    "region": "region",
    "continent": "continent",
    "device": "device",
    "browser": "browser",
    "os": "os",
    "trigger": "trigger",
    "referer": "referer",
    "refererUrl": "referer_url",
    "url": "url",
}
LINK_FIELDS = {
    "externalId": "external_id",
    "tenantId": "tenant_id",
    **{f"utm_{p}": f"utm_{p}" for p in ("source", "medium", "campaign", "term", "content")},
}
BREAKDOWNS: dict[str, tuple[tuple[str, ...], Any]] = {
    "continents": (("continent",), lambda k: {"continent": k[0]}),
    "countries": (("country",), lambda k: {"country": k[0], "region": "*", "city": "*"}),
    "regions": (("country", "region"), lambda k: {"country": k[0], "region": k[1], "city": "*"}),
    "cities": (
        ("country", "region", "city"),
        lambda k: {"country": k[0], "region": k[1], "city": k[2]},
    ),
    "devices": (("device",), lambda k: {"device": k[0]}),
    "browsers": (("browser",), lambda k: {"browser": k[0]}),
    "os": (("os",), lambda k: {"os": k[0]}),
    "triggers": (("trigger",), lambda k: {"trigger": k[0]}),
    "referers": (("referer",), lambda k: {"referer": k[0]}),
    "referer_urls": (("referer_url",), lambda k: {"refererUrl": k[0]}),
    "top_urls": (("url",), lambda k: {"url": k[0]}),
}
UTM = {
    "utm_sources": "utm_source",
    "utm_mediums": "utm_medium",
    "utm_campaigns": "utm_campaign",
    "utm_terms": "utm_term",
    "utm_contents": "utm_content",
}
RANKING = {
    "clicks": ("clicks",),
    "leads": ("leads",),
    "sales": ("saleAmount", "sales"),
    "composite": ("clicks", "leads", "saleAmount", "sales"),
}


def split(raw: str) -> tuple[set[str], bool]:
    negate = raw.startswith("-")
    values = {v.strip() for v in raw.removeprefix("-").split(",") if v.strip()}
    return values, negate


def _value_matches(data: Dataset, kind: str, event: dict[str, Any], name: str, raw: str) -> bool:
    values, negate = split(raw)
    if name in ("country", "continent"):
        values = {v.upper() for v in values}
    if name in EVENT_FIELDS:
        hit = event[EVENT_FIELDS[name]] in values
    elif name in LINK_FIELDS:
        link = data.links.get(event["link_id"] or "")
        hit = link is not None and link[LINK_FIELDS[name]] in values
    elif name == "tagId":
        hit = bool(set(data.tags.get(event["link_id"] or "", [])) & values)
    elif name == "customerId":
        if kind == "clicks":
            brought = {data.customers[c]["click_id"] for c in values if c in data.customers}
            hit = event["id"] in brought
        else:
            hit = event["customer_id"] in values
    elif name == "eventName":
        if kind == "clicks":
            return True
        hit = event["event_name"] in values
    else:
        raise AssertionError(name)
    return hit != negate


def select(
    data: Dataset, kind: str, filters: dict[str, str], start: int | None, end: int
) -> list[dict[str, Any]]:
    """The events of one kind in ``[start, end)`` that pass every filter."""
    return [
        e
        for e in data.events(kind)
        if (start is None or e["timestamp"] >= start)
        and e["timestamp"] < end
        and all(_value_matches(data, kind, e, n, v) for n, v in filters.items())
    ]


def measures(kind: str, events: Iterable[dict[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(MEASURES, 0)
    for e in events:
        if kind == "clicks":
            out["clicks"] += 1
        elif kind == "leads":
            out["leads"] += e["event_quantity"]
        else:
            out["sales"] += 1
            out["saleAmount"] += e["reporting_amount"] or 0
    return out


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for m in MEASURES:
        into[m] += more[m]


def count(data: Dataset, event: str, filters: dict[str, str], start: int | None, end: int) -> Any:
    out = dict.fromkeys(MEASURES, 0)
    for kind in KINDS[event]:
        _add(out, measures(kind, select(data, kind, filters, start, end)))
    return out


def grouped(
    data: Dataset, event: str, group_by: str, filters: dict[str, str], start: int, end: int
) -> list[dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, int]] = {}
    for kind in KINDS[event]:
        for e in select(data, kind, filters, start, end):
            if group_by in UTM:
                link = data.links.get(e["link_id"] or "")
                key: tuple[Any, ...] = (link[UTM[group_by]] if link else None,)
            elif group_by == "top_links":
                key = (e["link_id"],)
            else:
                key = tuple(e[c] for c in BREAKDOWNS[group_by][0])
            if any(k in (None, "") for k in key):
                continue
            _add(rows.setdefault(key, dict.fromkeys(MEASURES, 0)), measures(kind, [e]))
    ordered = sorted(rows.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    ordered.sort(key=lambda kv: tuple(-kv[1][m] for m in RANKING[event]))
    if group_by in UTM:
        return [{UTM[group_by]: k[0], **v} for k, v in ordered]
    if group_by == "top_links":
        return [{"id": k[0], **v} for k, v in ordered if k[0] in data.links]
    return [{**BREAKDOWNS[group_by][1](k), **v} for k, v in ordered]


def _label(moment: datetime) -> str:
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if moment.utcoffset() == timedelta(0) else text


def _start_of(moment: datetime, granularity: str) -> datetime:
    """The local wall-clock start of the bucket holding ``moment`` (an aware local time)."""
    tz = moment.tzinfo
    assert isinstance(tz, ZoneInfo)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.date() if granularity == "day" else date(moment.year, moment.month, 1)
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def timeseries(
    data: Dataset,
    event: str,
    filters: dict[str, str],
    start: int,
    end: int,
    tz: ZoneInfo,
    granularity: str,
) -> list[dict[str, Any]]:
    """Every bucket from the one holding ``start`` to the one holding ``end - 1``."""
    labels: list[str] = []
    if granularity == "hour":
        # Step through real hours; each is a bucket (an hour repeated at a DST change too).
        first = _start_of(datetime.fromtimestamp(start / 1000, tz), "hour")
        moment = first.astimezone(UTC)
        while moment.timestamp() * 1000 < end:
            labels.append(_label(moment.astimezone(tz)))
            moment += timedelta(hours=1)
    else:
        day = datetime.fromtimestamp(start / 1000, tz).date()
        last = datetime.fromtimestamp((end - 1) / 1000, tz).date()
        seen: list[str] = []
        while day <= last:
            bucket = _start_of(datetime(day.year, day.month, day.day, 12, tzinfo=tz), granularity)
            text = _label(bucket)
            if text not in seen:
                seen.append(text)
            day += timedelta(days=1)
        labels = seen
    rows = {text: dict.fromkeys(MEASURES, 0) for text in labels}
    for kind in KINDS[event]:
        for e in select(data, kind, filters, start, end):
            local = datetime.fromtimestamp(e["timestamp"] / 1000, tz)
            _add(rows[_label(_start_of(local, granularity))], measures(kind, [e]))
    return [{"start": text, **values} for text, values in rows.items()]

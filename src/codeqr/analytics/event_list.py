"""``GET /api/events``: stored clicks, leads and sales, each with its click, link and (for
conversions) customer, in the shapes of Dub's ``ClickEvent``, ``LeadEvent`` and ``SaleEvent``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from codeqr.analytics import repository as repo
from codeqr.analytics.readers import SQL, EventsReader
from codeqr.analytics.repository import Kind
from codeqr.analytics.schemas import EventsQuery, SortOrder
from codeqr.analytics.service import scope
from codeqr.customer import service as customers
from codeqr.kit.clock import from_ms, iso
from codeqr.link.schemas import LinkOut
from codeqr.link.service import LinkService
from codeqr.workspace.models import Workspace
from codeqr.workspace.service import require_plan

FEATURE = "The events list"
REFUND_EVENT_NAME = "Refund"

EventType = Literal["click", "lead", "sale", "refund"]
"""The ``event`` of an API event object."""
_TYPES: dict[Kind, EventType] = {Kind.clicks: "click", Kind.leads: "lead", Kind.sales: "sale"}
_WHERE_FROM = ("domain", "key", "url", "continent", "country", "city", "device", "browser", "os")


def list_events(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    query: EventsQuery,
    reader: EventsReader = SQL,
) -> list[dict[str, Any]]:
    """One page of the workspace's events of one type, newest first unless asked otherwise."""
    require_plan(session, workspace, FEATURE)
    scoped = scope(session, workspace, query)
    kind = Kind(query.event.value)
    rows = reader.page(
        session,
        scoped,
        kind,
        newest_first=query.sort_order is SortOrder.desc,
        offset=(query.page - 1) * query.limit,
        limit=query.limit,
    )
    return shape_events(session, links, workspace, _TYPES[kind], rows, reader)


def shape_events(
    session: Session,
    links: LinkService,
    workspace: Workspace,
    event: EventType,
    rows: Sequence[Mapping[str, Any]],
    reader: EventsReader = SQL,
) -> list[dict[str, Any]]:
    """The API objects of stored rows of one event type, one per row and in their order.

    Refunds are not in the events list (yet); the live stream shows them in the shape of a
    sale, with the refunded part under ``refund`` and the sale refunded under ``sale``.
    """
    link_ids = sorted({r["link_id"] for r in rows if r["link_id"]})
    found = repo.links_by_id(session, workspace.id, link_ids)
    shown = {out.id: out for out in links.out_many(session, list(found.values()))}
    if event == "click":
        return [_click_event(row, _link(row, shown, links, workspace.id)) for row in rows]
    clicks = reader.clicks_by_id(
        session, workspace.id, [r["click_id"] for r in rows if r["click_id"]]
    )
    people = repo.customers_by_id(
        session, workspace.id, sorted({r["customer_id"] for r in rows if r["customer_id"]})
    )
    profiles = {
        c.id: c.model_dump(mode="json", by_alias=True)
        for c in customers.out_many(session, people, links.ctx, workspace.currency, expanded=False)
    }
    sales = (
        repo.sales_by_id(session, workspace.id, [r["sale_id"] for r in rows])
        if event == "refund"
        else {}
    )
    events: list[dict[str, Any]] = []
    for row in rows:
        click = clicks.get(row["click_id"] or "", row)
        shaped = _conversion_event(
            event,
            row,
            _click(click, row),
            _link(row, shown, links, workspace.id),
            profiles.get(row["customer_id"] or "") or _gone_customer(row),
        )
        if event == "refund":
            _add_refund(shaped, row, sales.get(row["sale_id"]))
        events.append(shaped)
    return events


def _timestamp(ms: int) -> str:
    return iso(from_ms(ms)) or ""


def _click(click: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """Dub's click object; a conversion without a stored click shows its own snapshot."""
    stored = click is not event
    return {
        "id": click["id"] if stored else (event.get("click_id") or ""),
        "timestamp": _timestamp(click["timestamp"]),
        "url": click["url"],
        "country": click["country"],
        "city": click["city"],
        "region": click["region"],
        "continent": click["continent"],
        "device": click["device"],
        "browser": click["browser"],
        "os": click["os"],
        "referer": click["referer"],
        "refererUrl": click["referer_url"],
        "qr": click["trigger"] == "qr",
        "trigger": click["trigger"] or None,
        "ip": (click.get("ip") or "") if stored else "",
        "ua": click.get("ua") if stored else None,
    }


def _flat(event: Mapping[str, Any], click: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level copies Dub still sends (deprecated in its SDK, required by it)."""
    return {
        "click_id": click["id"],
        "link_id": event["link_id"] or "",
        **{name: event[name] for name in _WHERE_FROM},
        "qr": 1 if event["trigger"] == "qr" else 0,
        "ip": click["ip"],
    }


def _click_event(row: Mapping[str, Any], link: dict[str, Any]) -> dict[str, Any]:
    click = _click(row, {})
    return {
        "event": "click",
        "timestamp": click["timestamp"],
        "click": click,
        "link": link,
        **_flat(row, click),
    }


def _conversion_event(
    event_type: EventType,
    row: Mapping[str, Any],
    click: dict[str, Any],
    link: dict[str, Any],
    customer: dict[str, Any],
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": event_type,
        "timestamp": _timestamp(row["timestamp"]),
        "eventId": row["id"],
        "eventName": row.get("event_name", REFUND_EVENT_NAME),
        "click": click,
        "link": link,
        "customer": customer,
        "metadata": row.get("metadata"),
        **_flat(row, click),
    }
    if event_type == "sale":
        event["sale"] = _sale(row)
        event["saleAmount"] = row["reporting_amount"] or 0
        event["invoice_id"] = row["invoice_id"] or ""
        event["payment_processor"] = row["payment_processor"]
    return event


def _sale(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "amount": row["amount"],
        "currency": row["currency"].lower(),
        "invoiceId": row["invoice_id"],
        "paymentProcessor": row["payment_processor"],
        "reportingAmount": row["reporting_amount"],
        "reportingCurrency": row["reporting_currency"],
    }


def _add_refund(
    event: dict[str, Any], row: Mapping[str, Any], sale: Mapping[str, Any] | None
) -> None:
    """A refund's own amounts, the sale it gives money back on, and its (negative) effect
    on revenue, as ``saleAmount`` counts it in the reporting currency."""
    event["refund"] = {
        "amount": row["amount"],
        "currency": row["currency"].lower(),
        "reportingAmount": row["reporting_amount"],
        "reportingCurrency": row["reporting_currency"],
        "chargeId": row["charge_id"],
        "refundedTotal": row["refunded_total"],
    }
    event["sale"] = {"id": row["sale_id"], **(_sale(sale) if sale else {})}
    event["saleAmount"] = -(row["reporting_amount"] or 0)
    event["invoice_id"] = (sale["invoice_id"] if sale else None) or ""
    event["payment_processor"] = sale["payment_processor"] if sale else "stripe"


def _link(
    row: Mapping[str, Any], shown: dict[str, LinkOut], links: LinkService, workspace_id: str
) -> dict[str, Any]:
    """The event's link as the links API shows it; a deleted (or never known) link is
    rebuilt from what the event recorded of it."""
    out = shown.get(row["link_id"] or "")
    if out is None:
        at = _timestamp(row["timestamp"])
        short = links.ctx.short_link(row["domain"], row["key"]) if row["domain"] else ""
        out = LinkOut(
            id=row["link_id"] or "",
            domain=row["domain"],
            key=row["key"],
            url=row["url"],
            track_conversion=False,
            external_id=None,
            tenant_id=None,
            archived=False,
            expires_at=None,
            expired_url=None,
            password=None,
            title=None,
            description=None,
            image=None,
            ios=None,
            android=None,
            geo=None,
            tag_id=None,
            tags=[],
            comments=None,
            short_link=short,
            qr_code=links.ctx.qr_code(short) if short else "",
            utm_source=None,
            utm_medium=None,
            utm_campaign=None,
            utm_term=None,
            utm_content=None,
            user_id=None,
            workspace_id=workspace_id,
            project_id=workspace_id,
            clicks=0,
            leads=0,
            conversions=0,
            sales=0,
            sale_amount=0,
            last_clicked=None,
            created_at=at,
            updated_at=at,
        )
    return out.model_dump(mode="json", by_alias=True)


def _gone_customer(row: Mapping[str, Any]) -> dict[str, Any]:
    """A deleted customer: only the id the event kept."""
    return {
        "id": row["customer_id"] or "",
        "externalId": "",
        "name": None,
        "email": None,
        "avatar": None,
        "createdAt": _timestamp(row["timestamp"]),
    }

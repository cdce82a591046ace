"""Every API operation, once: its arguments turned into a :class:`~codeqr.sdk.core.Call`.

The clients expose these as methods (``client.links.create`` is :func:`create_link`), so a
docstring here is the method's docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Unpack

import httpx

from codeqr.sdk import core
from codeqr.sdk.core import Call
from codeqr.sdk.models import Customer, Link, LinkError, TrackLeadResult, TrackSaleResult
from codeqr.sdk.params import (
    AnalyticsParams,
    CustomerChanges,
    CustomerListParams,
    EventListParams,
    LeadParams,
    LinkChanges,
    LinkFilters,
    LinkListParams,
    NewCustomer,
    NewLink,
    QRParams,
    SaleParams,
)

CountGroup = Literal["domain", "tagId", "userId", "folderId"]

# --- links ---------------------------------------------------------------------------------


def create_link(**link: Unpack[NewLink]) -> Call[Link]:
    """Create a short link."""
    return Call("POST", "/links", core.model(Link), json=core.body(link))


def get_link(
    link_id: str | None = None,
    *,
    external_id: str | None = None,
    domain: str | None = None,
    key: str | None = None,
) -> Call[Link]:
    """One link by id, by ``external_id``, or by ``domain`` and ``key``."""
    params = {"link_id": link_id, "external_id": external_id, "domain": domain, "key": key}
    return Call("GET", "/links/info", core.model(Link), params=core.query(params))


def list_links(**params: Unpack[LinkListParams]) -> Call[list[Link]]:
    """One page of the workspace's links, newest first (``page``, ``page_size`` ≤ 100)."""
    return Call("GET", "/links", core.models(Link), params=core.query(params))


def count_links(**filters: Unpack[LinkFilters]) -> Call[int]:
    """How many links match the filters."""
    return Call("GET", "/links/count", core.integer, params=core.query(filters))


def count_links_by(
    group_by: CountGroup, **filters: Unpack[LinkFilters]
) -> Call[list[dict[str, Any]]]:
    """Links per group: ``[{"domain": "…", "_count": 3}, …]``."""
    params = core.query({**filters, "group_by": group_by})
    return Call("GET", "/links/count", core.rows, params=params)


def update_link(link_id: str, **changes: Unpack[LinkChanges]) -> Call[Link]:
    """Change a link (by id or ``ext_<externalId>``); ``None`` clears a field."""
    path = f"/links/{core.segment(link_id)}"
    return Call("PATCH", path, core.model(Link), json=core.body(changes, keep_none=True))


def upsert_link(**link: Unpack[NewLink]) -> Call[Link]:
    """Update the workspace's link to the same ``url``, or create it."""
    return Call("PUT", "/links/upsert", core.model(Link), json=core.body(link))


def delete_link(link_id: str) -> Call[str]:
    """Delete a link (by id or ``ext_<externalId>``); answers its id."""
    return Call("DELETE", f"/links/{core.segment(link_id)}", core.field_of("id", str))


def _link_or_error(response: httpx.Response) -> list[Link | LinkError]:
    out: list[Link | LinkError] = []
    for item in core.rows(response):
        if "error" in item:
            out.append(core.model_of(response, LinkError, item))
        else:
            out.append(core.model_of(response, Link, item))
    return out


def create_links(links: Iterable[NewLink]) -> Call[list[Link | LinkError]]:
    """Create up to 100 links; a failed item is a :class:`LinkError` in its place."""
    items = [core.body(link) for link in links]
    return Call("POST", "/links/bulk", _link_or_error, json=items)


def update_links(
    *,
    link_ids: Sequence[str] | None = None,
    external_ids: Sequence[str] | None = None,
    **changes: Unpack[LinkChanges],
) -> Call[list[Link]]:
    """Apply the same changes to up to 100 links, all or nothing."""
    payload = core.body({"link_ids": link_ids, "external_ids": external_ids})
    payload["data"] = core.body(changes, keep_none=True)
    return Call("PATCH", "/links/bulk", core.models(Link), json=payload)


def delete_links(link_ids: Sequence[str]) -> Call[int]:
    """Delete up to 100 links; answers how many were deleted."""
    params = core.query({"link_ids": link_ids})
    return Call("DELETE", "/links/bulk", core.field_of("deletedCount", int), params=params)


# --- conversions ---------------------------------------------------------------------------


def track_lead(**lead: Unpack[LeadParams]) -> Call[TrackLeadResult]:
    """Record a lead (a sign-up) for the customer who came through click ``click_id``."""
    return Call("POST", "/track/lead", core.model(TrackLeadResult), json=core.body(lead))


def track_sale(**sale: Unpack[SaleParams]) -> Call[TrackSaleResult]:
    """Record a sale (``amount`` in minor units) for a customer; one per ``invoice_id``."""
    return Call("POST", "/track/sale", core.model(TrackSaleResult), json=core.body(sale))


# --- customers -----------------------------------------------------------------------------


def list_customers(**params: Unpack[CustomerListParams]) -> Call[list[Customer]]:
    """One page of the workspace's customers."""
    return Call("GET", "/customers", core.models(Customer), params=core.query(params))


def get_customer(
    customer_id: str, *, include_expanded_fields: bool | None = None
) -> Call[Customer]:
    """One customer by id or ``ext_<externalId>``."""
    params = core.query({"include_expanded_fields": include_expanded_fields})
    path = f"/customers/{core.segment(customer_id)}"
    return Call("GET", path, core.model(Customer), params=params)


def create_customer(**customer: Unpack[NewCustomer]) -> Call[Customer]:
    """Create a customer."""
    return Call("POST", "/customers", core.model(Customer), json=core.body(customer))


def update_customer(customer_id: str, **changes: Unpack[CustomerChanges]) -> Call[Customer]:
    """Change a customer (by id or ``ext_<externalId>``); ``None`` clears a field."""
    path = f"/customers/{core.segment(customer_id)}"
    return Call("PATCH", path, core.model(Customer), json=core.body(changes, keep_none=True))


def delete_customer(customer_id: str) -> Call[str]:
    """Delete a customer (by id or ``ext_<externalId>``); answers its id."""
    path = f"/customers/{core.segment(customer_id)}"
    return Call("DELETE", path, core.field_of("id", str))


# --- analytics, events, QR codes -----------------------------------------------------------


def retrieve_analytics(
    **params: Unpack[AnalyticsParams],
) -> Call[dict[str, Any] | list[dict[str, Any]]]:
    """Clicks, leads, sales and revenue: an object for ``group_by="count"`` (the default),
    else one row per bucket or group."""
    return Call("GET", "/analytics", core.rows_or_object, params=core.query(params))


def list_events(**params: Unpack[EventListParams]) -> Call[list[dict[str, Any]]]:
    """Raw events (clicks, leads or sales), newest first."""
    return Call("GET", "/events", core.rows, params=core.query(params))


def get_qr(**params: Unpack[QRParams]) -> Call[bytes]:
    """A QR code image of ``url``: PNG bytes, or SVG with ``format="svg"``."""
    return Call("GET", "/qr", core.content, params=core.query(params))

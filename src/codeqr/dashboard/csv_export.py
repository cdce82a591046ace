"""Breakdowns as CSV files for spreadsheets.

Values come from visitors (a referer, a city), so a cell a spreadsheet would read as a
formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first) is written with a
leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.responses import Response

from codeqr.money.currency import minor_units

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = {
    "countries": "Country",
    "cities": "City",
    "devices": "Device",
    "browsers": "Browser",
    "os": "OS",
    "referers": "Referer",
    "triggers": "Trigger",
    "top_links": "Link",
    "utm_sources": "UTM source",
    "utm_mediums": "UTM medium",
    "utm_campaigns": "UTM campaign",
}


def cell(value: object) -> str:
    """One value as text no spreadsheet evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def breakdown_csv(part: str, rows: list[dict[str, Any]], currency: str) -> str:
    """A header and one line per row: its name, the value a filter uses, the counts, revenue
    in major units of ``currency`` and the row's share of all clicks of the file."""
    units = minor_units(currency)
    clicks = sum(int(row["clicks"]) for row in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [COLUMNS[part], "Value", "Clicks", "Leads", "Sales", f"Revenue ({currency})",
         "Share of clicks"]
    )  # fmt: skip
    for row in rows:
        share = f"{100 * int(row['clicks']) / clicks:.1f}%" if clicks else ""
        revenue = int(row["saleAmount"]) / 10**units
        writer.writerow(
            [cell(row["label"]), cell(row["value"]), row["clicks"], row["leads"], row["sales"],
             f"{revenue:.{units}f}", share]
        )  # fmt: skip
    return out.getvalue()


MAX_EXPORT_ROWS = 10_000
"""The most rows one events or customers file holds (newest first); the page says so."""


def _writer() -> tuple[io.StringIO, Any]:
    out = io.StringIO()
    return out, csv.writer(out, lineterminator="\r\n")


def _major(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return ""
    units = minor_units(currency)
    return f"{amount / 10**units:.{units}f}"


def events_csv(events: list[dict[str, Any]]) -> str:
    """Events as ``GET /api/events`` lists them: when, what, where from, who and how much
    (a sale's own amount and currency, and in the reporting currency)."""
    out, writer = _writer()
    writer.writerow(
        ["Time (UTC)", "Event", "Event name", "Short link", "Destination", "Click ID",
         "Country", "City", "Device", "Browser", "OS", "Referer", "Trigger", "Customer",
         "Customer email", "Customer external ID", "Amount", "Currency", "Invoice ID"]
    )  # fmt: skip
    for event in events:
        click, link = event.get("click") or {}, event.get("link") or {}
        customer, sale = event.get("customer") or {}, event.get("sale") or {}
        writer.writerow(
            [cell(event["timestamp"]), event["event"], cell(event.get("eventName")),
             cell(link.get("shortLink")), cell(click.get("url")), cell(click.get("id")),
             cell(click.get("country")), cell(click.get("city")), cell(click.get("device")),
             cell(click.get("browser")), cell(click.get("os")), cell(click.get("referer")),
             cell(click.get("trigger")), cell(customer.get("name")),
             cell(customer.get("email")), cell(customer.get("externalId")),
             _major(sale.get("amount"), sale.get("currency")),
             str(sale.get("currency") or "").upper(), cell(sale.get("invoiceId"))]
        )  # fmt: skip
    return out.getvalue()


def customers_csv(customers: list[Any], currency: str) -> str:
    """Customers as the page lists them (``CustomerOut``), revenue in ``currency``."""
    out, writer = _writer()
    writer.writerow(
        ["ID", "External ID", "Name", "Email", "Country", "Short link", "Sales",
         f"Revenue ({currency})", "First sale (UTC)", "Since (UTC)"]
    )  # fmt: skip
    for c in customers:
        writer.writerow(
            [c.id, cell(c.external_id), cell(c.name), cell(c.email), cell(c.country),
             cell(c.link.short_link if c.link else None), c.sales,
             _major(int(c.sale_amount), currency), cell(c.first_sale_at), cell(c.created_at)]
        )  # fmt: skip
    return out.getvalue()


def download(body: str, name: str) -> Response:
    """``body`` as a CSV file download named ``name``."""
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )

"""Breakdowns as CSV files for spreadsheets.

Values come from visitors (a referer, a city), so a cell a spreadsheet would read as a
formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first) is written with a
leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

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

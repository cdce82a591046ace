"""Rendering dashboard pages: the Jinja environment, the security headers, static URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment

from codeqr.auth.pages import templates
from codeqr.money.bounds import clamp_total
from codeqr.money.currency import format_minor, minor_units

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles come from this origin only: no inline code, no inline handlers, so an
# injected attribute cannot run anything. ``connect-src 'self'`` covers the chart data and
# the live events stream.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=64)
def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content so it can be cached for a year."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def _money(amount: int | None, currency: str) -> str:
    # Within the bounds every total is kept to, whatever an older database holds.
    return format_minor(clamp_total(amount), currency)


def _number(value: int | None) -> str:
    return f"{value or 0:,}"


def _when(value: datetime | str | None) -> str:
    """``2025-03-01 14:05 UTC`` (the browser rewrites it into local time)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: datetime | str | None) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The dashboard's templates, then the shared sign-in layout's."""
    env = templates("codeqr.dashboard")
    env.globals["static"] = static_url
    env.globals["minor_units"] = minor_units
    env.filters["money"] = _money
    env.filters["number"] = _number
    env.filters["when"] = _when
    env.filters["iso"] = _iso
    return env


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A dashboard template rendered with the page security headers."""
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

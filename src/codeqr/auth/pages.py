"""Server-rendered pages: one Jinja environment per package, autoescaped, sharing a layout."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

# Pages hold CSRF tokens and consent decisions: never cached, never framed (clickjacking),
# no script at all. ``form-action`` is left out on purpose: Chromium applies it to the
# redirect that follows a form, and the consent form redirects to the client's site.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def templates(*packages: str) -> Environment:
    """An environment loading ``templates/`` of each package, then the shared layout."""
    names = [*packages, "codeqr.auth"]
    return Environment(
        loader=ChoiceLoader([PackageLoader(name, "templates") for name in names]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(env: Environment, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered into an HTML answer with the page security headers."""
    html = env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

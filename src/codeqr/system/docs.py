"""``/api/docs``: the API reference (Swagger UI), served from this app's own ``/static``.

Swagger UI is vendored (``make vendor-swagger-ui``: a pinned ``swagger-ui-dist``, checked
against its SHA-256), so the page loads no code from anywhere else; its policy says so.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from codeqr.dashboard.pages import static_url

OPENAPI_URL = "/api/openapi.json"
_VENDOR = "vendor/swagger-ui"
# Swagger UI's start-up script is the one inline script of the page: allowed by its hash,
# not by 'unsafe-inline'.
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter()


@functools.cache
def _page() -> tuple[bytes, dict[str, str]]:
    """The page and its headers, built once (they depend only on the vendored files)."""
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="CodeQR API",
        swagger_js_url=static_url(f"{_VENDOR}/swagger-ui-bundle.js"),
        swagger_css_url=static_url(f"{_VENDOR}/swagger-ui.css"),
        swagger_favicon_url="data:,",  # FastAPI's default favicon is on another site
        # No spec validator badge: it is an image from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html.decode())
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    return html, headers


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> HTMLResponse:
    """The interactive API reference."""
    body, headers = _page()
    return HTMLResponse(body, headers=headers)

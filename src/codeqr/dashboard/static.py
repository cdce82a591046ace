"""``/static/``: the dashboard's own CSS, scripts and vendored Chart.js, cached long."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from codeqr.dashboard.pages import STATIC_DIR

# Pages link every file with ``?v=<content hash>`` (``pages.static_url``): a changed file
# gets a new URL, so a browser may keep each version for a year without asking again.
VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=86400"


class CachedStatic(StaticFiles):
    """Static files with cache and ``nosniff`` headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, with long cache headers when asked for by its versioned URL."""
        response = await super().get_response(path, scope)
        if response.status_code in {200, 304}:
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = VERSIONED if versioned else UNVERSIONED
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_app() -> CachedStatic:
    """The ASGI app mounted at ``/static``."""
    return CachedStatic(directory=STATIC_DIR)

"""The dashboard's routes, and ``install`` that adds them (and ``/static``) to the app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from codeqr.dashboard import deps
from codeqr.dashboard.endpoints import (
    analytics,
    customers,
    events,
    home,
    links,
    members,
    program,
    settings,
    webhooks,
)
from codeqr.dashboard.static import static_app

router = APIRouter(include_in_schema=False)
for module in (
    home,
    links,
    analytics,
    events,
    customers,
    program,
    webhooks,
    settings,
    members,
):
    router.include_router(module.router)


def install(app: FastAPI) -> None:
    """Serve the dashboard pages, their refusal page and the static files."""
    deps.install(app)
    app.include_router(router)
    app.mount("/static", static_app(), name="static")

"""Health and the landing page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from codeqr.api.deps import ServicesDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, str]:
    """200 when the app can serve: its database answers."""
    with services.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home() -> str:
    """The landing page (the dashboard takes this place when it exists)."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>CodeQR</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'></head>"
        "<body style='font-family:system-ui;max-width:40rem;margin:4rem auto;padding:0 1rem'>"
        "<h1>CodeQR</h1><p>Short links, QR codes and conversion tracking.</p>"
        "<p>API reference: <a href='/api/docs'>/api/docs</a></p></body></html>"
    )

"""Health of the app (the dashboard answers ``/``)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from codeqr.api.deps import ServicesDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, str]:
    """200 when the app can serve: its database answers."""
    with services.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}

"""Health: liveness and readiness (the dashboard answers ``/``).

``/healthz`` and ``/readyz`` are public (load balancers call them) and cheap.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from codeqr.system.health import Readiness

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process serves (liveness: nothing else is checked; see ``/readyz``)."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers at the current migration (and Redis, in scale-out);
    else 503 naming what failed. Worked out at most once a second."""
    readiness: Readiness = request.app.state.readiness
    ready, body = await readiness.check()
    return JSONResponse(body, status_code=200 if ready else 503)

"""Health and operations: liveness, readiness, Prometheus metrics (the dashboard answers
``/``).

``/healthz`` and ``/readyz`` are public (load balancers call them) and cheap; ``/metrics``
asks for the ``CODEQR_METRICS_TOKEN`` bearer token and is off (404) without one.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from codeqr.api.deps import ServicesDep
from codeqr.kit.errors import NotFound, Unauthorized
from codeqr.system.health import Readiness
from codeqr.system.metrics import AppMetrics

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


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """This process's metrics in Prometheus's text format, for the metrics token's holder
    (every worker's, labelled, under ``--workers``)."""
    token = services.settings.metrics_token
    if not token:
        raise NotFound("Metrics are off: set CODEQR_METRICS_TOKEN to turn them on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compared in constant time, as bytes (the header as sent, the setting as UTF-8).
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("latin-1"), token.encode()
    ):
        raise Unauthorized(
            "Unauthorized: /metrics needs the metrics token (Authorization: Bearer …).",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    collector: AppMetrics = request.app.state.metrics
    registry = collector.registry if collector.workers is None else collector.workers.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

"""Plain helpers for the analytics tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.analytics.conftest import Loaded
from tests.analytics.dataset import ms

FULL = {"start": "2026-01-01", "end": "2026-11-30"}
"""Every event of the data set, in UTC (a date as ``end`` includes that day)."""
FULL_MS = (ms(datetime(2026, 1, 1, tzinfo=UTC)), ms(datetime(2026, 12, 1, tzinfo=UTC)))


def api(loaded: Loaded, token: str | None = None) -> httpx.Client:
    return loaded.server.client(token or loaded.a.tenant.token)


def analytics(loaded: Loaded, token: str | None = None, **params: Any) -> Any:
    """``GET /api/analytics`` expecting a 200; the JSON answer."""
    response = api(loaded, token).get("/api/analytics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    """The error envelope's ``error`` after checking status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "doc_url"}
    error: dict[str, str] = body["error"]
    return error


def strip_links(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """top_links rows cut down to the id and the measures (what the oracle knows)."""
    keep = ("id", "clicks", "leads", "sales", "saleAmount")
    return [{k: r[k] for k in keep} for r in rows]

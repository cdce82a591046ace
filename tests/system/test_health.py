from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.conftest import LiveServer


def test_healthz_is_liveness_and_asks_the_database_nothing(server: LiveServer) -> None:
    """``/healthz`` answers while the process serves without a query: a database outage is
    ``/readyz``'s to report (liveness failing on it would have every process restarted)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = server.services.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            response = server.client().get("/healthz")
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert "SELECT 1" not in statements


def test_unknown_api_route_gets_the_error_envelope(server: LiveServer) -> None:
    response = server.client().get("/api/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

from __future__ import annotations

from tests.conftest import LiveServer


def test_healthz_answers_when_the_database_does(server: LiveServer) -> None:
    response = server.client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_api_route_gets_the_error_envelope(server: LiveServer) -> None:
    response = server.client().get("/api/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

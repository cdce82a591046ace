"""The OpenAPI documents the error answers each ``/api`` operation gives, in the envelope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer

from .matrix import NONE, ROWS

ENVELOPE = "#/components/schemas/ErrorEnvelope"
# Answers a route declares itself in another shape: the OAuth token endpoint's RFC 6749
# errors ({"error", "error_description"}).
OWN_SHAPES = {("post", "/api/oauth/token", "400"), ("post", "/api/oauth/token", "401")}


@pytest.fixture(scope="module")
def schema(live: LiveServer) -> dict[str, Any]:
    answer = live.client().get("/api/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]


def _authenticated() -> set[tuple[str, str]]:
    """Operations that answer 401 to a caller without credentials (the matrix says)."""
    return {(row.method.lower(), row.path) for row in ROWS if row.expect.get(NONE) == 401}


def test_every_operation_documents_its_error_answers(schema: dict[str, Any]) -> None:
    authenticated = _authenticated()
    missing = []
    for method, path, operation in _operations(schema):
        needed = {"429"}
        if (method, path) in authenticated:
            needed.add("401")
        if "requestBody" in operation or operation.get("parameters"):
            needed.add("422")
        if "requestBody" in operation:
            needed |= {"400", "413"}
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            needed.add("404")
        documented = set(operation["responses"])
        if needed - documented:
            missing.append((method.upper(), path, sorted(needed - documented)))
    assert not missing


def test_every_error_answer_is_the_envelope(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["ErrorEnvelope"]["required"] == ["error"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    wrong = []
    for method, path, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if not code.startswith("4") or (method, path, code) in OWN_SHAPES:
                continue
            ref = response.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != ENVELOPE:
                wrong.append((method.upper(), path, code))
    assert not wrong


def test_what_the_matrix_sees_is_documented(schema: dict[str, Any]) -> None:
    """Each 4xx a caller of the isolation matrix gets is one the operation documents."""
    undocumented = []
    for row in ROWS:
        operation = schema["paths"].get(row.path, {}).get(row.method.lower())
        if operation is None:  # not an OpenAPI operation (pages, receivers, preflights)
            continue
        for caller, status in row.expect.items():
            if 400 <= status < 500 and str(status) not in operation["responses"]:
                undocumented.append((row.method, row.path, caller, status))
    assert not undocumented

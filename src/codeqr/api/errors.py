"""One place that turns every failure into the Dub error envelope."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from codeqr.kit.errors import STATUS_CODES, CodeQRError, error_envelope

log = structlog.get_logger(__name__)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        source, rest = parts[0], parts[1:]
        return f"{source} " + ".".join(rest) if rest else source
    return ".".join(parts)


def describe_validation(errors: list[Any]) -> tuple[int, str]:
    """Status and message for pydantic errors: 400 for unreadable JSON, 422 otherwise."""
    for err in errors:
        if err.get("type") == "json_invalid":
            return 400, f"Invalid JSON body: {err.get('ctx', {}).get('error', 'cannot be parsed')}"
    messages = []
    for err in errors[:5]:
        where = _where(tuple(err.get("loc", ())))
        messages.append(f"{where}: {err.get('msg', 'invalid')}")
    return 422, "Invalid request: " + "; ".join(messages)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(CodeQRError)
    async def _codeqr(_: Request, exc: CodeQRError) -> JSONResponse:
        return JSONResponse(exc.envelope(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = describe_validation(list(exc.errors()))
        code = STATUS_CODES[status]
        return JSONResponse(error_envelope(code, message), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(
            exc.status_code, "bad_request" if exc.status_code < 500 else "internal_server_error"
        )
        message = str(exc.detail) if exc.detail else code.replace("_", " ").capitalize()
        if exc.status_code == 405:
            code, message = "method_not_allowed", "Method not allowed."
        return JSONResponse(
            error_envelope(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique key claimed by a concurrent request: the loser gets a conflict, not a 500.
        log.info("api.integrity_conflict", error=str(exc.orig)[:200])
        return JSONResponse(
            error_envelope("conflict", "The resource already exists (a concurrent request)."),
            status_code=409,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled", error=repr(exc))
        return JSONResponse(
            error_envelope("internal_server_error", "An internal error occurred."),
            status_code=500,
        )

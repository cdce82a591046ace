"""One place that turns every failure into the Dub error envelope."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeqr.kit.errors import STATUS_CODES, CodeQRError, error_envelope

log = structlog.get_logger(__name__)

MAX_MESSAGES = 5
# Unique constraints (by a column they cover) and the API field a clash on them is about.
_UNIQUE_FIELDS = (("key_lower", "key"), ("external_id", "externalId"), ("tags", "tagNames"))
_SOURCES = {"query": "query parameter", "path": "path parameter", "header": "header"}


def _where(loc: tuple[Any, ...], source: str | None = None) -> str:
    """Name the field an error is about: ``url``, ``geo.FR``, ``[3].url``, ``query parameter
    pageSize``; the request body as a whole is ``body``."""
    parts = list(loc)
    if parts and parts[0] in {"body", *_SOURCES}:
        source, parts = parts[0], parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if source in _SOURCES:
        return f"{_SOURCES[source]} {path}".strip()
    return path or "body"


def _why(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    # Validators raise ValueError("…"); pydantic prefixes it with "Value error, ".
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe_validation(errors: list[Any], source: str | None = None) -> tuple[int, str]:
    """Status and message for pydantic errors: 400 for a body that is not JSON, else 422.

    The message names each field (up to five) and why it was refused.
    """
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", "cannot be parsed")
            return 400, f"Invalid JSON body: {reason}"
        if tuple(err.get("loc", ())) == ("body",) and isinstance(err.get("input"), bytes):
            # FastAPI hands over the raw bytes when the Content-Type is not JSON.
            return 400, "Invalid body: send JSON with Content-Type: application/json"
    messages = [f"{_where(tuple(e.get('loc', ())), source)}: {_why(e)}" for e in errors]
    more = len(messages) - MAX_MESSAGES
    text = "; ".join(messages[:MAX_MESSAGES]) + (f"; and {more} more" if more > 0 else "")
    return 422, f"Invalid request: {text}"


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
        elif isinstance(exc.__cause__, RecursionError):
            # FastAPI's answer to a body its JSON parser gave up on: say why.
            message = "Invalid JSON body: nested too deeply"
        elif isinstance(exc.__cause__, UnicodeDecodeError):
            message = "Invalid JSON body: not UTF-8 text"
        return JSONResponse(
            error_envelope(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique key claimed by a concurrent request: the loser gets a conflict, not a 500.
        detail = str(exc.orig)
        log.info("api.integrity_conflict", error=detail[:200])
        field = next((f for column, f in _UNIQUE_FIELDS if column in detail), None)
        message = "The resource already exists (claimed by a concurrent request)."
        if field:
            message = f"{field}: already taken (claimed by a concurrent request)."
        return JSONResponse(error_envelope("conflict", message), status_code=409)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (too long, out of range) that validation let through:
        # the request is at fault, so a 422 rather than a 500, and a warning to fix the check.
        reason = str(exc.orig).strip().splitlines()[0][:200] if exc.orig else "invalid value"
        log.warning("api.data_error", error=reason)
        return JSONResponse(
            error_envelope("unprocessable_entity", f"A value cannot be stored: {reason}"),
            status_code=422,
        )

    app.add_middleware(Unexpected)


class Unexpected:
    """Answers an unexpected exception with a 500 in the envelope, and stops it there.

    Starlette's own last-resort handler re-raises after answering, and the server then drops
    the connection: a client retrying on its kept-alive connection would get a reset instead
    of the retry it meant to make.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception("api.unhandled", error=repr(exc))
            if started:  # nothing sensible can follow half an answer
                raise
            response = JSONResponse(
                error_envelope("internal_server_error", "An internal error occurred."),
                status_code=500,
            )
            await response(scope, receive, send)

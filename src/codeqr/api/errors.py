"""One place that turns every failure into the Dub error envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeqr.kit.errors import STATUS_CODES, CodeQRError, error_envelope

log = structlog.get_logger(__name__)

MAX_MESSAGES = 5
# Unique constraints (by a column they cover) and the API field a clash on them is about.
_UNIQUE_FIELDS = (("key_lower", "key"), ("external_id", "externalId"), ("tags", "tagNames"))
_SOURCES = {"query": "query parameter", "path": "path parameter", "header": "header"}
F = TypeVar("F", bound=Callable[..., Any])
_ANSWERS = "__codeqr_answers__"


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
    document(app)


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


# --- the error answers in the OpenAPI -------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong: a stable snake_case code, a message naming the field and why."""

    code: str
    message: str
    doc_url: str


class ErrorEnvelope(BaseModel):
    """The body of every error answer of the API (Dub's envelope)."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad request: the body is not JSON, or a rule of the request is broken.",
    401: "Unauthorized: no credentials, or unknown, revoked or expired ones.",
    403: "Forbidden: the credentials may not do this (key kind, plan, scope).",
    404: "Not found: nothing of the caller's workspace has that id.",
    409: "Conflict: a unique value (key, external id, account) is already taken.",
    413: "Payload too large: the body is over the instance's limit.",
    422: "Unprocessable entity: a field is missing, of the wrong type or out of bounds.",
    429: "Rate limit exceeded: wait for Retry-After seconds.",
}
_WRITES = frozenset({"POST", "PUT", "PATCH"})


def answers(*codes: int) -> Callable[[F], F]:
    """Mark a dependency (or an endpoint) with the error statuses it can answer, so that
    ``document`` declares them on every operation that uses it."""

    def mark(call: F) -> F:
        setattr(call, _ANSWERS, frozenset(codes))
        return call

    return mark


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def error_codes(dependant: Dependant, method: str) -> set[int]:
    """The error statuses an ``/api`` operation can answer, read from what it depends on:
    its inputs (validation, size), the marks of its dependencies (``answers``), and rate
    limits (every ``/api`` route has one)."""
    codes = {429}
    for part in _dependants(dependant):
        codes |= getattr(part.call, _ANSWERS, frozenset())
        if part.path_params:
            codes |= {404, 422}  # the object named in the path may not be the caller's
        if part.query_params or part.header_params or part.cookie_params:
            codes.add(422)
        if part.body_params:
            codes |= {400, 413, 422}
    if 401 in codes and method in _WRITES:
        # An authenticated write claims unique values (keys, external ids, invoice ids): a
        # concurrent request may have claimed one first.
        codes.add(409)
    return codes


def document(app: FastAPI) -> None:
    """Declare, on every ``/api`` operation of ``app``'s OpenAPI, the error answers it can
    give (``error_codes``), each with the error envelope as its body. Answers a route
    declares itself (the OAuth token endpoint's RFC 6749 errors) are kept as they are."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(envelope.pop("$defs", {}))
        components["ErrorEnvelope"] = envelope
        # FastAPI's own shape of a validation error, which the API never answers.
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        for route in iter_route_contexts(app.routes):
            path = route.path_format or ""
            if not isinstance(route.original_route, APIRoute) or not path.startswith("/api/"):
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is None:  # not in the schema (include_in_schema=False)
                    continue
                responses = operation.setdefault("responses", {})
                if "HTTPValidationError" in str(responses.get("422")):
                    del responses["422"]
                for code in sorted(error_codes(route.dependant, method)):
                    if str(code) not in responses:
                        responses[str(code)] = {"description": _DESCRIPTIONS[code], "content": body}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""Every error the SDK raises, typed after the API's error envelope.

The hierarchy::

    CodeQRError                    any failure; also an answer the SDK cannot place
    ├── BadRequestError            400 bad_request
    ├── UnauthorizedError          401 unauthorized
    ├── ForbiddenError             403 forbidden
    ├── NotFoundError              404 not_found
    ├── ConflictError              409 conflict
    ├── UnprocessableEntityError   422 unprocessable_entity
    ├── RateLimitExceededError     429 rate_limit_exceeded
    ├── InternalServerError        500 internal_server_error
    └── APIConnectionError         no answer at all: refused, DNS, TLS, broken transfer
        └── APITimeoutError        no answer in time

The API answers failures as ``{"error": {"code", "message", "doc_url"}}``; the class follows
the ``code``. A code this SDK does not know yet (``gone``, ``payload_too_large``…) and an answer
without the envelope (an HTML 502 from a proxy) raise the base class, with the HTTP status.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx


class CodeQRError(Exception):
    """A request that failed: the HTTP status (``None`` without an answer), the API's stable
    snake_case ``code``, its ``message`` and ``doc_url``, and the raw ``response`` if any."""

    default_code: ClassVar[str] = "unknown_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        doc_url: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code or self.default_code
        self.doc_url = doc_url
        self.response = response

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"


class BadRequestError(CodeQRError):
    default_code = "bad_request"


class UnauthorizedError(CodeQRError):
    default_code = "unauthorized"


class ForbiddenError(CodeQRError):
    default_code = "forbidden"


class NotFoundError(CodeQRError):
    default_code = "not_found"


class ConflictError(CodeQRError):
    default_code = "conflict"


class UnprocessableEntityError(CodeQRError):
    default_code = "unprocessable_entity"


class RateLimitExceededError(CodeQRError):
    default_code = "rate_limit_exceeded"


class InternalServerError(CodeQRError):
    default_code = "internal_server_error"


class APIConnectionError(CodeQRError):
    """The request got no answer; ``__cause__`` holds httpx's own exception."""

    default_code = "connection_error"


class APITimeoutError(APIConnectionError):
    default_code = "timeout"


ERRORS_BY_CODE: dict[str, type[CodeQRError]] = {
    cls.default_code: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitExceededError,
        InternalServerError,
    )
}


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    """The ``error`` object of a response, or ``None`` when it has none."""
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error
    return None


def error_from_response(response: httpx.Response) -> CodeQRError:
    """The typed error for a failed response (status 400 and above)."""
    error = _envelope(response)
    if error is None:
        reason = response.reason_phrase or "error"
        return CodeQRError(
            f"HTTP {response.status_code} {reason} without an error envelope",
            status=response.status_code,
            code="unexpected_response",
            response=response,
        )
    code = str(error["code"])
    doc_url = error.get("doc_url")
    return ERRORS_BY_CODE.get(code, CodeQRError)(
        str(error.get("message") or code),
        status=response.status_code,
        code=code,
        doc_url=doc_url if isinstance(doc_url, str) else None,
        response=response,
    )


def transport_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    """The SDK error for a request that got no answer."""
    where = f"{request.method} {request.url}"
    why = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{where} timed out: {why}")
    return APIConnectionError(f"{where} failed: {why}")

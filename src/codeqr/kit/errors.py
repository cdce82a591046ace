"""The error hierarchy and the Dub-shaped error envelope.

::

    CodeQRError            any failure the API answers on purpose
    ├── BadRequest         400 bad_request
    ├── Unauthorized       401 unauthorized
    ├── Forbidden          403 forbidden
    ├── NotFound           404 not_found
    ├── Conflict           409 conflict
    ├── Gone               410 gone
    ├── PayloadTooLarge    413 payload_too_large
    ├── Unprocessable      422 unprocessable_entity
    ├── RateLimited        429 rate_limit_exceeded
    └── InternalError      500 internal_server_error

Every error renders as ``{"error": {"code", "message", "doc_url"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

DOC_URL = "https://codeqr.dev/docs/api-reference/errors"


class CodeQRError(Exception):
    """An expected failure with an HTTP status and a stable snake_case code."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_server_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body the API answers with."""
        return error_envelope(self.code, self.message)


def error_envelope(code: str, message: str) -> dict[str, Any]:
    """Build the ``{"error": …}`` body for a code and a message."""
    return {"error": {"code": code, "message": message, "doc_url": f"{DOC_URL}#{code}"}}


class BadRequest(CodeQRError):
    status_code = 400
    code = "bad_request"


class Unauthorized(CodeQRError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CodeQRError):
    status_code = 403
    code = "forbidden"


class NotFound(CodeQRError):
    status_code = 404
    code = "not_found"


class Conflict(CodeQRError):
    status_code = 409
    code = "conflict"


class Gone(CodeQRError):
    status_code = 410
    code = "gone"


class PayloadTooLarge(CodeQRError):
    status_code = 413
    code = "payload_too_large"


class Unprocessable(CodeQRError):
    status_code = 422
    code = "unprocessable_entity"


class RateLimited(CodeQRError):
    status_code = 429
    code = "rate_limit_exceeded"


class InternalError(CodeQRError):
    status_code = 500
    code = "internal_server_error"


STATUS_CODES: dict[int, str] = {
    cls.status_code: cls.code
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Gone,
        PayloadTooLarge,
        Unprocessable,
        RateLimited,
        InternalError,
    )
}

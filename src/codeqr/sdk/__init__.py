"""The CodeQR Python SDK: ``CodeQR`` (sync) and ``AsyncCodeQR`` (asyncio) over httpx.

Importing it imports neither the server nor its dependencies (FastAPI, SQLAlchemy)::

    from codeqr import CodeQR

    with CodeQR(token="cq_…", base_url="http://localhost:8000") as codeqr:
        link = codeqr.links.create(url="https://example.com", track_conversion=True)
"""

from codeqr.sdk.client import AsyncCodeQR, CodeQR
from codeqr.sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    CodeQRError,
    ConflictError,
    ForbiddenError,
    InternalServerError,
    NotFoundError,
    RateLimitExceededError,
    UnauthorizedError,
    UnprocessableEntityError,
)
from codeqr.sdk.models import (
    Customer,
    Link,
    LinkError,
    TrackLeadResult,
    TrackSaleResult,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncCodeQR",
    "BadRequestError",
    "CodeQR",
    "CodeQRError",
    "ConflictError",
    "Customer",
    "ForbiddenError",
    "InternalServerError",
    "Link",
    "LinkError",
    "NotFoundError",
    "RateLimitExceededError",
    "TrackLeadResult",
    "TrackSaleResult",
    "UnauthorizedError",
    "UnprocessableEntityError",
]

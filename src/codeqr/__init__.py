"""CodeQR: short links and QR codes whose clicks are followed to leads and sales.

``from codeqr import CodeQR, AsyncCodeQR`` gives the Python SDK. They load on first use, so
importing this package never imports the server (FastAPI, SQLAlchemy) — an application that
only calls the API does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeqr.sdk import AsyncCodeQR, CodeQR

__all__ = ["AsyncCodeQR", "CodeQR"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from codeqr import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Shared pydantic helpers for the wire format."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator

T = TypeVar("T")

Nullable = Annotated[T | None, "nullable"]
"""A field that accepts an explicit JSON ``null`` (Dub's SDKs send them)."""


def _query_int(value: Any) -> Any:
    # Dub's SDKs serialise numbers as floats, so ``page=1.0`` must read as 1.
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        if number.is_integer():
            return int(number)
    return value


QueryInt = Annotated[int, BeforeValidator(_query_int)]
"""An integer query parameter that also accepts ``1.0``."""

"""The transport-agnostic core: a request described as data, and how its answer is read.

Operations build a :class:`Call`; the sync and async clients only send it and hand the
response back to :func:`finish`. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from codeqr.sdk.errors import CodeQRError, error_from_response

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

API_PREFIX = "/api"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request (``path`` under ``/api``) and how to read its successful answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None


def camel(name: str) -> str:
    """``page_size`` → ``pageSize``; the ``utm_*`` names are the API's own and stay."""
    if name.startswith("utm_") or "_" not in name:
        return name
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _plain(value: Any) -> Any:
    """A value as JSON can carry it: datetimes as ISO 8601, sequences as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def body(fields: Mapping[str, Any], *, keep_none: bool = False) -> dict[str, Any]:
    """A JSON body from keyword arguments: keys camelCased (not nested ones), ``None`` dropped
    unless ``keep_none`` (a PATCH, where ``null`` clears a field)."""
    return {
        camel(name): _plain(value)
        for name, value in fields.items()
        if value is not None or keep_none
    }


def query(fields: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters from keyword arguments: camelCased, ``None`` dropped, booleans as
    ``true``/``false``, lists joined with commas (the API reads ``a,b`` as any of)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, datetime):
            text = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        out[camel(name)] = text
    return out


def segment(value: str) -> str:
    """A path segment (an id, ``ext_<externalId>``), percent-encoded."""
    return quote(value, safe="")


def json_of(response: httpx.Response) -> Any:
    """The decoded JSON of a successful answer."""
    try:
        return response.json()
    except ValueError as exc:
        raise _unexpected(response, f"the answer is not JSON ({exc})") from exc


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    """Read an answer as one ``cls``."""

    def parse(response: httpx.Response) -> M:
        return model_of(response, cls, json_of(response))

    return parse


def models(cls: type[M]) -> Callable[[httpx.Response], list[M]]:
    """Read an answer as a list of ``cls``."""

    def parse(response: httpx.Response) -> list[M]:
        return [model_of(response, cls, item) for item in _list(response)]

    return parse


def field_of(name: str, kind: type[T]) -> Callable[[httpx.Response], T]:
    """Read one field of a JSON object answer (``{"id": …}`` → the id)."""

    def parse(response: httpx.Response) -> T:
        data = json_of(response)
        value = data.get(name) if isinstance(data, dict) else None
        if not isinstance(value, kind):
            raise _unexpected(response, f"expected {kind.__name__} {name!r} in the answer")
        return value

    return parse


def integer(response: httpx.Response) -> int:
    """Read a bare JSON integer."""
    data = json_of(response)
    if isinstance(data, bool) or not isinstance(data, int):
        raise _unexpected(response, "expected an integer")
    return data


def rows(response: httpx.Response) -> list[dict[str, Any]]:
    """Read a JSON list of objects."""
    return _rows(response, json_of(response))


def rows_or_object(response: httpx.Response) -> dict[str, Any] | list[dict[str, Any]]:
    """Read a JSON object, or a list of objects."""
    data = json_of(response)
    return data if isinstance(data, dict) else _rows(response, data)


def content(response: httpx.Response) -> bytes:
    """The raw bytes of an answer (an image)."""
    return response.content


def finish(call: Call[T], response: httpx.Response) -> T:
    """The result of ``call`` from its response, or the typed error the response carries."""
    if response.status_code >= httpx.codes.BAD_REQUEST:
        raise error_from_response(response)
    return call.parse(response)


def _list(response: httpx.Response) -> list[Any]:
    data = json_of(response)
    if not isinstance(data, list):
        raise _unexpected(response, "expected a JSON list")
    return data


def _rows(response: httpx.Response, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _unexpected(response, "expected a JSON list of objects")
    return data


def model_of(response: httpx.Response, cls: type[M], data: Any) -> M:
    """``data`` of ``response`` read as a ``cls``."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _unexpected(response, f"cannot read a {cls.__name__}: {exc}") from exc


def _unexpected(response: httpx.Response, why: str) -> CodeQRError:
    # A 2xx this SDK cannot read: a proxy's page, or a server of another version.
    return CodeQRError(
        f"{response.request.method} {response.request.url}: {why}",
        status=response.status_code,
        code="unexpected_response",
        response=response,
    )

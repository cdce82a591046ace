"""``CodeQR`` and ``AsyncCodeQR``: thin sync and async shells around :mod:`operations`.

Each resource method *is* an operation of :mod:`codeqr.sdk.operations`, bound by ``_sync`` or
``_async``: same arguments (checked by mypy through ``ParamSpec``), its result returned
directly or awaited. Building requests and reading answers live in the core, once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from importlib import metadata
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from codeqr.sdk import operations as ops
from codeqr.sdk.core import API_PREFIX, Call, finish
from codeqr.sdk.errors import transport_error

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0


def _user_agent() -> str:
    try:
        version = metadata.version("codeqr")
    except metadata.PackageNotFoundError:  # run from a source tree
        version = "0"
    return f"codeqr-python/{version}"


class _Base:
    """What both clients share: where the API is and who is calling."""

    def __init__(self, token: str, base_url: str) -> None:
        if not token:
            raise ValueError("token is required: a secret API key of the workspace")
        root = base_url.rstrip("/")
        # The API lives under /api; a base URL that already says so is taken as meant.
        if urlsplit(root).path.endswith(API_PREFIX):
            root = root.removesuffix(API_PREFIX)
        self.base_url = root
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": _user_agent(),
        }

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        return http.build_request(
            call.method,
            f"{self.base_url}{API_PREFIX}{call.path}",
            params=call.params or None,
            json=call.json,
            headers=self._headers,
        )


def _describe(method: Callable[..., Any], op: Callable[..., Any]) -> None:
    """Give a bound operation the operation's docstring and signature (for ``help()``)."""
    method.__doc__ = op.__doc__
    signature = inspect.signature(op)
    result = str(signature.return_annotation).removeprefix("Call[").removesuffix("]")
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[this, *signature.parameters.values()],
        return_annotation=result,
    )


class _Resource:
    """A group of methods (``links``, ``track``…); names each method after its attribute."""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        for name, value in vars(cls).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                value.__name__ = name
                value.__qualname__ = f"{cls.__name__}.{name}"


# --- sync ------------------------------------------------------------------------------------


class CodeQR(_Base):
    """The CodeQR API, synchronously.

    ``CodeQR(token="cq_…", base_url="https://links.example.com")``; ``timeout`` (seconds)
    applies to the HTTP client made here, a given ``httpx_client`` keeps its own settings and
    is not closed by :meth:`close`.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        httpx_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(token, base_url)
        self._owns_http = httpx_client is None
        self._http = httpx_client or httpx.Client(timeout=timeout)
        self.links = Links(self)
        self.track = Track(self)
        self.customers = Customers(self)
        self.analytics = Analytics(self)
        self.events = Events(self)
        self.qr = QR(self)

    def send(self, call: Call[T]) -> T:
        """Send one call and read its answer (raises :class:`CodeQRError` subclasses)."""
        request = self._request(self._http, call)
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request) from exc
        return finish(call, response)

    def close(self) -> None:
        """Close the HTTP client, if this client made it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _SyncResource(_Resource):
    def __init__(self, client: CodeQR) -> None:
        self._client = client


def _sync(op: Callable[P, Call[T]]) -> Callable[Concatenate[_SyncResource, P], T]:
    def method(self: _SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._client.send(op(*args, **kwargs))

    _describe(method, op)
    return method


class Links(_SyncResource):
    create = _sync(ops.create_link)
    get = _sync(ops.get_link)
    list = _sync(ops.list_links)
    count = _sync(ops.count_links)
    count_by = _sync(ops.count_links_by)
    update = _sync(ops.update_link)
    upsert = _sync(ops.upsert_link)
    delete = _sync(ops.delete_link)
    create_many = _sync(ops.create_links)
    update_many = _sync(ops.update_links)
    delete_many = _sync(ops.delete_links)


class Track(_SyncResource):
    lead = _sync(ops.track_lead)
    sale = _sync(ops.track_sale)


class Customers(_SyncResource):
    list = _sync(ops.list_customers)
    get = _sync(ops.get_customer)
    create = _sync(ops.create_customer)
    update = _sync(ops.update_customer)
    delete = _sync(ops.delete_customer)


class Analytics(_SyncResource):
    retrieve = _sync(ops.retrieve_analytics)


class Events(_SyncResource):
    list = _sync(ops.list_events)


class QR(_SyncResource):
    get = _sync(ops.get_qr)


# --- async -----------------------------------------------------------------------------------


class AsyncCodeQR(_Base):
    """The CodeQR API for asyncio: the same resources and methods as :class:`CodeQR`, awaited.

    Use ``async with AsyncCodeQR(token=…) as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        httpx_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(token, base_url)
        self._owns_http = httpx_client is None
        self._http = httpx_client or httpx.AsyncClient(timeout=timeout)
        self.links = AsyncLinks(self)
        self.track = AsyncTrack(self)
        self.customers = AsyncCustomers(self)
        self.analytics = AsyncAnalytics(self)
        self.events = AsyncEvents(self)
        self.qr = AsyncQR(self)

    async def send(self, call: Call[T]) -> T:
        """Send one call and read its answer (raises :class:`CodeQRError` subclasses)."""
        request = self._request(self._http, call)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request) from exc
        return finish(call, response)

    async def aclose(self) -> None:
        """Close the HTTP client, if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _AsyncResource(_Resource):
    def __init__(self, client: AsyncCodeQR) -> None:
        self._client = client


def _async(op: Callable[P, Call[T]]) -> Callable[Concatenate[_AsyncResource, P], Awaitable[T]]:
    async def method(self: _AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._client.send(op(*args, **kwargs))

    _describe(method, op)
    return method


class AsyncLinks(_AsyncResource):
    create = _async(ops.create_link)
    get = _async(ops.get_link)
    list = _async(ops.list_links)
    count = _async(ops.count_links)
    count_by = _async(ops.count_links_by)
    update = _async(ops.update_link)
    upsert = _async(ops.upsert_link)
    delete = _async(ops.delete_link)
    create_many = _async(ops.create_links)
    update_many = _async(ops.update_links)
    delete_many = _async(ops.delete_links)


class AsyncTrack(_AsyncResource):
    lead = _async(ops.track_lead)
    sale = _async(ops.track_sale)


class AsyncCustomers(_AsyncResource):
    list = _async(ops.list_customers)
    get = _async(ops.get_customer)
    create = _async(ops.create_customer)
    update = _async(ops.update_customer)
    delete = _async(ops.delete_customer)


class AsyncAnalytics(_AsyncResource):
    retrieve = _async(ops.retrieve_analytics)


class AsyncEvents(_AsyncResource):
    list = _async(ops.list_events)


class AsyncQR(_AsyncResource):
    get = _async(ops.get_qr)

"""Typed errors: from the live server's envelope, from a proxy's page, and without an answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from codeqr import CodeQR
from codeqr.sdk import (
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
from codeqr.sdk.errors import error_from_response
from tests.conftest import LiveServer, free_port
from tests.factories import make_key, make_tenant

BY_CODE = [
    (400, "bad_request", BadRequestError),
    (401, "unauthorized", UnauthorizedError),
    (403, "forbidden", ForbiddenError),
    (404, "not_found", NotFoundError),
    (409, "conflict", ConflictError),
    (422, "unprocessable_entity", UnprocessableEntityError),
    (429, "rate_limit_exceeded", RateLimitExceededError),
    (500, "internal_server_error", InternalServerError),
]


def _response(status: int, **kwargs: object) -> httpx.Response:
    request = httpx.Request("GET", "http://codeqr.test/api/links")
    return httpx.Response(status, request=request, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "code", "cls"), BY_CODE)
def test_envelope_codes_pick_the_class(status: int, code: str, cls: type[CodeQRError]) -> None:
    doc_url = f"https://codeqr.dev/docs/api-reference/errors#{code}"
    envelope = {"error": {"code": code, "message": "Nope.", "doc_url": doc_url}}
    error = error_from_response(_response(status, json=envelope))
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.doc_url) == (
        status,
        code,
        "Nope.",
        doc_url,
    )
    assert str(error) == f"{status} {code}: Nope."


def test_an_unknown_code_is_the_base_class() -> None:
    envelope = {"error": {"code": "gone", "message": "Expired.", "doc_url": None}}
    error = error_from_response(_response(410, json=envelope))
    assert type(error) is CodeQRError
    assert (error.status, error.code, error.doc_url) == (410, "gone", None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "<html><body>502 Bad Gateway</body></html>"},
        {"json": {"detail": "Not Found"}},
        {"json": ["error"]},
        {"content": b"\xff\xfe"},
    ],
)
def test_an_answer_without_the_envelope_is_the_base_class(kwargs: dict[str, object]) -> None:
    error = error_from_response(_response(502, **kwargs))
    assert type(error) is CodeQRError
    assert error.status == 502
    assert error.code == "unexpected_response"


def test_the_hierarchy() -> None:
    for _, _, cls in BY_CODE:
        assert issubclass(cls, CodeQRError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, CodeQRError)


def test_live_server_errors(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with CodeQR(token=tenant.token, base_url=server.base) as sdk:
        with pytest.raises(NotFoundError) as not_found:
            sdk.links.get("link_doesnotexist")
        assert not_found.value.status == 404
        assert not_found.value.doc_url
        with pytest.raises(UnprocessableEntityError) as invalid:
            sdk.links.create(url="mailto:someone@example.com")
        assert invalid.value.code == "unprocessable_entity"
        with pytest.raises(UnprocessableEntityError):
            sdk.links.list(page_size=1000)
        sdk.links.create(url="https://example.com", key="taken")
        with pytest.raises(ConflictError):
            sdk.links.create(url="https://example.com/2", key="taken")
    with CodeQR(token="cq_wrong", base_url=server.base) as sdk, pytest.raises(UnauthorizedError):
        sdk.links.list()
    publishable = make_key(server, tenant, publishable=True)
    with CodeQR(token=publishable, base_url=server.base) as sdk, pytest.raises(ForbiddenError):
        sdk.links.create(url="https://example.com")


class _BadGateway(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    """A real HTTP server that answers like a proxy whose upstream is down."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_proxy_page_is_the_base_class_with_its_status(proxy: str) -> None:
    with CodeQR(token="cq_x", base_url=proxy) as sdk, pytest.raises(CodeQRError) as caught:
        sdk.links.list()
    assert type(caught.value) is CodeQRError
    assert caught.value.status == 502
    assert caught.value.response is not None


def test_no_server_is_a_connection_error() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with CodeQR(token="cq_x", base_url=nowhere) as sdk, pytest.raises(APIConnectionError) as caught:
        sdk.links.list()
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_no_answer_in_time_is_a_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        sdk = CodeQR(token="cq_x", base_url=f"http://127.0.0.1:{port}", timeout=0.2)
        with sdk, pytest.raises(APITimeoutError) as caught:
            sdk.links.count()
    assert caught.value.code == "timeout"

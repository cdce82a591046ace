"""``codeqr serve`` under clients that hold connections: idle, many, or slow to send."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from codeqr.settings import Settings
from tests.conftest import free_port, wait_until_serving

from .test_commands import CODEQR, _env

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@contextmanager
def serving(settings: Settings, **env: str) -> Iterator[int]:
    """``codeqr serve`` with extra ``CODEQR_*`` variables; the port once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**_env(settings), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reading and dropping what it sends), or
    ``None`` if it is still open after ``seconds``."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while (elapsed := time.monotonic() - start) < seconds:
        try:
            if sock.recv(65536) == b"":
                return elapsed
        except TimeoutError:
            continue
        except ConnectionResetError:
            return elapsed
    return None


def status_of(sock: socket.socket) -> int:
    sock.sendall(REQUEST)
    head = sock.recv(65536)
    return int(head.split(b" ", 2)[1])


@pytest.mark.slow
def test_an_idle_keep_alive_connection_is_closed(settings: Settings) -> None:
    with serving(settings, CODEQR_HTTP_KEEP_ALIVE_SECONDS="1") as port, connect(port) as sock:
        assert status_of(sock) == 200
        elapsed = closed_within(sock, 4)
        assert elapsed is not None, "the idle connection was kept open"
        assert 0.5 < elapsed < 2.5


@pytest.mark.slow
def test_past_the_concurrency_limit_requests_get_503(settings: Settings) -> None:
    with serving(settings, CODEQR_HTTP_MAX_CONCURRENCY="4") as port:
        held = [connect(port) for _ in range(4)]
        time.sleep(0.2)
        with connect(port) as sock:
            assert status_of(sock) == 503
        for sock in held:
            sock.close()
        time.sleep(0.2)
        with connect(port) as sock:
            assert status_of(sock) == 200


@pytest.mark.slow
def test_slow_silent_and_oversized_requests_are_cut_off(settings: Settings) -> None:
    """Slowloris: a request line dribbled a byte a second, a connection that sends nothing,
    a body that stalls, and a head past the size bound; a normal request still answers."""
    limits = {
        "CODEQR_HTTP_KEEP_ALIVE_SECONDS": "1",
        "CODEQR_HTTP_HEAD_TIMEOUT_SECONDS": "2",
        "CODEQR_HTTP_BODY_TIMEOUT_SECONDS": "2",
        "CODEQR_HTTP_MAX_HEAD_BYTES": "8192",
    }
    with serving(settings, **limits) as port:
        with connect(port) as dribbled:
            cut_after = None
            for n, byte in enumerate(b"GET /healthz HTTP/1.1\r\n"):
                try:
                    dribbled.sendall(bytes([byte]))
                except OSError:
                    cut_after = n
                    break
                if closed_within(dribbled, 1.0) is not None:
                    cut_after = n
                    break
            assert cut_after is not None, "the server waited for the whole dribbled request"
            assert cut_after <= 5  # two seconds, and at most one tick (a second) late

        with connect(port) as silent:
            elapsed = closed_within(silent, 6)
            assert elapsed is not None, "a connection that sent nothing was kept"
            assert 1.5 < elapsed < 4.5

        with connect(port) as stalled:
            stalled.sendall(b"POST /api/links HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{")
            elapsed = closed_within(stalled, 6)
            assert elapsed is not None, "a stalled body was waited for"
            assert elapsed < 4.5

        with connect(port) as oversized:
            oversized.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
            )
            assert oversized.recv(65536).startswith(b"HTTP/1.1 431 ")

        with connect(port) as normal:
            assert status_of(normal) == 200

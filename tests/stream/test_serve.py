"""``codeqr serve`` with streams open stops at once when told to (SIGTERM)."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from codeqr.settings import Settings
from tests.cli.test_commands import serve
from tests.conftest import free_port, wait_until_serving


@pytest.mark.slow
def test_serve_ends_open_streams_and_exits_promptly(settings: Settings) -> None:
    port = free_port()
    proc = serve(settings, port)
    assert proc.stdout is not None
    try:
        token = ""
        deadline = time.monotonic() + 30
        while not token and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "API key:" in line:
                token = line.split()[2]
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, proc)
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=base, headers=headers, timeout=10) as client,
            client.stream("GET", "/api/events/stream") as response,
        ):
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(lines).startswith("retry:")
            stopping = time.monotonic()
            proc.terminate()
            rest = list(lines)
        assert ": closed (shutdown)" in rest
        proc.wait(timeout=10)
        took = time.monotonic() - stopping
        # uvicorn's own graceful-shutdown timeout is 5 s: well before it, not by it.
        assert took < 2.5, took
        # uvicorn re-raises the signal it caught once it has shut down.
        assert proc.returncode in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()

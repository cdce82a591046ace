"""The memory of a real ``codeqr serve`` process under concurrent ``/api/qr`` load.

32 requests at once with a decompression-bomb logo (3 KB of PNG declaring 4096 × 4096 pixels),
then 32 at once with the largest valid logo drawn at the largest size. Before the bounds of
``qr.service`` and ``render.LOGO_MAX_PIXELS``, the first run took the process from 190 MB to
5 GB and left it at 940 MB; the second reached 1.1 GB and left 420 MB.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codeqr.qr.service import RENDER_WORKERS
from codeqr.settings import Settings
from tests.conftest import free_port, wait_until_serving

from .conftest import bomb, data_url, large_logo

CODEQR = Path(sys.executable).with_name("codeqr")
URL = "https://example.com/qr"
CONCURRENCY = 32
MiB = 1024 * 1024
PER_DRAWING_THREAD = 64 * MiB
"""What one drawing thread may hold at its peak: a 2048 px image in three modes, a megapixel
logo in two, the PNG being written (measured: about 47 MB)."""
REQUESTS = 32 * MiB
"""The 32 requests themselves, held at once: 52 KB of query each, in a few copies."""


def _kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture
def qr_server(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``codeqr serve`` on a free port, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env["CODEQR_DATA_DIR"] = str(settings.data_dir)
    env["CODEQR_SECRET_KEY"] = settings.secret_key or ""
    if settings.database_url:
        env["CODEQR_DATABASE_URL"] = settings.database_url
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, timeout=60, log=(tmp_path / "server.log").read_text)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def _at_once(base: str, queries: list[dict[str, str]]) -> list[tuple[int, float]]:
    """Every query sent at the same time on its own connection: status and seconds each."""
    limits = httpx.Limits(max_connections=len(queries))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(query: dict[str, str]) -> tuple[int, float]:
            started = time.monotonic()
            response = await client.get("/api/qr", params=query)
            return response.status_code, time.monotonic() - started

        return await asyncio.gather(*(one(q) for q in queries))


class PeakRSS:
    """Samples a process's resident memory every 10 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = _kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, _kib(self.pid, "VmRSS"))
            except (OSError, AssertionError):  # the process has ended: the test says why
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.peak


@pytest.mark.slow
def test_concurrent_logo_bombs_and_large_logos_leave_memory_bounded(
    qr_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = qr_server
    logo = data_url(large_logo())
    bomb_logo = data_url(bomb("PNG"))
    assert len(bomb_logo) < 4000
    # Warm up every path once (imports, caches, thread pools), then take the idle size.
    for warm in (
        {"url": URL},
        {"url": URL, "size": "2048", "logo": logo},
        {"url": URL, "size": "2048", "logo": logo, "format": "svg"},
        {"url": URL, "logo": bomb_logo},
    ):
        httpx.get(base + "/api/qr", params=warm, timeout=60)
    time.sleep(0.5)
    idle = _kib(proc.pid, "VmRSS")
    with open(f"/proc/{proc.pid}/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM starts again from the current size
    sampler = PeakRSS(proc.pid)

    bombed = [{"url": f"{URL}/{i}", "logo": bomb_logo} for i in range(CONCURRENCY)]
    started = time.monotonic()
    bombs = asyncio.run(_at_once(base, bombed))
    bomb_seconds = time.monotonic() - started
    assert {status for status, _ in bombs} == {422}
    assert max(seconds for _, seconds in bombs) < 5

    largest = [
        {"url": f"{URL}/{i}", "size": "2048", "logo": logo, "format": "png" if i % 4 else "svg"}
        for i in range(CONCURRENCY)
    ]
    started = time.monotonic()
    large = asyncio.run(_at_once(base, largest))
    large_seconds = time.monotonic() - started
    assert {status for status, _ in large} == {200}

    peak = max(sampler.stop(), _kib(proc.pid, "VmHWM"))
    time.sleep(1)
    after = _kib(proc.pid, "VmRSS")
    print(  # shown with -s: the figures the commit and the report quote
        f"idle {idle / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB, after {after / MiB:.0f} MiB; "
        f"bombs {bomb_seconds:.2f} s, large logos {large_seconds:.2f} s"
    )
    assert peak - idle < REQUESTS + RENDER_WORKERS * PER_DRAWING_THREAD
    assert after <= idle * 1.2

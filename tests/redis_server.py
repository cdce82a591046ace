"""A Redis server of a test's own, for tests that kill it or cut its clients (the shared
one at ``CODEQR_TEST_REDIS_URL`` serves other tests running beside them)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import free_port


class PrivateRedis:
    """``redis-server`` on a free port; ``kill`` and ``restart`` it at will."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (apt-get install redis-server; make test does)"
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        proc = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            )
            if ping.stdout.strip() == b"PONG":
                return proc
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: every client loses its connection at once."""
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        """A new, empty server on the same port."""
        self.proc = self._start()


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A private Redis for the block, stopped however it ends."""
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.kill()

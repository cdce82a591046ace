"""A PostgreSQL server of the benchmark's own, set up as docs/operations.md recommends for
click load, and in the state of a server that has been running for a while.

Why not the machine's server: its state decides the tail of every commit, and with it p99.
Measured on this VM (one (b) server, 64 connections, 8 s runs):
- A server that has not yet written ``max_wal_size`` of WAL since it was made creates each
  16 MiB WAL segment as it needs it, zero-filled and synced inside some commit: a 50-70 ms
  stall every ~2 s at 10k clicks/s, and p99 of 40-52 ms in every run once the few segments
  it started with were used.
- With Debian's defaults (``max_wal_size`` 1 GB, ``shared_buffers`` 128 MB) a checkpoint
  comes every ~550k clicks (~0.9 KB of WAL a click) and lasts ~40 s; the runs it overlaps
  had p99 of 22-52 ms, against 9-13 ms for the others.
Here: ``shared_buffers`` 2 GB, ``max_wal_size`` 8 GB, ``min_wal_size`` 4 GB (recycled
segments are kept, so commits never wait for a new one), and ~3 GB of WAL written and
recycled before the benchmark starts. Made with the server binaries of the machine's
PostgreSQL (``pg_config --bindir``, else Debian's ``/usr/lib/postgresql/N/bin``); as root,
run as the ``postgres`` user (``initdb`` refuses root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from harness import BenchError, free_port, note

SETTINGS = {
    "shared_buffers": "2GB",
    "max_wal_size": "8GB",
    "min_wal_size": "4GB",
    "listen_addresses": "127.0.0.1",
    "fsync": "on",
    "synchronous_commit": "on",
}
"""What docs/operations.md recommends for a click-heavy server (durability as shipped)."""
PREFILL_ROWS = 3_000_000
"""Rows of 1 kB written and dropped before the benchmark: ~3 GB of WAL, ~20 s here."""


def _bindir() -> Path:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, check=True)
        path = Path(found.stdout.decode().strip())
        if (path / "initdb").exists():
            return path
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not debian:
        raise BenchError(
            "no PostgreSQL server binaries (initdb) found: install postgresql, "
            "or pass --postgres-url to use a running server"
        )
    return debian[-1].parent


@contextlib.contextmanager
def own_postgres() -> Iterator[str]:
    """Start the server, fill and recycle its WAL; yield its admin URL; remove it after."""
    bindir = _bindir()
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="codeqr-bench-pg-", dir="/var/tmp"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        try:
            shutil.chown(root, "postgres")
        except LookupError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise BenchError(
                "initdb refuses to run as root and there is no postgres user to run it as: "
                "pass --postgres-url to use a running server"
            ) from exc
    data, log = root / "data", root / "server.log"
    port = free_port()
    options = " ".join(f"-c {name}={value}" for name, value in SETTINGS.items())
    initdb = ["-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
    start = ["-D", str(data), "-l", str(log), "-w", "-o", f"-p {port} -k {root} {options}"]
    try:
        note(f"own PostgreSQL ({bindir}): initdb, start on port {port}")
        subprocess.run(
            [*as_user, str(bindir / "initdb"), *initdb],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), *start, "start"],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise BenchError(f"own PostgreSQL did not start: {exc.stderr.decode()[-500:]}") from exc
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        note(f"own PostgreSQL: writing ~{PREFILL_ROWS // 1_000_000} GB of WAL to recycle")
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(
                text(
                    "CREATE TABLE wal_fill AS SELECT repeat('x', 1000) AS x "
                    f"FROM generate_series(1, {PREFILL_ROWS})"
                )
            )
            conn.execute(text("DROP TABLE wal_fill"))
            conn.execute(text("CHECKPOINT"))
        engine.dispose()
        yield admin
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

"""The SQLite file and its data directory are private to the server's user."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from codeqr.app import create_app
from codeqr.settings import Settings

pytestmark = pytest.mark.sqlite_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sqlite_settings(data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        secret_key="test-secret-key",
        migrate_on_start=False,
    )


def test_a_new_install_is_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default: SQLite alone would make 0644 files
    try:
        settings = sqlite_settings(tmp_path / "data")
        app = create_app(settings)
        db_path = settings.data_dir / "codeqr.db"
        with app.services.db.engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            # While a connection is open in WAL mode, the log and shared memory exist.
            assert mode(settings.data_dir) == 0o700
            for suffix in ("", "-wal", "-shm"):
                assert mode(db_path.with_name(db_path.name + suffix)) == 0o600, suffix
        app.services.db.dispose()
    finally:
        os.umask(old_umask)


def test_an_existing_install_is_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    db_path = data_dir / "codeqr.db"
    # An earlier run's files, left world-readable (a kill -9 leaves the -wal and -shm).
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    companions = [db_path.with_name(db_path.name + s) for s in ("", "-wal", "-shm")]
    for path in companions:
        path.chmod(0o644)
    app = create_app(sqlite_settings(data_dir))
    assert mode(data_dir) == 0o700
    for path in companions:
        assert mode(path) == 0o600, path.name
    conn.close()
    app.services.db.dispose()

"""The relational database: engine, sessions, and the naming convention migrations rely on."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Table, bindparam, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


OUTBOX_KEY = "codeqr.events_outbox"
"""``Session.info`` key: whether this database's event writes note their changes for
ClickHouse (``events.outbox``)."""


class Base(DeclarativeBase):
    """Declarative base of every table; constraint names follow ``NAMING_CONVENTION``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteGate:
    """The one SQLite write lock of a database, taken in the process before SQLite's own.

    SQLite lets one connection write at a time and makes the others wait by sleeping and
    polling (1, 2, 5, 10… ms): with many threads writing, most of the time goes to those
    sleeps. Writers of this process queue on this lock instead and are woken the moment it
    is free. A plain lock, not an RLock: the transaction that takes it in an endpoint thread
    may be committed on another thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def held(self, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the gate for a block of work on this thread (again inside is a no-op);
        yields whether it is held (``False`` only when ``blocking`` is off and it is busy)."""
        if getattr(self._local, "holding", False):
            yield True
            return
        if not self._lock.acquire(blocking):
            yield False
            return
        self._local.holding = True
        try:
            yield True
        finally:
            self._local.holding = False
            self._lock.release()

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take the gate (waiting unless told not to); whether it was taken."""
        return self._lock.acquire(blocking)

    def release(self) -> None:
        """Give the gate back."""
        self._lock.release()


class _GatedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _GatedCursor:
        self.connection._enter(sql)  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> _GatedCursor:
        self.connection._enter(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, parameters)


class _GatedConnection(sqlite3.Connection):
    """A connection that takes its database's gate before its first write of a transaction
    (where Python's sqlite3 opens the transaction) and gives it back when that ends."""

    gate: WriteGate
    _holds = False

    def cursor(self, factory: Any = _GatedCursor) -> Any:
        return super().cursor(factory)

    def _enter(self, sql: str) -> None:
        if not self._holds and sql.lstrip()[:7].upper().startswith(_WRITES):
            self.gate.acquire()
            self._holds = True

    def _leave(self) -> None:
        if self._holds:
            self._holds = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()


def gated_connection_class(gate: WriteGate) -> type[sqlite3.Connection]:
    """A sqlite3 connection class whose writes queue on ``gate``."""
    return type("GatedConnection", (_GatedConnection,), {"gate": gate})


SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
"""The files of one SQLite database: the database itself, its log, its shared memory."""


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite file at ``path`` readable by its owner only (0600), creating it empty
    when it does not exist, and tighten the companion files an earlier run left.

    The database holds password hashes, API key hashes and every visitor's click. SQLite
    would create it 0644 (less the umask), and gives its ``-wal`` and ``-shm`` the mode of
    the database file: created 0600 here first, they follow.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        # Gone already (no WAL open), or another user's file: nothing to change.
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if companion.stat().st_mode & 0o077:
                companion.chmod(0o600)


def make_engine(url: str, *, fsync: bool = False, gate: WriteGate | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and ``gate``, and
    its file is made private (``private_sqlite_file``)."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite_file(Path(path))
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": 30,
                "factory": gated_connection_class(gate or WriteGate()),
            },
            pool_size=8,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the click writer. synchronous=NORMAL still writes
            # every commit into the WAL file before returning, so a killed process loses
            # nothing; FULL adds the fsync that a power cut needs.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """Owns the engine and hands out sessions; the caller of ``transaction`` owns the commit."""

    def __init__(self, url: str, *, fsync: bool = False, events_outbox: bool = False) -> None:
        self.url = url
        self.gate = WriteGate()
        """Writers of this process queue here before SQLite's write lock (SQLite only)."""
        self.engine = make_engine(url, fsync=fsync, gate=self.gate)
        self.events_outbox = events_outbox
        """Whether event writes note what they change for ClickHouse (``events.outbox``)."""
        self._sessions = sessionmaker(
            self.engine, expire_on_commit=False, info={OUTBOX_KEY: events_outbox}
        )
        self.fsync = fsync

    @property
    def max_connections(self) -> int:
        """How many connections the pool hands out at most (size plus overflow)."""
        pool: Any = self.engine.pool
        return int(pool.size() + pool._max_overflow)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @property
    def session_info(self) -> dict[str, Any]:
        """What every session of this database carries in its ``info`` (a copy): sessions
        made by hand must carry it too."""
        return dict(self._sessions.kw.get("info") or {})

    def share(self, key: str, value: Any) -> None:
        """Put ``value`` in the ``info`` of every session made from now on (the app's
        ``kit.hooks.EventNotes``)."""
        info = dict(self._sessions.kw.get("info") or {})
        info[key] = value
        self._sessions.configure(info=info)

    def session(self) -> Session:
        """A new session; prefer ``transaction``."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back whole on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def insert_unless_exists(
    session: Session, table: Table, values: dict[str, Any], unique: Sequence[str]
) -> bool:
    """``INSERT … ON CONFLICT (unique) DO NOTHING``; whether the row was inserted.

    The unique key is the claim: of two transactions inserting the same key, the second
    waits for the first and inserts nothing if it committed, or inserts if it rolled back.
    """
    dialect = session.get_bind().dialect.name
    stmt = insert_unless_exists_statement(table, dialect, tuple(unique), tuple(values))
    # On the session's connection: a plain statement needs none of the ORM's execute path.
    return session.connection().execute(stmt, values).first() is not None


@lru_cache(maxsize=256)
def insert_unless_exists_statement(
    table: Table, dialect: str, unique: tuple[str, ...], columns: tuple[str, ...]
) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING <key>`` of one shape, bound by
    name (also what ``kit.prepared.insert_unless_exists`` prepares)."""
    # Built once per shape and executed with parameters: building an INSERT with its values
    # costs more Python time than SQLite takes to run it.
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(table.primary_key.columns))
    # RETURNING tells what happened on every driver; rowcount does not (psycopg reports -1).
    return (
        make(table)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(key)
    )

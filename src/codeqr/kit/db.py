"""The relational database: engine, sessions, and the naming convention migrations rely on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Table, event
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


class Base(DeclarativeBase):
    """Declarative base of every table; constraint names follow ``NAMING_CONVENTION``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


def make_engine(url: str, *, fsync: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
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

    def __init__(self, url: str, *, fsync: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, fsync=fsync)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
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
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = pg_insert(table).values(values).on_conflict_do_nothing(index_elements=unique)
    else:
        stmt = sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=unique)
    # RETURNING tells what happened on every driver; rowcount does not (psycopg reports -1).
    key = next(iter(table.primary_key.columns))
    return session.execute(stmt.returning(key)).first() is not None

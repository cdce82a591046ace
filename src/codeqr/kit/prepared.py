"""Core statements compiled once per dialect and run on the driver's own cursor.

The hottest write paths (conversion tracking, Stripe webhooks) run five to ten statements a
call. Through SQLAlchemy's execute path each costs three to four times what SQLite takes to
run it (parameter coercion, cache keys,
result objects); here a statement is compiled once, its bind and result processors looked up
once, and each call is one ``cursor.execute``. The statements run on the connection of the
caller's session, inside its transaction, so the session still owns the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement

from codeqr.kit.db import insert_unless_exists_statement

Processor = Callable[[Any], Any]


class Prepared:
    """One statement compiled for one dialect, with the type conversions of its columns."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self.names: Sequence[str] | None = compiled.positiontup if compiled.positional else None
        self.binds: list[tuple[str, Processor]] = []
        self.defaults: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if not bind.required:  # a literal of the statement (``sales + 1``)
                self.defaults[name] = bind.effective_value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds.append((name, process))
        if isinstance(statement, Insert):  # columns left out get their scalar defaults
            for column in statement.table.c:
                if column.default is not None and column.default.is_scalar:
                    self.defaults[column.key] = column.default.arg  # type: ignore[attr-defined]
        # SELECT columns, or what an INSERT / UPDATE returns.
        columns: list[Any] = list(
            statement.selected_columns
            if isinstance(statement, Select)
            else getattr(statement, "_returning", ())
        )
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.results = results if any(results) else None
        self.errors: type[Exception] = dialect.loaded_dbapi.Error

    def execute(self, session: Session, params: dict[str, Any]) -> Any:
        """Run with ``params`` (by bind name) on the session's connection; the cursor."""
        if self.binds or self.defaults:
            params = {**self.defaults, **params}
            for name, process in self.binds:
                params[name] = process(params[name])
        cursor = driver(session).cursor()
        try:
            if self.names is None:
                cursor.execute(self.sql, params)
            else:
                cursor.execute(self.sql, [params[name] for name in self.names])
        except self.errors as exc:
            # The exception SQLAlchemy would raise (IntegrityError, DataError…): the API's
            # handlers turn those into their 409 and 422.
            raise DBAPIError.instance(self.sql, params, exc, self.errors) from exc
        return cursor

    def first(self, session: Session, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row (types converted as SQLAlchemy would), or ``None``."""
        cursor = self.execute(session, params)
        row = cursor.fetchone()
        cursor.close()
        if row is None or self.results is None:
            return row  # type: ignore[no-any-return]
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, self.results, strict=True)
        )

    def all(self, session: Session, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row (types converted as SQLAlchemy would)."""
        cursor = self.execute(session, params)
        rows = cursor.fetchall()
        cursor.close()
        if self.results is None:
            return [tuple(row) for row in rows]
        processors = self.results
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in rows
        ]

    def run(self, session: Session, params: dict[str, Any]) -> int:
        """Run a statement without rows to read; how many rows it changed."""
        cursor = self.execute(session, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count


def prepared(statement: Executable, session: Session) -> Prepared:
    """``statement`` compiled for the dialect of the session's database (built once)."""
    return _prepare(statement, session.get_bind().dialect)


@lru_cache(maxsize=128)
def _prepare(statement: Any, dialect: Dialect) -> Prepared:
    return Prepared(statement, dialect)


def driver(session: Session) -> Any:
    """The DB-API connection under the session's transaction (begun if not yet)."""
    # Looked up once per transaction: ``session.connection()`` costs more than a statement.
    known = session.info.get(_DRIVER)
    transaction = session.get_transaction()
    if known is not None and transaction is not None and known[0] is transaction:
        return known[1]
    connection = session.connection().connection.driver_connection
    session.info[_DRIVER] = (session.get_transaction(), connection)
    return connection


_DRIVER = "codeqr.prepared.driver"


def insert_unless_exists(
    session: Session, table: Table, values: dict[str, Any], unique: tuple[str, ...]
) -> bool:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING``; whether the row was inserted.

    As ``kit.db.insert_unless_exists`` (the unique key is the claim), run as a prepared
    statement; ``values`` must name the same columns in the same order on every call.
    """
    dialect = session.get_bind().dialect
    statement = insert_unless_exists_statement(table, dialect.name, unique, tuple(values))
    return _prepare(statement, dialect).first(session, values) is not None

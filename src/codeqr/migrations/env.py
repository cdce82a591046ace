"""Alembic environment: runs on the connection handed in by ``codeqr.migrate``."""

from __future__ import annotations

from typing import Any

from alembic import context

from codeqr.models import Base

config = context.config
connection: Any = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through codeqr.migrate
    raise RuntimeError("run migrations through `codeqr migrate`")


def _on_this_database(obj: Any, _name: Any, type_: str, _reflected: bool, _other: Any) -> bool:
    """Leave out of the comparison the model indexes made only on another database
    (``Index(...).ddl_if(dialect=...)``), as ``create_all`` does."""
    only = getattr(obj, "_ddl_if", None) if type_ == "index" else None
    return only is None or only.dialect in (None, connection.dialect.name)


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=_on_this_database,
)
with context.begin_transaction():
    context.run_migrations()

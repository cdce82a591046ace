"""Migrations are code: they build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from codeqr import migrate
from codeqr.kit.db import Database
from codeqr.settings import Settings


def test_models_and_migrations_agree(settings: Settings) -> None:
    """``alembic check`` finds nothing to generate after upgrading an empty database."""
    db = Database(settings.sqlalchemy_url)
    try:
        migrate.upgrade(db.engine)
        migrate.check(db.engine)  # raises when the models drift from the migrations
    finally:
        db.dispose()


def test_upgrade_is_idempotent_and_seeds_the_plan_table(settings: Settings) -> None:
    """Running the migrations twice is harmless and leaves the five plans in rank order."""
    db = Database(settings.sqlalchemy_url)
    try:
        migrate.upgrade(db.engine)
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            plans = conn.execute(text("SELECT name, conversions FROM plans ORDER BY rank")).all()
        assert [tuple(p) for p in plans] == [
            ("free", False),
            ("pro", False),
            ("business", True),
            ("advanced", True),
            ("enterprise", True),
        ]
        tables = set(inspect(db.engine).get_table_names())
        assert {"links", "click_events", "workspaces", "api_keys", "users"} <= tables
    finally:
        db.dispose()

"""SQLite keeps recent visitors out of the click table: drop the identity index there.

Every click added an entry at a random place in this index, so every click wrote a page of
its own to the write-ahead log (and the checkpoint copied it again): a quarter of the
redirect's cost. On SQLite the one-hour dedupe now asks a table of recent visitors kept by
the click writer itself (``events.sql``); PostgreSQL keeps the index and asks it.

Revision ID: 9c3e1f6a2b7d
Revises: 5b0e2c7d9a41
Create Date: 2026-11-27 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c3e1f6a2b7d"
down_revision: str | None = "5b0e2c7d9a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_click_events_identity_hash", table_name="click_events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_click_events_identity_hash", "click_events", ["identity_hash"])

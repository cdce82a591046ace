"""Analytics indexes: each events table's (workspace_id, timestamp) index also holds link_id.

Every analytics query reads one workspace over one time range; top links, UTM breakdowns and
the link, tag and UTM filters then need only the link id, which the index now carries, so
those queries never touch the table rows. The new index replaces the old one (a prefix of
it), so writes keep maintaining the same number of indexes.

Revision ID: 8145343f54b7
Revises: a77618363eed
Create Date: 2026-11-27 04:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8145343f54b7"
down_revision: str | None = "095c475abc03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("click_events", "lead_events", "sale_events")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(
            f"ix_{table}_workspace_id_timestamp_link_id",
            table,
            ["workspace_id", "timestamp", "link_id"],
            unique=False,
        )
        op.drop_index(f"ix_{table}_workspace_id_timestamp", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(
            f"ix_{table}_workspace_id_timestamp", table, ["workspace_id", "timestamp"], unique=False
        )
        op.drop_index(f"ix_{table}_workspace_id_timestamp_link_id", table_name=table)

"""The events outbox: what ClickHouse has yet to receive (``CODEQR_EVENTS_URL``).

Revision ID: e7a41c90d5b2
Revises: d7a3c91e5f20
Create Date: 2026-12-06 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a41c90d5b2"
down_revision: str | None = "d7a3c91e5f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ids", sa.Text(), nullable=True),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("shipment", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_outbox")),
    )


def downgrade() -> None:
    op.drop_table("event_outbox")

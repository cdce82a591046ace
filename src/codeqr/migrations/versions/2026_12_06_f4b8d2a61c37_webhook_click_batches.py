"""``link.clicked`` webhooks: the click batches noted for the delivery worker to expand.

Revision ID: f4b8d2a61c37
Revises: a9d2e4f61b37
Create Date: 2026-12-06 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4b8d2a61c37"
down_revision: str | None = "a9d2e4f61b37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_click_batches",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("click_ids", sa.Text(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_webhook_click_batches")),
    )


def downgrade() -> None:
    op.drop_table("webhook_click_batches")

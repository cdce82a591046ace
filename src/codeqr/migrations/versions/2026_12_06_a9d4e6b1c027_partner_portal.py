"""Partner portal: a partner's own password and sign-in sessions.

Revision ID: a9d4e6b1c027
Revises: c3f19a7e2d54
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9d4e6b1c027"
down_revision: str | None = "c3f19a7e2d54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.create_table(
        "partner_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_partner_sessions_partner_id", "partner_sessions", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_sessions_partner_id", table_name="partner_sessions")
    op.drop_table("partner_sessions")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("password_hash")

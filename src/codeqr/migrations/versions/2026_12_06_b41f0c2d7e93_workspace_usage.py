"""Monthly usage of a workspace's plan quotas: links created per calendar month.

Revision ID: b41f0c2d7e93
Revises: 9c3e1f6a2b7d
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b41f0c2d7e93"
down_revision: str | None = "9c3e1f6a2b7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_usage",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_usage_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "period", name=op.f("pk_workspace_usage")),
    )


def downgrade() -> None:
    op.drop_table("workspace_usage")

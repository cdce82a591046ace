"""Daily click rollups and their marks (how far each workspace is rolled up).

Revision ID: 5b0e2c7d9a41
Revises: 8145343f54b7
Create Date: 2026-11-27 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e2c7d9a41"
down_revision: str | None = "8145343f54b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "click_rollups",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value1", sa.Text(), nullable=False),
        sa.Column("value2", sa.Text(), nullable=False),
        sa.Column("value3", sa.Text(), nullable=False),
        sa.Column("value4", sa.Text(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_click_rollups_workspace_id_dimension_day",
        "click_rollups",
        ["workspace_id", "dimension", "day"],
        unique=False,
    )
    op.create_table(
        "click_rollup_marks",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("rolled_until", sa.BigInteger(), nullable=False),
        sa.Column("row_cursor", sa.BigInteger(), nullable=False),
        sa.Column("cursor_click_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_click_rollup_marks")),
    )


def downgrade() -> None:
    op.drop_table("click_rollup_marks")
    op.drop_index("ix_click_rollups_workspace_id_dimension_day", table_name="click_rollups")
    op.drop_table("click_rollups")

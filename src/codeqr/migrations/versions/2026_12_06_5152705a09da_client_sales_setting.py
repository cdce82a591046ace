"""Client sales are a workspace setting, off by default, with a per-sale maximum.

A publishable key sits in web pages and its ``Origin`` check is forgeable, so sales sent
with it are refused unless the workspace turns them on (SPEC §9). Existing workspaces start
with them off, as new ones do.

Revision ID: 5152705a09da
Revises: b41f0c2d7e93
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5152705a09da"
down_revision: str | None = "b41f0c2d7e93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "client_sales_enabled", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("client_sale_max", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("client_sale_max")
        batch_op.drop_column("client_sales_enabled")

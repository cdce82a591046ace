"""Custom domains can be managed through the API: the fields Dub's domain object has, and a
per-plan bound on how many a workspace holds.

Existing domain rows (written by hand, there was no API) keep their values and start
unverified, unarchived; their ``updated_at`` is their ``created_at``. The plan limits are
Dub's: free 3, pro 10, business 100, advanced and enterprise 250.

Revision ID: d7a3c91e5f20
Revises: 5152705a09da
Create Date: 2026-12-06 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7a3c91e5f20"
down_revision: str | None = "5152705a09da"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOMAINS_PER_PLAN = {"free": 3, "pro": 10, "business": 100, "advanced": 250, "enterprise": 250}


def upgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("placeholder", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE domains SET updated_at = created_at")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.alter_column("updated_at", nullable=False)

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("domains", sa.Integer(), nullable=False, server_default=sa.text("3"))
        )
    plans = sa.table("plans", sa.column("name", sa.String()), sa.column("domains", sa.Integer()))
    for name, limit in DOMAINS_PER_PLAN.items():
        op.execute(plans.update().where(plans.c.name == name).values(domains=limit))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("domains")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("verified")
        batch_op.drop_column("archived")
        batch_op.drop_column("placeholder")

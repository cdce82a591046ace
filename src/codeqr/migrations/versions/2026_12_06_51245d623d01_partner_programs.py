"""Partner programs: programs, groups, rewards, partners, enrollments, commissions, payouts;
links get the program and partner they belong to.

Revision ID: 51245d623d01
Revises: e7a41c90d5b2
Create Date: 2026-12-06 16:52:20.500410
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "51245d623d01"
down_revision: str | None = "e7a41c90d5b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def _fk(table: str, column: str, target: str, *, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE" if cascade else None,
    )


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("holding_period_days", sa.Integer(), nullable=False),
        sa.Column("min_payout_amount", sa.BigInteger(), nullable=False),
        sa.Column("default_domain", sa.String(length=190), nullable=True),
        sa.Column("default_url", sa.Text(), nullable=True),
        *_times(),
        _workspace_fk("programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_programs_workspace_id")),
    )
    op.create_table(
        "partner_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("partner_groups", "program_id", "programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_groups")),
        sa.UniqueConstraint("program_id", "slug", name=op.f("uq_partner_groups_program_id_slug")),
    )
    op.create_table(
        "rewards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.String(length=16), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        *_times(),
        _fk("rewards", "group_id", "partner_groups"),
        _fk("rewards", "program_id", "programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint("group_id", "event", name=op.f("uq_rewards_group_id_event")),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_times(),
        _workspace_fk("partners"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("workspace_id", "email", name=op.f("uq_partners_workspace_id_email")),
        sa.UniqueConstraint(
            "workspace_id", "username", name=op.f("uq_partners_workspace_id_username")
        ),
    )
    op.create_table(
        "program_enrollments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=190), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("banned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("banned_reason", sa.String(length=32), nullable=True),
        *_times(),
        _fk("program_enrollments", "group_id", "partner_groups", cascade=False),
        _fk("program_enrollments", "partner_id", "partners"),
        _fk("program_enrollments", "program_id", "programs"),
        _workspace_fk("program_enrollments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_enrollments")),
        sa.UniqueConstraint(
            "program_id", "partner_id", name=op.f("uq_program_enrollments_program_id_partner_id")
        ),
        sa.UniqueConstraint(
            "program_id", "tenant_id", name=op.f("uq_program_enrollments_program_id_tenant_id")
        ),
    )
    op.create_index(
        "ix_program_enrollments_workspace_id_created_at",
        "program_enrollments",
        ["workspace_id", "created_at"],
    )
    op.create_table(
        "commissions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("payout_id", sa.String(length=40), nullable=True),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("invoice_id", sa.String(length=190), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("earnings", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_times(),
        _fk("commissions", "partner_id", "partners"),
        _fk("commissions", "program_id", "programs"),
        _workspace_fk("commissions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commissions")),
        # One earning event, one commission: the claim taken in the event's transaction.
        sa.UniqueConstraint(
            "program_id", "type", "event_id", name=op.f("uq_commissions_program_id_type_event_id")
        ),
    )
    op.create_index(
        "ix_commissions_partner_id_customer_id", "commissions", ["partner_id", "customer_id"]
    )
    op.create_index("ix_commissions_payout_id", "commissions", ["payout_id"])
    op.create_index(
        "ix_commissions_workspace_id_created_at", "commissions", ["workspace_id", "created_at"]
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("invoice_id", sa.String(length=190), nullable=True),
        sa.Column("reference", sa.String(length=190), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("initiated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        *_times(),
        _fk("payouts", "partner_id", "partners"),
        _fk("payouts", "program_id", "programs"),
        _workspace_fk("payouts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index("ix_payouts_partner_id", "payouts", ["partner_id"])
    op.create_index("ix_payouts_workspace_id_created_at", "payouts", ["workspace_id", "created_at"])
    # Plain ADD COLUMN on both databases: the links table is not rebuilt.
    op.add_column("links", sa.Column("program_id", sa.String(length=40), nullable=True))
    op.add_column("links", sa.Column("partner_id", sa.String(length=40), nullable=True))
    op.create_index("ix_links_partner_id", "links", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_links_partner_id", table_name="links")
    with op.batch_alter_table("links") as batch_op:
        batch_op.drop_column("partner_id")
        batch_op.drop_column("program_id")
    for table in (
        "payouts",
        "commissions",
        "program_enrollments",
        "partners",
        "rewards",
        "partner_groups",
        "programs",
    ):
        op.drop_table(table)

"""initial schema

Revision ID: cfc9557ad706
Revises:
Create Date: 2026-11-26 21:52:43.682836
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The plan table as first shipped; later changes to limits come as new migrations.
PLANS = [
    {
        "name": "free",
        "rank": 0,
        "links_per_month": 25,
        "events_per_month": 1000,
        "analytics_days": 30,
        "api_rate_per_minute": 60,
        "conversions": False,
    },
    {
        "name": "pro",
        "rank": 1,
        "links_per_month": 1000,
        "events_per_month": 50000,
        "analytics_days": 366,
        "api_rate_per_minute": 600,
        "conversions": False,
    },
    {
        "name": "business",
        "rank": 2,
        "links_per_month": 10000,
        "events_per_month": 250000,
        "analytics_days": None,
        "api_rate_per_minute": 1200,
        "conversions": True,
    },
    {
        "name": "advanced",
        "rank": 3,
        "links_per_month": 50000,
        "events_per_month": 1000000,
        "analytics_days": None,
        "api_rate_per_minute": 3000,
        "conversions": True,
    },
    {
        "name": "enterprise",
        "rank": 4,
        "links_per_month": 1000000000,
        "events_per_month": 1000000000,
        "analytics_days": None,
        "api_rate_per_minute": 100000,
        "conversions": True,
    },
]


revision: str = "cfc9557ad706"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "click_events",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("domain", sa.String(length=190), nullable=False),
        sa.Column("key", sa.String(length=190), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=128), nullable=False),
        sa.Column("continent", sa.String(length=2), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("browser_version", sa.String(length=32), nullable=False),
        sa.Column("os", sa.String(length=64), nullable=False),
        sa.Column("os_version", sa.String(length=32), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("ua", sa.Text(), nullable=False),
        sa.Column("referer", sa.String(length=255), nullable=False),
        sa.Column("referer_url", sa.Text(), nullable=False),
        sa.Column("identity_hash", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_events")),
    )
    with op.batch_alter_table("click_events", schema=None) as batch_op:
        batch_op.create_index("ix_click_events_identity_hash", ["identity_hash"], unique=False)
        batch_op.create_index(
            "ix_click_events_link_id_timestamp", ["link_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_click_events_workspace_id_timestamp", ["workspace_id", "timestamp"], unique=False
        )

    plans = op.create_table(
        "plans",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("links_per_month", sa.Integer(), nullable=False),
        sa.Column("events_per_month", sa.Integer(), nullable=False),
        sa.Column("analytics_days", sa.Integer(), nullable=True),
        sa.Column("api_rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("conversions", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_plans")),
    )
    op.bulk_insert(plans, PLANS)
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("allowed_hostnames", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan"], ["plans.name"], name=op.f("fk_workspaces_plan_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("slug", name=op.f("uq_workspaces_slug")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("partial_key", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "domains",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=190), nullable=False),
        sa.Column("not_found_url", sa.Text(), nullable=True),
        sa.Column("expired_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_domains_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("slug", name=op.f("uq_domains_slug")),
    )
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domains_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("domain", sa.String(length=190), nullable=False),
        sa.Column("key", sa.String(length=190), nullable=False),
        sa.Column("key_lower", sa.String(length=190), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("track_conversion", sa.Boolean(), nullable=False),
        sa.Column("external_id", sa.String(length=190), nullable=True),
        sa.Column("tenant_id", sa.String(length=190), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("utm_source", sa.String(length=190), nullable=True),
        sa.Column("utm_medium", sa.String(length=190), nullable=True),
        sa.Column("utm_campaign", sa.String(length=190), nullable=True),
        sa.Column("utm_term", sa.String(length=190), nullable=True),
        sa.Column("utm_content", sa.String(length=190), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_url", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("ios", sa.Text(), nullable=True),
        sa.Column("android", sa.Text(), nullable=True),
        sa.Column("geo", sa.JSON(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("leads", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("sale_amount", sa.BigInteger(), nullable=False),
        sa.Column("last_clicked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_links_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_links_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("domain", "key_lower", name=op.f("uq_links_domain_key_lower")),
        sa.UniqueConstraint(
            "workspace_id", "external_id", name=op.f("uq_links_workspace_id_external_id")
        ),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_links_workspace_id_created_at", ["workspace_id", "created_at"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_memberships_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "workspace_id", name=op.f("pk_memberships")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_tags_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_tags_workspace_id_name")),
    )
    op.create_table(
        "link_tags",
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("tag_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_link_tags_link_id_links"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_link_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("link_id", "tag_id", name=op.f("pk_link_tags")),
    )


def downgrade() -> None:
    op.drop_table("link_tags")
    op.drop_table("tags")
    op.drop_table("memberships")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index("ix_links_workspace_id_created_at")
        batch_op.drop_index(batch_op.f("ix_links_tenant_id"))

    op.drop_table("links")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domains_workspace_id"))

    op.drop_table("domains")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_workspace_id"))

    op.drop_table("api_keys")
    op.drop_table("workspaces")
    op.drop_table("users")
    op.drop_table("plans")
    with op.batch_alter_table("click_events", schema=None) as batch_op:
        batch_op.drop_index("ix_click_events_workspace_id_timestamp")
        batch_op.drop_index("ix_click_events_link_id_timestamp")
        batch_op.drop_index("ix_click_events_identity_hash")

    op.drop_table("click_events")

"""The SQL events store's tables: one row per recorded click (leads and sales follow)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from codeqr.kit.db import Base

click_events = Table(
    "click_events",
    Base.metadata,
    Column("id", String(16), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("link_id", String(40), nullable=False),
    Column("domain", String(190), nullable=False),
    Column("key", String(190), nullable=False),
    Column("url", Text, nullable=False),
    Column("trigger", String(8), nullable=False),
    Column("country", String(2), nullable=False),
    Column("region", String(64), nullable=False),
    Column("city", String(128), nullable=False),
    Column("continent", String(2), nullable=False),
    Column("device", String(32), nullable=False),
    Column("browser", String(64), nullable=False),
    Column("browser_version", String(32), nullable=False),
    Column("os", String(64), nullable=False),
    Column("os_version", String(32), nullable=False),
    Column("engine", String(32), nullable=False),
    Column("ua", Text, nullable=False),
    Column("referer", String(255), nullable=False),
    Column("referer_url", Text, nullable=False),
    Column("identity_hash", String(32), nullable=False),
    Column("ip", String(64), nullable=True),
    # Links are deleted while their clicks stay for analytics, so no foreign key here.
    Index("ix_click_events_workspace_id_timestamp", "workspace_id", "timestamp"),
    Index("ix_click_events_link_id_timestamp", "link_id", "timestamp"),
    # The one-hour dedupe asks "has this visitor clicked lately?" when memory cannot answer.
    Index("ix_click_events_identity_hash", "identity_hash"),
)

"""Daily click rollups: clicks counted per UTC day and breakdown value, so a long range reads
a few thousand rows instead of every click (SQLite, the embedded default; see ``rollup``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from codeqr.kit.db import Base

click_rollups = Table(
    "click_rollups",
    Base.metadata,
    Column("workspace_id", String(40), nullable=False),
    # The UTC day's first millisecond.
    Column("day", BigInteger, nullable=False),
    # Which click columns value1… hold, in ``rollup.DIMENSIONS`` order ('' past the last).
    Column("dimension", String(16), nullable=False),
    Column("value1", Text, nullable=False),
    Column("value2", Text, nullable=False),
    Column("value3", Text, nullable=False),
    Column("value4", Text, nullable=False),
    Column("clicks", Integer, nullable=False),
    # No unique key: urls are too long for a PostgreSQL b-tree key. A day's rows are
    # replaced whole (delete, then insert one GROUP BY), so they stay distinct.
    Index("ix_click_rollups_workspace_id_dimension_day", "workspace_id", "dimension", "day"),
)

click_rollup_marks = Table(
    "click_rollup_marks",
    Base.metadata,
    Column("workspace_id", String(40), primary_key=True),
    # Days before this instant (a UTC midnight) are rolled up.
    Column("rolled_until", BigInteger, nullable=False),
    # The rollups count every click stored up to this SQLite rowid and none past it.
    Column("row_cursor", BigInteger, nullable=False),
    # The id of the click at row_cursor: another id there means the rowids changed
    # (VACUUM renumbers them) and the cursor no longer means anything.
    Column("cursor_click_id", String(16), nullable=True),
)

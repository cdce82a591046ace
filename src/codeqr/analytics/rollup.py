"""Daily click rollups, kept up to date beside the writes (SQLite, the embedded default).

A background worker counts every completed UTC day's clicks per breakdown value into
``click_rollups``; the redirect path writes clicks exactly as before. What makes the rollups
safe to read is the click table's rowid, which SQLite hands out in commit order (one writer
at a time): each workspace's mark says "days before ``rolled_until`` count every click up to
rowid ``row_cursor``". A click stored later for an old day (a late commit, an import) sits
past the cursor, so readers see it and read that day raw (``rollup_query``) until the next
refresh recounts it. PostgreSQL has no such order and is left to the raw queries.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    ColumnClause,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from codeqr.analytics.models import click_rollup_marks, click_rollups
from codeqr.analytics.timeframe import DAY_MS
from codeqr.events.models import click_events
from codeqr.kit.clock import now_ms as clock_ms
from codeqr.kit.db import Database

log = structlog.get_logger(__name__)

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "trigger": ("trigger",),
    "continent": ("continent",),
    "device": ("device",),
    "os": ("os",),
    "browser": ("browser",),
    "country": ("country",),
    "referer": ("referer",),
    "region": ("country", "region"),
    "city": ("country", "region", "city"),
    "link": ("link_id", "domain", "key", "url"),
    "referer_url": ("referer_url",),
}
"""Each rollup's click columns (held in ``value1``…), fewest rows per day first: a query
reads the first one that has every column it groups or filters by."""
SETTLE_MS = 3_600_000
"""A day is rolled up once it ended this long ago (a late commit then costs no recount)."""
DAYS_PER_STEP = 31
"""Days counted per workspace and write transaction: the write lock stays short."""
click_rowid: ColumnClause[int] = literal_column("click_events.rowid", BigInteger)


def day_of(ms: int) -> int:
    """The first millisecond of the UTC day holding ``ms``."""
    return ms - ms % DAY_MS


@dataclass
class _Plan:
    """What one step writes for one workspace."""

    until: int
    days: list[tuple[int, int]] = field(default_factory=list)
    """``[from, to)`` ranges of days to count afresh."""
    drop_from: int | None = None
    """Drop every rollup from this day on first (too many old days changed)."""
    rows: list[dict[str, Any]] = field(default_factory=list)


def refresh(db: Database, now_ms: int | None = None, stop: threading.Event | None = None) -> int:
    """Roll up every completed day not yet rolled up, and recount days that gained clicks
    since; how many workspace-days were counted. A no-op off SQLite; ``stop`` ends it
    between two steps."""
    if not db.is_sqlite:
        return 0
    now_ms = now_ms if now_ms is not None else clock_ms()
    total = 0
    while counted := _step(db, day_of(now_ms - SETTLE_MS)):
        total += counted
        if stop is not None and stop.is_set():
            break
    return total


def rebuild(db: Database, now_ms: int | None = None) -> int:
    """Drop every rollup and count them all again."""
    with db.transaction() as session:
        session.execute(delete(click_rollups))
        session.execute(delete(click_rollup_marks))
    return refresh(db, now_ms)


def _step(db: Database, complete_before: int) -> int:
    # Read, then write in a short transaction of its own. The reads are not one snapshot:
    # a count may take in clicks stored after ``top`` was read, which is harmless, as they
    # sit past the new cursor (readers read their day raw; the next step recounts it).
    with db.transaction() as session:
        marks = {row.workspace_id: row for row in session.execute(select(click_rollup_marks)).all()}
        cursor = max((int(m.row_cursor) for m in marks.values()), default=0)
        reset = bool(marks) and _cursor_moved(session, cursor, marks)
        if reset:
            marks, cursor = {}, 0
        last = session.execute(
            select(click_rowid, click_events.c.id).order_by(click_rowid.desc()).limit(1)
        ).first()
        top, top_id = (int(last[0]), str(last[1])) if last else (0, None)
        touched: dict[str, set[int]] = defaultdict(set)
        if top > cursor:
            ts = click_events.c.timestamp
            new = select(click_events.c.workspace_id, ts - ts % DAY_MS).where(
                click_rowid > cursor, click_rowid <= top
            )
            for workspace_id, day in session.execute(new.distinct()).all():
                touched[workspace_id].add(int(day))
        plans: dict[str, _Plan] = {}
        for workspace_id in marks.keys() | touched.keys():
            mark = marks.get(workspace_id)
            plan = _plan(
                int(mark.rolled_until) if mark else min(touched[workspace_id]),
                touched.get(workspace_id, set()),
                complete_before,
            )
            for lo, hi in plan.days:
                plan.rows.extend(_count(session, workspace_id, lo, hi))
            plans[workspace_id] = plan
    counted = sum((hi - lo) // DAY_MS for p in plans.values() for lo, hi in p.days)
    if not counted and top == cursor and not reset:
        return 0
    with db.transaction() as session:
        now = session.execute(select(func.max(click_rollup_marks.c.row_cursor))).scalar()
        if not reset and int(now or 0) != cursor:
            return 0  # another process refreshed meanwhile: its answer stands
        if reset:
            session.execute(delete(click_rollups))
            session.execute(delete(click_rollup_marks))
        for workspace_id, plan in plans.items():
            _write(session, workspace_id, plan, workspace_id in marks)
        session.execute(update(click_rollup_marks).values(row_cursor=top, cursor_click_id=top_id))
    log.info("analytics.rollup.refreshed", days=counted, cursor=top, reset=reset)
    return counted


def _cursor_moved(session: Session, cursor: int, marks: dict[str, Any]) -> bool:
    if cursor == 0:
        return False
    expected = next(m.cursor_click_id for m in marks.values() if int(m.row_cursor) == cursor)
    found = session.scalar(select(click_events.c.id).where(click_rowid == cursor))
    return bool(found != expected)


def _plan(until: int, touched: set[int], complete_before: int) -> _Plan:
    plan = _Plan(until)
    late = sorted(d for d in touched if d < until)
    if len(late) > DAYS_PER_STEP:
        # Recounting day by day would take longer than counting on from the first one.
        plan.drop_from = plan.until = until = late[0]
        late = []
    plan.days = [(d, d + DAY_MS) for d in late]
    end = min(complete_before, until + DAYS_PER_STEP * DAY_MS)
    if end > until:
        plan.days.append((until, end))
        plan.until = end
    return plan


def _count(session: Session, workspace_id: str, lo: int, hi: int) -> list[dict[str, Any]]:
    """Rollup rows of every dimension for the days in ``[lo, hi)``."""
    c = click_events.c
    day = (c.timestamp - c.timestamp % DAY_MS).label("day")
    rows: list[dict[str, Any]] = []
    for name, columns in DIMENSIONS.items():
        cols = [c[column] for column in columns]
        query = (
            select(day, *cols, func.count())
            .where(c.workspace_id == workspace_id, c.timestamp >= lo, c.timestamp < hi)
            .group_by(day, *cols)
        )
        for found in session.execute(query).all():
            values = [*found[1:-1], "", "", ""]
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "day": int(found[0]),
                    "dimension": name,
                    "value1": values[0],
                    "value2": values[1],
                    "value3": values[2],
                    "value4": values[3],
                    "clicks": int(found[-1]),
                }
            )
    return rows


def _write(session: Session, workspace_id: str, plan: _Plan, known: bool) -> None:
    r = click_rollups.c
    mine = r.workspace_id == workspace_id
    if plan.drop_from is not None:
        session.execute(delete(click_rollups).where(mine, r.day >= plan.drop_from))
    for lo, hi in plan.days:
        session.execute(delete(click_rollups).where(mine, r.day >= lo, r.day < hi))
    if plan.rows:
        session.execute(insert(click_rollups), plan.rows)
    if known:
        session.execute(
            update(click_rollup_marks)
            .where(click_rollup_marks.c.workspace_id == workspace_id)
            .values(rolled_until=plan.until)
        )
    else:
        session.execute(
            insert(click_rollup_marks).values(
                workspace_id=workspace_id, rolled_until=plan.until, row_cursor=0
            )
        )


class RollupWorker:
    """Refreshes the rollups at start and then every ``every`` seconds, on a thread of its
    own (SQLite work blocks); off when ``every`` is 0 or the database is not SQLite."""

    def __init__(self, db: Database, every: float) -> None:
        self.db = db
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin refreshing in the background."""
        if self.every <= 0 or not self.db.is_sqlite or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="click-rollups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the refresh under way, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                refresh(self.db, stop=self._stop)
            except Exception:  # a failed refresh leaves the last good rollups in place
                log.exception("analytics.rollup.failed")
            self._stop.wait(self.every)

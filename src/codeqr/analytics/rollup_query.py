"""Reading clicks through the daily rollups: a long range becomes the rollup rows of its
whole UTC days that are rolled up, plus the raw clicks of the rest (the range's partial
edge days in the caller's timezone, recent days, days that gained clicks since).

A rollup answers only what it can answer exactly: a query grouping or filtering by click
columns that one rollup holds, or by the link's tags and columns (through the link id);
anything else (a customer filter) reads the clicks themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from codeqr.analytics import repository as repo
from codeqr.analytics.filters import Filter, Scope
from codeqr.analytics.models import click_rollup_marks, click_rollups
from codeqr.analytics.rollup import DIMENSIONS, click_rowid, day_of
from codeqr.analytics.timeframe import DAY_MS
from codeqr.events.models import click_events

if TYPE_CHECKING:
    from codeqr.analytics.service import Scoped

MIN_ROLLED_MS = 2 * DAY_MS
"""Rollups serve ranges holding at least this much of rolled-up days; shorter ones are
quick to read raw."""

_NEWEST = text(
    "SELECT min(timestamp) FROM click_events NOT INDEXED"
    " WHERE rowid > :cursor AND workspace_id = :workspace_id"
)
Part = tuple[repo.Source, list[Any]]
"""Rows to read and the conditions that pick them."""


@cache
def rolled_source(dimension: str) -> repo.Source:
    """One rollup's rows shaped as clicks are (``timestamp`` the day), counting ``clicks``,
    so ``repository`` queries and filters run on it unchanged."""
    r = click_rollups.c
    names = DIMENSIONS[dimension]
    values = (r[f"value{n}"].label(name) for n, name in enumerate(names, start=1))
    rows = (
        select(r.workspace_id, r.day.label("timestamp"), *values, r.clicks)
        .where(r.dimension == dimension)
        .subquery(f"rolled_{dimension}")
    )
    clicks = func.coalesce(func.sum(rows.c.clicks), 0).label("clicks")
    return repo.Source(repo.Kind.clicks, rows, (clicks,))


def dimension_for(columns: Collection[str], filters: Sequence[Filter]) -> str | None:
    """The rollup holding ``columns`` and every filter's column; ``None`` when none does."""
    needed = set(columns)
    for f in filters:
        scope = f.field.scope
        if scope is Scope.event:
            needed.add(f.field.column)
        elif scope in (Scope.link, Scope.tag):
            needed.add("link_id")
        elif scope is Scope.customer:
            return None  # a click "of" a customer is one click, known by its id
    return next((name for name, held in DIMENSIONS.items() if needed <= set(held)), None)


def rolled_until(session: Session, workspace_id: str) -> int | None:
    """Days before this UTC midnight are rolled up and whole; ``None``: read it all raw."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    m = click_rollup_marks.c
    mark = session.execute(select(click_rollup_marks).where(m.workspace_id == workspace_id)).first()
    if mark is None:
        return None
    cursor = int(mark.row_cursor)
    if cursor:
        found = session.scalar(select(click_events.c.id).where(click_rowid == cursor))
        if found != mark.cursor_click_id:
            return None  # rowids renumbered (VACUUM): the next refresh rebuilds
    # Clicks stored after the last refresh: few (minutes' worth), read by rowid. NOT
    # INDEXED keeps SQLite from walking the workspace's whole timestamp index instead.
    newest = session.scalar(_NEWEST, {"cursor": cursor, "workspace_id": workspace_id})
    until = int(mark.rolled_until)
    return until if newest is None else min(until, day_of(int(newest)))


def _window(
    session: Session, scoped: Scoped, start: int | None, end: int
) -> tuple[int | None, int] | None:
    """``[first, last)``: the rolled-up whole UTC days in ``[start, end)`` (``first`` None:
    from the beginning), or ``None`` when they are too few to be worth it."""
    until = rolled_until(session, scoped.workspace_id)
    if until is None:
        return None
    first = None if start is None else -(-start // DAY_MS) * DAY_MS
    last = min(day_of(end), until)
    if first is not None and last - first < MIN_ROLLED_MS:
        return None
    return first, last


def parts(session: Session, scoped: Scoped, columns: Collection[str]) -> list[Part]:
    """What a clicks query grouping by ``columns`` sums: rollup rows for the range's whole
    rolled-up days and raw clicks around them, or raw clicks alone."""
    raw = repo.source(repo.Kind.clicks)
    tf = scoped.timeframe
    dimension = dimension_for(columns, scoped.filters)
    window = None if dimension is None else _window(session, scoped, tf.start_ms, tf.end_ms)
    if dimension is None or window is None:
        return [(raw, scoped.conditions(raw))]
    first, last = window
    rolled = rolled_source(dimension)
    found = [(rolled, _where(scoped, rolled, first, last))]
    if first is not None and tf.start_ms is not None and tf.start_ms < first:
        found.append((raw, _where(scoped, raw, tf.start_ms, first)))
    if last < tf.end_ms:
        found.append((raw, _where(scoped, raw, last, tf.end_ms)))
    return found


def ranged_parts(
    session: Session, scoped: Scoped, bounds: Sequence[int]
) -> list[tuple[repo.Source, list[Any], list[tuple[int, int, int]]]]:
    """For a time series over ``[bounds[n], bounds[n + 1])``: each source with its untimed
    conditions and its ``(bucket, from, to)`` ranges. A bucket's whole rolled-up UTC days
    come from the rollup; a local-time bucket's edges (New York midnight is 04:00 or 05:00
    UTC) and whatever is not rolled up come raw."""
    raw = repo.source(repo.Kind.clicks)
    everything = [(n, bounds[n], bounds[n + 1]) for n in range(len(bounds) - 1)]
    whole = [(raw, scoped.conditions(raw, timed=False), everything)]
    dimension = dimension_for((), scoped.filters)
    if dimension is None:
        return whole
    window = _window(session, scoped, bounds[0], bounds[-1])
    if window is None:
        return whole
    until = window[1]
    raw_ranges: list[tuple[int, int, int]] = []
    rolled_ranges: list[tuple[int, int, int]] = []
    for n, lo, hi in everything:
        first, last = -(-lo // DAY_MS) * DAY_MS, min(day_of(hi), until)
        if last <= first:
            raw_ranges.append((n, lo, hi))
            continue
        rolled_ranges.append((n, first, last))
        raw_ranges.extend((n, a, b) for a, b in ((lo, first), (last, hi)) if a < b)
    rolled = rolled_source(dimension)
    return [
        (rolled, scoped.conditions(rolled, timed=False), rolled_ranges),
        (raw, scoped.conditions(raw, timed=False), raw_ranges),
    ]


def _where(scoped: Scoped, src: repo.Source, start: int | None, end: int) -> list[Any]:
    return repo.where(
        src, scoped.workspace_id, start, end, scoped.filters, with_test=scoped.with_test
    )

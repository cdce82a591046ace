"""Daily click rollups answer exactly what the raw clicks answer: whole rolled-up UTC days
from the rollups, partial days (edges in New York and Kolkata time) and clicks stored after
a day was rolled up from the clicks themselves, and filters no rollup holds raw."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from codeqr.analytics import rollup
from codeqr.analytics.models import click_rollup_marks, click_rollups
from codeqr.events.models import click_events
from codeqr.kit.db import Database
from codeqr.settings import Settings
from tests.analytics.conftest import Loaded
from tests.analytics.dataset import ms
from tests.analytics.helpers import FULL, analytics
from tests.cli.test_commands import run

ON_SQLITE = pytest.mark.sqlite_only  # rollups need SQLite's rowid order; PostgreSQL reads raw

RANGES: dict[str, dict[str, str]] = {
    "utc": FULL,
    "1y": {"interval": "1y"},
    "all": {"interval": "all"},
    "new_york": {"start": "2026-03-01", "end": "2026-11-10", "timezone": "America/New_York"},
    "kolkata": {
        "start": "2026-02-10T13:45:00",
        "end": "2026-10-31T06:10:00",
        "timezone": "Asia/Kolkata",
    },
    "dst_days": {"start": "2026-03-06", "end": "2026-03-09", "timezone": "America/New_York"},
    "one_day": {"start": "2026-06-15", "end": "2026-06-15", "timezone": "Asia/Kolkata"},
}
GROUP_BYS = (
    "count",
    "timeseries",
    "continents",
    "countries",
    "regions",
    "cities",
    "devices",
    "browsers",
    "os",
    "triggers",
    "referers",
    "referer_urls",
    "top_links",
    "top_urls",
    "utm_sources",
)
SOME = ("count", "timeseries", "cities", "top_links")
FILTERED = ("count", "timeseries", "countries", "cities", "devices", "top_links", "top_urls")


_LATE = itertools.count()


def _filters(loaded: Loaded) -> list[dict[str, str]]:
    links = list(loaded.a.links)
    link = loaded.a.links[links[0]]
    customer = next(iter(loaded.a.customers))
    return [
        {"country": "US"},  # held by the country, region and city rollups
        {"country": "-US,FR", "region": "NY"},
        {"device": "-Mobile"},  # a countries breakdown cannot use it: raw
        {"linkId": f"{links[0]},{links[1]}"},
        {"domain": link["domain"], "key": link["key"]},
        {"tagId": loaded.a.tag_ids[0]},
        {"utm_source": "newsletter"},
        {"qr": "true"},
        {"referer": "google.com"},
        {"customerId": customer},  # no rollup holds the click of a customer: raw
    ]


def cases(loaded: Loaded) -> list[dict[str, str]]:
    found = [{"groupBy": group_by, **span} for group_by in GROUP_BYS for span in RANGES.values()]
    found += [
        {"groupBy": group_by, **RANGES[span], **filters}
        for group_by in FILTERED
        for span in ("new_york", "kolkata")
        for filters in _filters(loaded)
    ]
    composite = [{**case, "event": "composite"} for case in found[:: len(RANGES)]]
    return found + composite


def answers(loaded: Loaded, *, some: bool = False) -> dict[str, Any]:
    """Every case's answer (``some``: a quick subset: every range, a few groupBys)."""
    found = cases(loaded)
    if some:
        found = [case for case in found if case["groupBy"] in SOME]
    return {json.dumps(case, sort_keys=True): analytics(loaded, **case) for case in found}


def db_of(loaded: Loaded) -> Database:
    db: Database = loaded.server.services.db
    return db


@contextmanager
def raw_only(loaded: Loaded) -> Iterator[None]:
    """Queries read every click raw inside (the marks put back after)."""
    db = db_of(loaded)
    with db.transaction() as session:
        marks = [dict(m._mapping) for m in session.execute(select(click_rollup_marks))]
        session.execute(delete(click_rollup_marks))
    try:
        yield
    finally:
        with db.transaction() as session:
            if marks:
                session.execute(insert(click_rollup_marks), marks)


def raw_answers(loaded: Loaded, *, some: bool = False) -> dict[str, Any]:
    with raw_only(loaded):
        return answers(loaded, some=some)


def assert_same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    assert found.keys() == expected.keys()
    wrong = [case for case in expected if found[case] != expected[case]]
    assert not wrong, f"{len(wrong)} answers differ, e.g. {wrong[0]}"


def add_clicks(loaded: Loaded, moments: list[datetime]) -> None:
    """Clicks stored now for past moments (an import, a late commit)."""
    template = dict(loaded.a.clicks[0])
    rows = [
        {**template, "id": f"late{next(_LATE):012d}", "timestamp": ms(moment)} for moment in moments
    ]
    with db_of(loaded).transaction() as session:
        session.execute(insert(click_events), rows)


@ON_SQLITE
def test_rolled_up_answers_equal_raw_answers(loaded: Loaded) -> None:
    """Every groupBy, over UTC, New York and Kolkata ranges with and without filters."""
    expected = raw_answers(loaded)
    assert rollup.refresh(db_of(loaded)) > 0
    assert_same(answers(loaded), expected)
    assert rollup.refresh(db_of(loaded)) == 0  # nothing new: nothing recounted


@ON_SQLITE
def test_long_ranges_read_the_rollups(loaded: Loaded) -> None:
    """Skewing the rollups shows which answers come from them: long unfiltered ranges do;
    a two-day range and a customer filter read the clicks."""
    db = db_of(loaded)
    rollup.refresh(db)
    customer = next(iter(loaded.a.customers))
    short = {"start": "2026-03-07", "end": "2026-03-08", "timezone": "America/New_York"}
    before = {
        "full": analytics(loaded, **FULL)["clicks"],
        "short": analytics(loaded, **short)["clicks"],
        "customer": analytics(loaded, **FULL, customerId=customer)["clicks"],
    }
    skew = update(click_rollups).where(click_rollups.c.dimension == "trigger")
    with db.transaction() as session:
        session.execute(skew.values(clicks=click_rollups.c.clicks + 1000))
    try:
        assert analytics(loaded, **FULL)["clicks"] > before["full"]
        assert analytics(loaded, **short)["clicks"] == before["short"]
        assert analytics(loaded, **FULL, customerId=customer)["clicks"] == before["customer"]
    finally:
        with db.transaction() as session:
            session.execute(skew.values(clicks=click_rollups.c.clicks - 1000))


@ON_SQLITE
def test_clicks_stored_after_their_day_was_rolled_up_count_at_once(loaded: Loaded) -> None:
    """A day that gains clicks is read raw until the next refresh recounts it."""
    db = db_of(loaded)
    rollup.refresh(db)
    add_clicks(loaded, [datetime(2026, 6, 10, 12, tzinfo=UTC), datetime(2026, 8, 2, tzinfo=UTC)])
    expected = raw_answers(loaded, some=True)
    assert_same(answers(loaded, some=True), expected)
    assert rollup.refresh(db) == 2  # the two days, recounted
    assert_same(answers(loaded, some=True), expected)


@ON_SQLITE
def test_many_late_days_roll_up_again_from_the_first(loaded: Loaded) -> None:
    """More late days than a step recounts one by one: everything from the first is redone."""
    db = db_of(loaded)
    rollup.refresh(db)
    days = rollup.DAYS_PER_STEP + 9
    add_clicks(loaded, [datetime(2026, 2, 1 + n % 28, n % 24, tzinfo=UTC) for n in range(days)])
    add_clicks(loaded, [datetime(2026, 4 + n // 28, 1 + n % 28, tzinfo=UTC) for n in range(days)])
    expected = raw_answers(loaded, some=True)
    assert_same(answers(loaded, some=True), expected)
    assert rollup.refresh(db) > days
    assert_same(answers(loaded, some=True), expected)


@ON_SQLITE
def test_renumbered_rowids_are_noticed_and_rolled_up_again(loaded: Loaded) -> None:
    """VACUUM may renumber the rowids the marks point at: read raw, then rebuild."""
    db = db_of(loaded)
    rollup.refresh(db)
    expected = raw_answers(loaded, some=True)
    with db.transaction() as session:
        session.execute(update(click_rollup_marks).values(cursor_click_id="moved"))
        session.execute(update(click_rollups).values(clicks=click_rollups.c.clicks + 7))
    assert_same(answers(loaded, some=True), expected)
    assert rollup.refresh(db) > 0
    with db.engine.connect() as conn:
        cursor = conn.execute(select(click_rollup_marks.c.cursor_click_id)).scalars().all()
    assert "moved" not in cursor
    assert_same(answers(loaded, some=True), expected)


@pytest.mark.postgres  # the SQLite run deselects it (make test)
def test_postgresql_reads_raw(loaded: Loaded) -> None:
    """No rowid order on PostgreSQL: no rollups, the answers unchanged."""
    expected = answers(loaded)
    assert rollup.refresh(db_of(loaded)) == 0
    with db_of(loaded).engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM click_rollups")).scalar() == 0
    assert_same(answers(loaded), expected)


def test_cli_rolls_up(settings: Settings) -> None:
    """``codeqr analytics rollup [--all]`` brings the rollups up to date."""
    assert "rolled up 0 workspace-days" in run(settings, "analytics", "rollup").stdout
    assert "rolled up 0 workspace-days" in run(settings, "analytics", "rollup", "--all").stdout

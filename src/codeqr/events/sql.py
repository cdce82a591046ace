"""The events store on the relational database (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter

from sqlalchemy import Connection, func, select

from codeqr.events.models import click_events
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms
from codeqr.kit.db import Database

_CLICK_COLUMNS = [f.name for f in fields(Click)]
_click_row = attrgetter(*_CLICK_COLUMNS)


class SqlEventsStore:
    """Events in the same database as links, so a click and its counter commit together."""

    def __init__(self, db: Database) -> None:
        self.db = db
        placeholder = self._mark = "?" if db.is_sqlite else "%s"
        cols = ", ".join(f'"{c}"' for c in _CLICK_COLUMNS)
        marks = ", ".join(placeholder for _ in _CLICK_COLUMNS)
        self._insert_clicks = f"INSERT INTO click_events ({cols}) VALUES ({marks})"
        self._bump_link = (
            f"UPDATE links SET clicks = clicks + {placeholder}, "
            f"last_clicked = {placeholder} WHERE id = {placeholder}"
        )

    def write_clicks(self, clicks: Sequence[Click]) -> None:
        """Insert the clicks and add them to their links' counters in one transaction."""
        with self.db.engine.begin() as conn:
            self._insert(conn, clicks)

    def write_clicks_once(
        self, clicks: Sequence[Click], since_ms: int
    ) -> dict[str, tuple[str, int]]:
        """Insert the clicks that are not repeats of a click within the window."""
        if not clicks:
            return {}
        repeats: dict[str, tuple[str, int]] = {}
        with self.db.engine.begin() as conn:
            earlier: dict[tuple[str, str], tuple[str, int]] = {}
            identities = list({c.identity_hash for c in clicks})
            for start in range(0, len(identities), 500):
                chunk = identities[start : start + 500]
                marks = ", ".join(self._mark for _ in chunk)
                rows = conn.exec_driver_sql(
                    "SELECT identity_hash, link_id, id, timestamp FROM click_events "
                    f"WHERE identity_hash IN ({marks}) AND timestamp >= {self._mark} "
                    "ORDER BY timestamp",
                    (*chunk, since_ms),
                ).all()
                for ident, link_id, click_id, ts in rows:
                    earlier.setdefault((ident, link_id), (click_id, ts))
            fresh: list[Click] = []
            for click in clicks:
                pair = (click.identity_hash, click.link_id)
                if pair in earlier:
                    repeats[click.id] = earlier[pair]
                else:
                    earlier[pair] = (click.id, click.timestamp)
                    fresh.append(click)
            self._insert(conn, fresh)
        return repeats

    def _insert(self, conn: Connection, clicks: Sequence[Click]) -> None:
        if not clicks:
            return
        per_link = Counter(c.link_id for c in clicks)
        last = {c.link_id: c.timestamp for c in clicks}
        bumps: list[tuple[int, object, str]] = []
        for link_id, n in per_link.items():
            when = from_ms(last[link_id])
            # SQLite keeps datetimes as text: bind them the way SQLAlchemy writes them.
            bound = when.strftime("%Y-%m-%d %H:%M:%S.%f") if self.db.is_sqlite else when
            bumps.append((n, bound, link_id))
        conn.exec_driver_sql(self._insert_clicks, [_click_row(c) for c in clicks])
        conn.exec_driver_sql(self._bump_link, bumps)

    def get_click(self, click_id: str) -> Click | None:
        """A click by id."""
        with self.db.engine.connect() as conn:
            row = conn.execute(select(click_events).where(click_events.c.id == click_id)).first()
        return Click(*row) if row else None

    def count_clicks(self, *, link_id: str) -> int:
        """Stored clicks of one link."""
        with self.db.engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(click_events)
                    .where(click_events.c.link_id == link_id)
                )
                or 0
            )
